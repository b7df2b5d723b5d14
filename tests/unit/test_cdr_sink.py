"""What the edge refuses before a call is sealed or packed with others (``CdrSink.unsendable``,
``streams/edge/cdr_sink.py``): a value the log's encoding cannot hold is that call's own dead
letter, never an error that fails a file, a followed feed or the calls sharing its envelope."""

from __future__ import annotations

from dataclasses import replace

import pytest

from projections.events import CallDetailRecord, Disposition
from streams.config.settings import Settings
from streams.edge.cdr_sink import CdrSink

T0 = 1_790_812_800_000
CALL = CallDetailRecord("e1", "carrier-a", "k1", "acct-1", "+15550001234", "+447700900123", T0, T0 + 1_000,
                        T0 + 61_000, Disposition.ANSWERED)


@pytest.fixture
def sink(tmp_path):
    return CdrSink(replace(Settings(), seal_personal_data=False, subscriber_keys_dir=str(tmp_path / "keys")))


def test_a_call_the_log_can_hold_is_sendable(sink):
    assert sink.unsendable(CALL) is None
    assert sink.unsendable(replace(CALL, callee="+4477009001\u00e9", trunk="\U0001f4de")) is None  # any Unicode text


@pytest.mark.parametrize("change", [{"call_id": "k-\ud800"}, {"trunk": "\udfff"}, {"caller": "+1555\udc80"},
                                    {"revision": 2**70}],
                         ids=["lone-high-surrogate", "lone-low-surrogate", "surrogate-escape", "past-64-bits"])
def test_a_value_the_encoding_refuses_is_the_calls_own_dead_letter(sink, change):
    rejected = sink.unsendable(replace(CALL, **change))
    assert rejected is not None and rejected.code == "unencodable"
    assert sink.refusal(replace(CALL, **change)).code == "unencodable"  # files and followed feeds too


class Envelopes:
    """Records the groups ``CallBatcher`` hands to the sink (the broker's side is tested in
    tests/integration/test_live_ingest.py)."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []

    async def calls(self, cdrs, sealed: bool) -> None:  # noqa: ANN001
        self.groups.append([c.call_id for c in cdrs])

    async def flush(self) -> None:
        pass


@pytest.mark.parametrize("linger_ms, expected", [(60, [["a", "b", "c"]]), (0, [["a"], ["b"], ["c"]])])
def test_receiver_linger_ms_decides_which_live_calls_share_an_envelope(linger_ms, expected):
    """Three calls posted 10 ms apart: within a 60 ms linger they share one envelope; with
    ``receiver_linger_ms`` 0 each leaves alone, in its own event-loop turn."""
    import asyncio

    from streams.edge.cdr_sink import CallBatcher

    async def post_three(batcher: CallBatcher) -> None:
        async def post(call_id: str, after_s: float) -> None:
            await asyncio.sleep(after_s)
            await batcher.send(replace(CALL, call_id=call_id))
        await asyncio.gather(post("a", 0), post("b", 0.01), post("c", 0.02))

    envelopes = Envelopes()
    asyncio.run(post_three(CallBatcher(envelopes, Settings(receiver_linger_ms=linger_ms).receiver_linger_ms / 1000)))
    assert envelopes.groups == expected

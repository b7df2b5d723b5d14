"""What the edge refuses before a call is sealed or packed with others (``CdrSink.unsendable``,
``streams/edge/cdr_sink.py``): a value the log's encoding cannot hold is that call's own dead
letter, never an error that fails a file, a followed feed or the calls sharing its envelope."""

from __future__ import annotations

import asyncio
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

    async def calls(self, cdrs, sealed: bool) -> list:  # noqa: ANN001
        self.groups.append([c.call_id for c in cdrs])
        return []

    async def acknowledged(self, sends: list) -> None:
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


class Broker:
    """The producer's side of the sink, answering each send when the test says (the real broker's
    answers are tested in tests/integration/test_live_ingest.py). Its second send waits for
    ``room``: aiokafka's ``send`` may wait too (for metadata, for buffer room), and requests run
    meanwhile."""

    def __init__(self) -> None:
        self.sent: list[asyncio.Future] = []
        self.sends = 0
        self.room: asyncio.Future | None = None

    async def send(self, topic, key, value, partition=None):  # noqa: ANN001, ANN201
        loop = asyncio.get_running_loop()
        self.sends += 1
        if self.sends == 2:
            self.room = loop.create_future()
            await self.room
        self.sent.append(loop.create_future())
        return self.sent[-1]

    async def flush(self) -> None:  # aiokafka's flush waits for every send, and raises for none
        await asyncio.gather(*self.sent, return_exceptions=True)


def test_a_send_the_broker_refused_is_answered_to_its_own_request_never_to_another():
    """Two live calls (two envelopes) and a rejected record posted meanwhile: the broker refuses
    the first envelope and takes the rest. The switches that posted the calls hear the failure
    (a 503: they post again); the one whose record was dead-lettered hears that it was. With one
    ``flush`` shared by all, the dead letter's request took the first envelope's send and its
    failure, and the calls were answered as on the log when one was not."""
    from aiokafka.errors import KafkaTimeoutError
    from aiokafka.structs import RecordMetadata

    from streams.edge.cdr import CdrRejected
    from streams.edge.cdr_sink import CallBatcher
    from streams.kafka.partitioning import partition_for

    other = next(a for a in (f"acct-{n}" for n in range(2, 99)) if partition_for(a, 4) != partition_for("acct-1", 4))

    def on_log(offset: int) -> RecordMetadata:
        return RecordMetadata("t", 0, None, offset, -1, 0, 0)

    async def post(sink: CdrSink, broker: Broker) -> list[object]:
        batcher = CallBatcher(sink, 0.0)
        calls = [asyncio.create_task(batcher.send(replace(CALL, call_id=k, account_id=a)))
                 for k, a in (("k1", "acct-1"), ("k2", other))]
        while broker.room is None:  # the first envelope is sent, the second waits for room
            await asyncio.sleep(0)
        letter = await sink.reject("http:c", 3, "{}", CdrRejected("bad_json", "not a CDR"))
        answer = asyncio.create_task(sink.acknowledged([letter]))
        await asyncio.sleep(0)
        broker.room.set_result(None)
        while len(broker.sent) < 3:
            await asyncio.sleep(0)
        first, dead_letter, second = broker.sent  # in the order they were sent
        first.set_exception(KafkaTimeoutError())
        dead_letter.set_result(on_log(7))
        second.set_result(on_log(8))
        return await asyncio.gather(*calls, answer, return_exceptions=True)

    sink, broker = CdrSink(replace(Settings(), seal_personal_data=False)), Broker()
    sink._producer = broker
    call_1, call_2, letter = asyncio.run(post(sink, broker))
    assert isinstance(call_1, KafkaTimeoutError) and isinstance(call_2, KafkaTimeoutError)  # 503: posted again
    assert letter is None  # the dead letter's request: 422, its record on the dead-letter topic

"""Sealed CDRs opened in a process beside the fold (``streams/worker/opening.py``, issue 22,
R32): the batch path gives byte for byte what it gives when the worker opens them itself, on
generated streams and on the cases that matter to R32 (an erased subscriber, a token that does
not open, an erasure folded between two batches), and a process that dies ends the batch
instead of turning records into dead letters."""

from __future__ import annotations

import signal
from dataclasses import replace

import pytest

from projections.account import FoldSettings
from projections.events import AccountOpened, SubscriberErasureRequested
from streams.clickhouse.call_log import CALL_LOG_COLUMNS
from streams.edge.sealing import Opener, Sealer, SubscriberKeys
from streams.worker.containment import fold_contained
from streams.worker.opening import OpeningFailed, OpeningProcess
from streams.kafka.partitioning import partition_for
from streams.worker.processor import BatchProcessor, InMessage
from tests.unit.compiled_digest import digest
from tests.unit.test_sealing import ACCT, CALL, CARD, T0, _process, codec

FOLD = FoldSettings(rate_cards=(CARD,))
OUTPUTS = ("states", "call_rows", "journal_rows", "entries", "rated_calls", "dead_letters", "dead_letter_rows",
           "calls_ended", "erased", "counts")


def _alternating():  # noqa: ANN202 - a ready() that says yes, then no, then yes...
    said = [False]

    def ready() -> bool:
        said[0] = not said[0]
        return said[0]
    return ready


# Whether a chunk's reply counts as back when the worker routes it: always (the worker waits
# for it), never (the worker opens every CDR itself and drops the replies), or every other time.
POLICIES = {"waits": lambda: (lambda: True), "opens_itself": lambda: (lambda: False), "alternates": _alternating}


@pytest.fixture(params=["waits"])
def opening(request, tmp_path):
    process = OpeningProcess(str(tmp_path / "keys"), chunk_cdrs=1)  # a chunk a CDR: a batch of one goes too
    process.ready = POLICIES[request.param]()
    yield process
    process.close()


def _policies(*names: str):  # noqa: ANN202 - a parametrisation of the fixture above
    return pytest.mark.parametrize("opening", names, indirect=True)


def _outputs(result) -> dict:  # noqa: ANN001 - a BatchResult
    return {name: getattr(result, name) for name in OUTPUTS}


@_policies("waits", "opens_itself", "alternates")
@pytest.mark.parametrize("seed", [3, 4])
def test_generated_streams_give_the_same_digest_opened_beside_the_fold(tmp_path, opening, seed):
    """Envelopes and single CDRs, duplicates, conflicts, corrections, erasures, junk bytes, in
    batches of 1 to 400 messages: every state, row, output and dead letter the same."""
    keys = str(tmp_path / "keys")
    assert digest(seed, keys, opening) == digest(seed, keys)


def _mixed(keys: SubscriberKeys) -> list:
    """Calls of three subscribers: one erased (the callee stars, the caller empty), one whose
    callee was sealed for another account (does not open: a dead letter), one as it should be
    but for a call dated 1970 (out of bounds: a dead letter before its opening is looked at)."""
    sealer = Sealer(keys, 6)
    events = []
    for n, acct in enumerate(("acct-7", "acct-8", "acct-9")):
        events.append(sealer.seal_event(AccountOpened(f"o{n}", acct, T0 - 1, "USD", "basic", "prepaid", ())))
        for i in range(3):
            events.append(sealer.seal_event(replace(CALL, event_id=f"e{n}{i}", call_id=f"k{n}{i}", account_id=acct,
                                                    start_at_ms=T0 + i, answer_at_ms=T0 + i + 1,
                                                    caller=f"+1555000{n}{i}00", callee=f"+4477009001{n}{i}")))
    wrong = sealer.seal_event(replace(CALL, account_id="acct-9")).callee
    events[6] = replace(events[6], callee=wrong)  # acct-8's second call
    events[9] = replace(events[9], start_at_ms=1)  # acct-9's first call
    return events


@_policies("waits", "opens_itself", "alternates")
def test_R32_erased_and_unopenable_tokens_come_out_as_the_worker_itself_gives_them(tmp_path, opening):
    keys = SubscriberKeys(tmp_path / "keys")
    events = _mixed(keys)
    keys.erase("acct-7")
    beside = _process(BatchProcessor(codec, FOLD, 1, Opener(keys), opening=opening), events, {})
    alone = _process(BatchProcessor(codec, FOLD, 1, Opener(keys)), events, {})
    assert _outputs(beside) == _outputs(alone)
    rows = [dict(zip(CALL_LOG_COLUMNS, row)) for row in beside.call_rows]
    assert [(r["account_id"], r["caller"], r["callee"]) for r in rows] == \
        [("acct-7", "", "447" + "*" * 10)] * 3 + [("acct-8", "+15550001000", "+447700900110"),
                                                  ("acct-8", "+15550001200", "+447700900112"),
                                                  ("acct-9", "+15550002100", "+447700900121"),
                                                  ("acct-9", "+15550002200", "+447700900122")]
    unreadable, dated = [codec.decode_dead_letter(v) for _, v in beside.dead_letters]
    assert unreadable["reason_code"] == "sealed_unreadable" and "acct-8" in unreadable["reason"]
    assert dated["reason_code"] == "time_out_of_range"


@_policies("waits", "opens_itself")
def test_R32_an_erasure_folded_reaches_the_process_before_the_next_batch_opens(tmp_path, opening):
    """The subscriber's key leaves the process's cache when the worker folds the erasure, not
    after the cache's 30 s: their next call is written anonymised though it opened a moment ago."""
    keys = SubscriberKeys(tmp_path / "keys")
    sealer = Sealer(keys, 6)
    opened = AccountOpened("o", ACCT, T0 - 1, "USD", "basic", "prepaid", ())
    erasure = SubscriberErasureRequested("erase:1", ACCT, T0 + 90_000, "dsar-1")
    processor, states = BatchProcessor(codec, FOLD, 4, Opener(keys), opening=opening), {}
    first = _process(processor, sealer.seal_events([opened, CALL, erasure]), states)
    assert [r[CALL_LOG_COLUMNS.index("callee")] for r in first.call_rows] == ["+447700900123"]
    later = sealer.seal_event(replace(CALL, event_id="e2", call_id="k2", start_at_ms=T0 + 100_000,
                                      answer_at_ms=T0 + 100_001, end_at_ms=T0 + 160_000))
    keys.erase(ACCT)
    message = InMessage("events", partition_for(ACCT, 4), 3, 2**62, codec.encode(later))  # after the first three
    second = processor.process([message], states.get)
    assert [r[CALL_LOG_COLUMNS.index("callee")] for r in second.call_rows] == ["447" + "*" * 10]


def test_openings_left_unread_by_a_batch_that_failed_are_not_taken_by_the_next(tmp_path, opening):
    keys = SubscriberKeys(tmp_path / "keys")
    events = [e for e in _mixed(keys) if not isinstance(e, AccountOpened)]
    taken = opening.open_calls(iter([events] * 100))  # four chunks
    assert next(taken) == ("+15550000000", "+447700900100")  # then its routing raised
    again = list(opening.open_calls(iter([events[7:], events[:1]])))
    assert again == [("+15550002100", "+447700900121"), ("+15550002200", "+447700900122"),
                     ("+15550000000", "+447700900100")]


def test_a_dead_opening_process_ends_the_batch_and_is_not_taken_for_a_bad_record(tmp_path, opening):
    keys = SubscriberKeys(tmp_path / "keys")
    events = _mixed(keys)
    processor = BatchProcessor(codec, FOLD, 1, Opener(keys), opening=opening)
    _process(processor, events[:2], {})  # started, and answering
    assert opening._process is not None and opening._process.poll() is None
    opening._process.kill()
    opening._process.wait()
    messages = [InMessage("events", 0, i, 2**62, codec.encode(e)) for i, e in enumerate(events)]
    with pytest.raises(OpeningFailed, match="gone"):
        fold_contained(processor, codec, messages, {}.get, lambda at_ms: ())


def test_a_batch_of_less_than_a_chunk_is_opened_by_the_worker_alone(tmp_path):
    keys = SubscriberKeys(tmp_path / "keys")
    events = [e for e in _mixed(keys) if not isinstance(e, AccountOpened)]
    opening = OpeningProcess(str(tmp_path / "keys"), chunk_cdrs=4)
    try:
        assert opening.open_calls(iter([events[:2], events[2:3]])) is None
        assert opening._process is None, "nothing was sent"
        opening.ready = lambda: True  # waits for each chunk
        *opened, unopenable = opening.open_calls(iter([events[:2], events[2:5]]))  # a chunk, then one more
        assert opened == [("+15550000000", "+447700900100"), ("+15550000100", "+447700900101"),
                          ("+15550000200", "+447700900102"), ("+15550001000", "+447700900110")]
        assert "no key" in unopenable and "acct-8" in unopenable  # sealed with acct-9's key
    finally:
        opening.close()


def test_R32_a_key_erased_from_the_store_is_seen_by_the_process_once_its_ttl_is_past(tmp_path):
    """``subscriber erase`` deletes the key before the worker folds the logged erasure: past
    ``ttl_s`` the process, refreshed at the batch's first chunk, no longer opens with it."""
    keys = SubscriberKeys(tmp_path / "keys")
    sealer = Sealer(keys, 6)
    opening = OpeningProcess(str(tmp_path / "keys"), ttl_s=0.0, chunk_cdrs=1)
    opening.ready = lambda: True
    calls = [sealer.seal_event(replace(CALL, event_id=f"e{i}", call_id=f"k{i}", start_at_ms=T0 + i * 100_000,
                                       answer_at_ms=T0 + i * 100_000 + 1, end_at_ms=T0 + i * 100_000 + 60_000))
             for i in range(2)]
    try:
        assert list(opening.open_calls(iter([calls[:1]]))) == [("+15550001234", "+447700900123")]
        keys.erase(ACCT)
        assert list(opening.open_calls(iter([calls[1:]]))) == [("", None)]
    finally:
        opening.close()


@_policies("waits")
def test_a_key_that_cannot_be_read_fails_in_the_worker_as_before_and_the_process_lives_on(tmp_path, opening):
    """A key file the process cannot read (here a directory: not a SealError) must not end the
    process, which would end the worker on the same record at every replay: the worker opens
    that CDR itself and fails as it always did, and containment dead-letters it."""
    keys = SubscriberKeys(tmp_path / "keys")
    events = _mixed(keys)
    (keys._dir("acct-9") / "current").unlink()
    (keys._dir("acct-9") / "current").mkdir()
    messages = [InMessage("events", 0, i, 2**62, codec.encode(e)) for i, e in enumerate(events)]
    beside = fold_contained(BatchProcessor(codec, FOLD, 1, Opener(keys), opening=opening), codec, messages, {}.get,
                            lambda at_ms: ())
    alone = fold_contained(BatchProcessor(codec, FOLD, 1, Opener(keys)), codec, messages, {}.get, lambda at_ms: ())
    assert _outputs(beside) == _outputs(alone)
    letters = [codec.decode_dead_letter(v) for _, v in beside.dead_letters]
    assert [d["reason_code"] for d in letters].count("unprocessable") == 2  # acct-9's two calls in bounds
    assert opening._process.poll() is None, "the process lives on"


@_policies("waits")
def test_a_stop_signal_to_the_whole_group_leaves_the_process_to_the_worker(tmp_path, opening):
    """Ctrl-C or SIGTERM to the worker's group: the worker drains its batch, which needs the
    process; the process ends when the worker does (its pipe closes), not on the signal."""
    keys = SubscriberKeys(tmp_path / "keys")
    events = [e for e in _mixed(keys) if not isinstance(e, AccountOpened)]
    opening.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        opening._process.send_signal(sig)
    assert list(opening.open_calls(iter([events[:1]])))[0] == ("+15550000000", "+447700900100")
    process = opening._process
    opening.close()  # the worker's end of the pipe closes
    assert process.wait(timeout=10) == 0

"""``BatchCommit`` holds the exactly-once write order, without servers.

Fakes stand in for the producer, ClickHouse and the changelog; what the broker has acknowledged
and what ClickHouse holds survive a "crash", everything in memory does not. The tests prove:

- the order: every output is sent, the rows are inserted, every output is acknowledged, and only
  then are the states written and their acks awaited;
- a failure injected at each step stops the worker with exit 75 through the agent's loop
  (``run_batches``), nothing of that batch is committed, and the restart ends with exactly the
  states, rows and outputs of a run that never failed, and the states of the pure fold (R9: no
  charge lost or doubled).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

import pytest

from projections.account import Positioned, fold_all
from schemas.codec import EventCodec
from streams.config.settings import Settings
from streams.config.settings_epochs import Epochs, epochs_of
from streams.config.settings_record import packed
from streams.dev.simulate import SimulationSpec, simulate
from streams.kafka.producer import plan_messages
from streams.worker.fold_settings import fold_settings_from
from streams.worker.commit import BatchCommit, CommitPlan, OutMessage
from streams.worker.exits import EXIT_BATCH_FAILED, run_batches
from streams.worker.fold_stage import plan_for
from streams.worker.processor import BatchProcessor, InMessage
from streams.worker.state_cache import AccountStates

SETTINGS = Settings(partitions=2, seal_personal_data=False)
FOLD = fold_settings_from(SETTINGS)
CODEC = EventCodec()
LOG_TIME_MS = 2**62  # every event is logged long after it happened: none is "in the future"
STEPS = ("send", "ack", "insert", "put", "flush")


class Injected(RuntimeError):
    """The failure a test injects."""


class Exited(BaseException):
    """What the fake ``os._exit`` raises instead of ending the test process."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def fake_exit(code: int):  # noqa: ANN201 - NoReturn
    raise Exited(code)


@dataclass
class Durable:
    """What survives a crash: acknowledged messages and states, inserted rows, committed offsets."""

    messages: list[OutMessage] = field(default_factory=list)
    rows: dict[str, set[tuple]] = field(default_factory=dict)
    states: dict[bytes, bytes] = field(default_factory=dict)
    committed: int = 0  # the next message of the log to consume


class FakeSender:
    def __init__(self, durable: Durable, fail: str | None, journal: list[str]) -> None:
        self.durable, self.fail, self.journal = durable, fail, journal

    async def send(self, message: OutMessage) -> asyncio.Future:
        if self.fail == "send" and len(self.journal) > 2:
            raise Injected("send")
        self.journal.append(f"send {message.topic}")
        ack: asyncio.Future = asyncio.get_running_loop().create_future()

        def acknowledge() -> None:
            if self.fail == "ack":
                ack.set_exception(Injected("ack"))
                return
            self.durable.messages.append(message)
            self.journal.append(f"ack {message.topic}")
            ack.set_result(None)

        asyncio.get_running_loop().call_later(0.001, acknowledge)
        return ack


class FakeRows:
    def __init__(self, durable: Durable, fail: str | None, journal: list[str]) -> None:
        self.durable, self.fail, self.journal = durable, fail, journal

    async def insert(self, tables, mutations=()) -> None:  # noqa: ANN001 - RowWriter
        if self.fail == "insert":
            raise Injected("insert")
        for table, _, rows in tables:
            self.durable.rows.setdefault(table, set()).update(rows)
        self.journal.append("insert")


class FakeStates:
    """The in-memory table (lost in a crash) and its changelog (durable once flushed). A failed
    flush leaves half of the records acknowledged, as a broker may."""

    def __init__(self, durable: Durable, fail: str | None, journal: list[str]) -> None:
        self.durable, self.fail, self.journal = durable, fail, journal
        self.table = dict(durable.states)
        self.pending: list[tuple[bytes, bytes]] = []

    def put(self, key: bytes, value: bytes) -> None:
        if self.fail == "put":
            raise Injected("put")
        self.journal.append("put")
        self.table[key] = value
        self.pending.append((key, value))

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        if self.fail == "flush":
            self.durable.states.update(pending[:len(pending) // 2])
            raise Injected("flush")
        self.durable.states.update(pending)
        self.journal.append("flush")


def the_log(accounts: int = 12, calls: int = 300) -> list[InMessage]:
    """A simulated stream (openings, payments, calls, ~10% re-sent) as the edge produces it."""
    events = simulate(SimulationSpec(accounts=accounts, calls=calls, days=2, seed=3, duplicate_ratio_percent=10))
    offsets: dict[int, int] = {}
    log = []
    for partition, _, value in plan_messages(events, CODEC, SETTINGS.partitions, envelope_max=20):
        offset = offsets[partition] = offsets.get(partition, -1) + 1
        log.append(InMessage(SETTINGS.events_topic, partition, offset, LOG_TIME_MS, value))
    return log


async def a_worker_process(log: list[InMessage], durable: Durable, fail: str | None = None,
                           fail_in_batch: int = -1, batch_messages: int = 4) -> list[str]:
    """One worker process from start to exit: states recovered from the changelog, then batches
    from the committed offset, each committed only once its loop body has completed."""
    journal: list[str] = []
    batch_no = {"n": 0}
    states_store = FakeStates(durable, None, journal)
    states = AccountStates(states_store.table, CODEC)
    processor = BatchProcessor(CODEC, FOLD, SETTINGS.partitions)

    async def batches():  # noqa: ANN202 - the consumer: offsets are committed after each body
        while durable.committed < len(log):
            end = min(len(log), durable.committed + batch_messages)
            yield log[durable.committed:end]
            durable.committed = end

    async def process(batch: list[InMessage]) -> None:
        failing = fail if batch_no["n"] == fail_in_batch else None
        batch_no["n"] += 1
        states_store.fail = failing
        commit = BatchCommit(FakeSender(durable, failing, journal), FakeRows(durable, failing, journal),
                             states_store)
        result = processor.process(batch, states.load, states.ticked_accounts)
        result.encode_states(CODEC)
        await commit.commit(plan_for(result, SETTINGS))

    await run_batches(batches(), process, "batch", exit_process=fake_exit)
    return journal


def decoded(durable: Durable) -> dict:
    return {k.decode(): CODEC.decode_state(v) for k, v in durable.states.items()}


def the_pure_fold(log: list[InMessage]) -> dict:
    items = []
    for m in log:
        events, _ = CODEC.decode_message(m.value)
        items += [Positioned(f"{m.topic}/{m.partition}", m.offset, i, m.timestamp_ms, e) for i, e in enumerate(events)]
    return fold_all(items, FOLD)


def test_the_order_is_outputs_then_rows_then_acks_then_states():
    journal: list[str] = []
    durable = Durable()
    states = FakeStates(durable, None, journal)
    commit = BatchCommit(FakeSender(durable, None, journal), FakeRows(durable, None, journal), states)
    plan = CommitPlan(messages=[OutMessage("a", b"k", b"1"), OutMessage("b", b"k", b"2", 0)],
                      inserts=[("call_log", ("x",), [(1,)])], states=[(b"acct", b"s1"), (b"acct2", b"s2")])
    asyncio.run(commit.commit(plan))
    sends = [i for i, j in enumerate(journal) if j.startswith("send")]
    acks = [i for i, j in enumerate(journal) if j.startswith("ack")]
    puts = [i for i, j in enumerate(journal) if j == "put"]
    assert len(sends) == 2 and len(acks) == 2 and len(puts) == 2
    assert max(sends) < journal.index("insert"), journal  # 1 before 2
    assert max(acks) < min(puts), journal  # 3 before 4: no state before its outputs are on the broker
    assert journal[-1] == "flush" and durable.states == {b"acct": b"s1", b"acct2": b"s2"}  # 5


def test_a_plan_with_nothing_to_insert_does_not_call_clickhouse():
    journal: list[str] = []
    durable = Durable()
    commit = BatchCommit(FakeSender(durable, None, journal), FakeRows(durable, "insert", journal),
                         FakeStates(durable, None, journal))
    asyncio.run(commit.commit(CommitPlan(inserts=[("call_log", ("x",), [])], states=[(b"a", b"s")])))
    assert journal == ["put", "flush"]


@pytest.mark.parametrize("step", STEPS)
def test_R9_a_failure_at_any_step_exits_75_and_the_restart_loses_and_doubles_nothing(step):
    log = the_log()
    clean = Durable()
    asyncio.run(a_worker_process(log, clean))
    assert clean.committed == len(log)

    durable = Durable()
    with pytest.raises(Exited) as exited:
        asyncio.run(a_worker_process(log, durable, fail=step, fail_in_batch=3))
    assert exited.value.code == EXIT_BATCH_FAILED
    assert durable.committed == 3 * 4, "the failed batch must not be committed"
    asyncio.run(a_worker_process(log, durable))  # the supervisor's restart

    assert durable.states == clean.states  # byte for byte, log positions included
    assert durable.rows == clean.rows  # ClickHouse collapses repeats by key: compare distinct rows
    assert set(durable.messages) == set(clean.messages)  # every output sent; repeats are duplicates
    pure = {k: replace(v, positions={}) for k, v in the_pure_fold(log).items()}
    assert {k: replace(v, positions={}) for k, v in decoded(durable).items()} == pure
    assert sum(s.calls_charged for s in pure.values()) > 100  # the stream really charged calls


class _NoCards:
    """The rate feed of a worker to which nothing was published."""

    def __init__(self) -> None:
        from projections.rate_book import RateBook
        self.book = RateBook(lead_ms=0)

    def due(self) -> bool:
        return False

    def take_refusals(self) -> list:
        return []


class _Guard:
    """The in-order guard of a log with no gaps; notes when Faust may commit over fills."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    async def check(self, records):  # noqa: ANN001, ANN201
        return []

    def advance(self, records) -> None:  # noqa: ANN001
        pass

    def release(self) -> None:
        self.journal.append("release")


def a_batch_through_the_fold_stage(log: list[InMessage], state_write_seconds: float,
                                   epochs: Epochs | None = None) -> tuple[list[str], Durable]:
    """One batch of ``log`` through the worker's ``FoldStage``, in parts of 64 KiB; ``epochs``:
    which settings fold each event (none accepted in force by default)."""
    from types import SimpleNamespace

    from streams.worker.fold_stage import FoldStage

    journal, durable = [], Durable()
    states_store = FakeStates(durable, None, journal)
    states = AccountStates(states_store.table, CODEC)
    commit = BatchCommit(FakeSender(durable, None, journal), FakeRows(durable, None, journal), states_store)
    settings = replace(SETTINGS, batch_bytes_max=64 * 1024, state_write_seconds=state_write_seconds)
    stage = FoldStage(settings, CODEC, BatchProcessor(CODEC, FOLD, 2), _NoCards(), states, commit, _Guard(journal),
                      None, lambda p: None)
    stage.epochs = epochs or Epochs()  # as the worker reads them from the settings topic
    events = [SimpleNamespace(message=SimpleNamespace(topic=m.topic, partition=m.partition, offset=m.offset,
                                                      timestamp=m.timestamp_ms / 1000, value=m.value)) for m in log]
    asyncio.run(stage.process_batch(events))
    return journal, durable


def test_a_batch_writes_each_state_once_after_the_outputs_of_all_its_parts():
    """Parts of one batch fold from the states the parts before them left, and each account's
    state is written once, its last, after every part's outputs are acknowledged (a kill before
    that replays the whole batch: nothing of it is acked). The same states as a pure fold."""
    log = the_log(accounts=40, calls=3_000)
    journal, durable = a_batch_through_the_fold_stage(log, state_write_seconds=300)
    assert journal.count("insert") > 3, "the batch must be folded in several parts for this test to mean anything"
    puts = [i for i, j in enumerate(journal) if j == "put"]
    assert len(puts) == len(durable.states) == len(the_pure_fold(log))  # one write per account
    assert max(i for i, j in enumerate(journal) if j.startswith("ack")) < min(puts)
    assert journal[-2:] == ["flush", "release"]
    pure = {k: replace(v, positions={}) for k, v in the_pure_fold(log).items()}
    assert {k: replace(v, positions={}) for k, v in decoded(durable).items()} == pure


def test_a_long_batch_writes_its_states_when_they_have_waited_state_write_seconds():
    """0: after every part, as before batches wrote once; each write after that part's outputs."""
    log = the_log(accounts=40, calls=3_000)
    journal, durable = a_batch_through_the_fold_stage(log, state_write_seconds=0)
    parts = journal.count("insert")
    assert parts > 3 and journal.count("release") >= parts  # states written, fills released, per part
    assert journal.count("put") > len(durable.states)  # accounts touched by several parts, written each time
    for release in (i for i, j in enumerate(journal) if j == "release"):
        assert journal[release - 1] in ("flush", "release")  # after that part's states are acknowledged
    pure = {k: replace(v, positions={}) for k, v in the_pure_fold(log).items()}
    assert {k: replace(v, positions={}) for k, v in decoded(durable).items()} == pure


def test_events_before_an_accepted_change_are_folded_with_the_version_it_replaced():
    """An accepted change that doubles every rate starts at the middle of partition 0 and past
    the end of partition 1: the fold stage folds each event with the version of its epoch (its
    runs cut a part where the version changes), exactly as folding each account's events before
    the start with the old version and the rest with the new one."""
    from projections.account import fold_batch

    log = the_log(accounts=40, calls=3_000)
    old = replace(FOLD, rate_cards=tuple(replace(card, destinations={p: replace(d, rate_micros_per_minute=d.rate_micros_per_minute // 2)
                                                                      for p, d in card.destinations.items()})
                                         for card in FOLD.rate_cards))
    middle = max(m.offset for m in log if m.partition == 0) // 2
    starts = [{"partition": 0, "first_offset": middle, "previous_digest": "old", "digest": "new"},
              {"partition": 1, "first_offset": 10**9, "previous_digest": "old", "digest": "new"}]
    epochs = epochs_of([{"digest": "old", "fold_settings": packed(old)}, {"digest": "new", "fold_settings": b""}],
                       starts)
    assert epochs.settings_at(0, middle - 1) == old and epochs.settings_at(0, middle) is None
    _, durable = a_batch_through_the_fold_stage(log, state_write_seconds=300, epochs=epochs)
    expected: dict = {}
    for before in (True, False):  # each account's events in log order: the old epoch's, then the new one's
        items = []
        for m in log:
            if (m.partition == 1 or m.offset < middle) == before:
                events, _ = CODEC.decode_message(m.value)
                items += [Positioned(f"{m.topic}/{m.partition}", m.offset, i, m.timestamp_ms, e)
                          for i, e in enumerate(events)]
        by_account: dict[str, list] = {}
        for item in items:
            by_account.setdefault(item.event.account_id, []).append(item)
        for account_id, mine in by_account.items():
            state, _ = fold_batch(expected.get(account_id), mine, old if before else FOLD)
            if state is not None:
                expected[account_id] = state
    folded = decoded(durable)
    assert {k: replace(v, positions={}) for k, v in folded.items()} == {
        k: replace(v, positions={}) for k, v in expected.items()}
    single = {k: replace(v, positions={}) for k, v in the_pure_fold(log).items()}
    assert {k: replace(v, positions={}) for k, v in folded.items()} != single, "the old version's prices were used"

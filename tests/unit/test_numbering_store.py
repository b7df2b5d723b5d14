"""The numbering stage's state in records of bounded size (streams/worker/numbering_store.py).

A month's close leaves every account's draft in the state at once; in one record that passes
the largest record a broker takes. The store splits it, and a worker killed at any point of a
write restarts from the old state or the new one, whole, never a mix.
"""

from __future__ import annotations

import asyncio

import pytest

from projections import numbering
from projections.numbering import Draft, NumberingState
from schemas.codec import EventCodec
from streams.config.settings import Settings
from streams.kafka.topics import RECORD_BYTES_MAX
from streams.worker.numbering_store import (
    DRAFTS_PER_RECORD,
    STATE_KEY,
    NumberingStore,
    StateIncomplete,
    draft_key,
)

CODEC = EventCodec()


class Crash(Exception):
    pass


class Changelog:
    """The table in memory and the changelog behind it: a record is durable once flushed, and
    a crash rebuilds the table from what is durable. ``crash_at`` fails the n-th flush after
    half of its records were acknowledged, as a broker may."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.durable: dict[bytes, bytes] = {}
        self.table: dict[bytes, bytes] = {}
        self.pending: list[tuple[bytes, bytes | None]] = []
        self.flushes, self.crash_at = 0, crash_at

    def put(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.table.pop(key, None)
        else:
            self.table[key] = value
        self.pending.append((key, value))

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.flushes += 1
        if self.flushes == self.crash_at:
            self._apply(pending[:len(pending) // 2])
            raise Crash(f"flush {self.flushes}")
        self._apply(pending)

    def _apply(self, records: list[tuple[bytes, bytes | None]]) -> None:
        for key, value in records:
            if value is None:
                self.durable.pop(key, None)
            else:
                self.durable[key] = value

    def restart(self) -> None:
        self.table, self.pending = dict(self.durable), []


def state_with(drafts: int, seed: int = 0, partitions: int = 4, account_chars: int = 12) -> NumberingState:
    """Drafts of a month's close: half pending, half sealed in two epochs waiting for the slowest partition."""
    state = NumberingState(partitions, next_offset=1000 + seed)
    state.sealed_offset = {p: 100 + p for p in range(partitions)}
    state.sealed_tick_ms = {p: 1_796_000_000_000 for p in range(partitions)}
    state.last_sequence = {f"VL|{2026 - seed}": 41 + seed}
    for i in range(drafts):
        account = f"{seed}-{i:0{account_chars}d}"
        draft = Draft(f"VL-{account}-2026-1", account, "VL", 2026, 1_796_000_000_000 + i, i % partitions, 200 + i)
        numbering.hold(state, numbering.PENDING if i % 2 else 1_796_000_000_000 + 3_600_000 * (i % 3), draft)
    return state


async def write(store: NumberingStore, changelog: Changelog, state: NumberingState) -> None:
    """What the stage's batch does: the store's records, then the commit's state phase."""
    for key, value in await store.records(state):
        changelog.put(key, value)
    await changelog.flush()


def load(changelog: Changelog) -> NumberingState | None:
    return NumberingStore(CODEC, changelog.table, changelog).load()


def test_a_state_of_one_record_is_the_head_alone():
    changelog = Changelog()
    state = state_with(DRAFTS_PER_RECORD)
    asyncio.run(write(NumberingStore(CODEC, changelog.table, changelog), changelog, state))
    assert list(changelog.durable) == [STATE_KEY]
    assert load(changelog) == state


def test_a_month_close_of_100k_drafts_is_written_in_records_under_the_largest_and_loads_whole():
    state = state_with(100_000, account_chars=30)
    assert len(CODEC.encode_numbering_state(state)) > RECORD_BYTES_MAX  # what one record could not hold
    changelog = Changelog()
    asyncio.run(write(NumberingStore(CODEC, changelog.table, changelog), changelog, state))
    assert len(changelog.durable) == 100_000 // DRAFTS_PER_RECORD
    assert max(len(v) for v in changelog.durable.values()) < RECORD_BYTES_MAX
    changelog.restart()
    assert load(changelog) == state


def test_the_largest_drafts_fit_a_record():
    assert Settings().numbering_record_drafts == DRAFTS_PER_RECORD
    # Ids of 1,024 characters (TEXT_CHARS_MAX) and 1,024 partitions (the settings' bound).
    state = state_with(DRAFTS_PER_RECORD, partitions=1024, account_chars=1020)
    assert len(CODEC.encode_numbering_state(state)) < RECORD_BYTES_MAX
    assert len(CODEC.encode_numbering_drafts(numbering.drafts_of(state))) < RECORD_BYTES_MAX


def test_a_smaller_state_deletes_the_draft_records_it_no_longer_names():
    changelog = Changelog()
    store = NumberingStore(CODEC, changelog.table, changelog)
    asyncio.run(write(store, changelog, state_with(7_000)))
    assert store.load() == state_with(7_000)
    asyncio.run(write(store, changelog, state_with(10, seed=1)))
    assert list(changelog.durable) == [STATE_KEY]
    changelog.restart()
    assert load(changelog) == state_with(10, seed=1)


@pytest.mark.parametrize("crash_at", [1, 2])
def test_a_worker_killed_in_a_write_restarts_from_the_old_state_or_the_new_whole(crash_at):
    # Flush 1 is the draft records of the new slot, flush 2 the head and the deletions; each
    # fails with half of its records on the broker.
    changelog = Changelog()
    store = NumberingStore(CODEC, changelog.table, changelog)
    old, new = state_with(9_000), state_with(5_000, seed=1)
    asyncio.run(write(store, changelog, old))
    changelog.crash_at = changelog.flushes + crash_at
    store.load()
    with pytest.raises(Crash):
        asyncio.run(write(store, changelog, new))
    changelog.restart()
    assert load(changelog) in (old, new)
    changelog.crash_at = None
    store = NumberingStore(CODEC, changelog.table, changelog)
    store.load()
    asyncio.run(write(store, changelog, new))  # the replay writes the new state again
    changelog.restart()
    assert load(changelog) == new
    _, records, slot = CODEC.decode_numbering_state(changelog.durable[STATE_KEY])
    assert set(changelog.durable) == {STATE_KEY} | {draft_key(slot, i) for i in range(records)}  # nothing stale


def test_a_head_naming_a_missing_draft_record_is_refused_loudly():
    changelog = Changelog()
    asyncio.run(write(NumberingStore(CODEC, changelog.table, changelog), changelog, state_with(5_000)))
    del changelog.table[sorted(k for k in changelog.table if k != STATE_KEY)[0]]
    with pytest.raises(StateIncomplete):
        load(changelog)


def test_a_state_written_before_draft_records_existed_loads_as_one_record():
    import io

    import fastavro

    from schemas.codec import frame

    state = state_with(300)
    v1 = CODEC.registry.writer(38)
    assert (v1.subject, v1.version) == ("voiceledger.state.NumberingState", 1)
    head, _, _ = CODEC.decode_numbering_state(CODEC.encode_numbering_state(state))
    record = fastavro.schemaless_reader(io.BytesIO(CODEC.encode_numbering_state(state)[5:]),
                                       CODEC.registry.latest_of(v1.subject).parsed)
    del record["draft_records"], record["draft_slot"]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, v1.parsed, record)
    changelog = Changelog()
    changelog.table[STATE_KEY] = frame(38, body.getvalue())
    assert load(changelog) == state == head

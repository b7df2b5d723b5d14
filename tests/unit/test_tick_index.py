"""Ticks left out for accounts that are quiet (issue 22): the worker's index against every account.

A worker leaves an account out of a tick dated before its state's ``tick_quiet_until``
(``streams/worker/state_cache.py``). That must change no output at all: the same generated
streams (calls, duplicates, corrections, payments, refunds, disputes, suspensions, fraud holds,
terminations, erasures, plan changes, postpaid debts) with hourly ticks over 45 days, month
starts included, go through the processor twice, in the same random batches: once with every
account of the partition ticked, as before, once through ``AccountStates`` as the worker reads
them (parts of a batch folded from the states of the parts before, as ``_Pending`` keeps them,
then written to a table and remembered). Every part's states, outputs, rows, dead letters and
counts must be equal, and the index must have left out most of the account-ticks.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from projections.account import tick_quiet_until
from projections.events import PeriodTicked, TickKind
from projections.periods import period_of
from schemas.codec import EventCodec
from streams.config.settings import Settings
from streams.kafka.producer import plan_messages
from streams.worker.fold_settings import fold_settings_from
from streams.worker.processor import BatchProcessor, BatchResult, InMessage
from streams.worker.containment import fold_contained
from streams.worker.fold_stage import _Pending
from streams.worker.state_cache import AccountStates
from tests.unit.compiled_digest import stream

PARTITIONS = 3
HOUR = 3_600_000
OUTPUTS = ("states", "call_rows", "journal_rows", "entries", "rated_calls", "status_changes", "invoices",
           "invoice_rows", "invoice_line_rows", "numbering", "dead_letters", "dead_letter_rows", "dispute_rows",
           "calls_ended", "erased", "counts")


def _event_ms(event: object) -> int:
    for name in ("start_at_ms", "occurred_at_ms", "received_at_ms"):
        if getattr(event, name, None):
            return getattr(event, name)
    return 0


def _messages(events: list, codec: EventCodec, rng: random.Random) -> list[InMessage]:
    """The stream in envelopes, with an hourly tick on every partition as its time passes."""
    offsets = [0] * PARTITIONS
    out: list[InMessage] = []

    def put(partition: int, value: bytes) -> None:
        out.append(InMessage("events", partition, offsets[partition], 2**62, value))
        offsets[partition] += 1

    next_tick = (min(_event_ms(e) for e in events if _event_ms(e)) // HOUR + 1) * HOUR
    for i in range(0, len(events), 20):
        chunk = events[i:i + 20]
        for partition, _key, value in plan_messages(chunk, codec, PARTITIONS, rng.choice([1, 7, 200])):
            put(partition, value)
        while next_tick <= max(_event_ms(e) for e in chunk):
            tick = codec.encode(PeriodTicked(f"t{next_tick}", next_tick, TickKind.HOUR, period_of(next_tick, "UTC")))
            for partition in range(PARTITIONS):
                put(partition, tick)
            next_tick += HOUR
    return out


class _Counted:
    """A ``ticked_accounts`` that counts the accounts it hands out."""

    def __init__(self, ticked) -> None:  # noqa: ANN001
        self.ticked, self.handed = ticked, 0

    def __call__(self, at_ms: int) -> list[str]:
        accounts = list(self.ticked(at_ms))
        self.handed += len(accounts)
        return accounts


def _outputs(result: BatchResult) -> tuple:
    return tuple(repr(sorted(getattr(result, name).items())) if name in ("states", "counts")
                 else repr(getattr(result, name)) for name in OUTPUTS)


@pytest.mark.parametrize("seed", [3, 13, 17])
def test_R13_R18_R21_ticks_left_out_for_quiet_accounts_change_no_output_of_any_batch(seed):
    settings = replace(Settings(), partitions=PARTITIONS, interim_threshold=("2.00",))  # R18 crossed often
    codec, fold = EventCodec(), fold_settings_from(settings)
    events = stream(seed)  # in log order
    rng = random.Random(seed)
    todo = _messages(events, codec, rng)
    handed = 0
    every = BatchProcessor(codec, fold, PARTITIONS)
    known: dict = {}
    all_ticked = _Counted(lambda at_ms: sorted(known))
    indexed = BatchProcessor(codec, fold, PARTITIONS)
    table: dict[bytes, bytes] = {}
    states = AccountStates(table, codec, lambda state: tick_quiet_until(state, fold))
    start = 0
    while start < len(todo):  # a worker's batch: parts folded from the states of the parts before
        pending = _Pending(states)
        index_ticked = _Counted(pending.ticked_accounts)
        for _ in range(rng.randrange(1, 4)):
            size = rng.randrange(1, 300)
            part, start = todo[start:start + size], start + size
            before = every.process(part, known.get, all_ticked)
            known.update(before.states)
            after = fold_contained(indexed, codec, part, pending.load, index_ticked)
            assert _outputs(after) == _outputs(before)
            pending.keep(after)
        handed += index_ticked.handed
        for account_id, (raw, state) in pending.encoded.items():  # as write_states does
            table[account_id.encode()] = raw
            states.remember(account_id, raw, state, pending.quiet[account_id])
    assert all_ticked.handed > 30_000
    assert handed < all_ticked.handed / 5, (handed, all_ticked.handed)


def test_the_index_holds_for_the_bytes_the_table_holds_and_not_after_they_are_replaced(monkeypatch):
    """A state restored from the changelog (a partition that left this worker and came back, or
    a restart) is a new bytes object: its account is ticked until it is read again, never left
    out on what an older state said. An account never read is ticked. Past ``QUIET_MAX``
    accounts the index starts again empty."""
    from projections.account import AccountState
    from streams.worker import state_cache

    codec = EventCodec()
    state = AccountState("a1", "o", "USD", "basic", "prepaid", (), "UTC", 0, newest_event_ms=10 * HOUR)
    raw = codec.encode_state(state)
    table = {b"a1": raw, b"a2": codec.encode_state(replace(state, account_id="a2"))}
    states = AccountStates(table, codec, lambda s: s.newest_event_ms + HOUR)
    assert states.ticked_accounts(0) == ["a1", "a2"]  # none read yet
    states.remember("a1", raw, state)
    assert states.ticked_accounts(11 * HOUR - 1) == ["a2"]
    assert states.ticked_accounts(11 * HOUR) == ["a1", "a2"]  # its quiet time has come
    table[b"a1"] = bytes(bytearray(raw))  # restored: equal bytes, another object
    assert states.ticked_accounts(0) == ["a1", "a2"]
    assert states.load("a1") == state and states.load("a2") is not None  # read: asked again
    assert states.ticked_accounts(0) == []
    del table[b"a2"]  # its partition revoked: the index lets go of it once it holds too many such
    for n in range(1_100):
        states.remember(f"gone{n}", raw, state)
    assert states.ticked_accounts(0) == [] and set(states._quiet) == {b"a1"}
    monkeypatch.setattr(state_cache, "QUIET_MAX", 2)
    states.remember("a2", raw, state)
    states.remember("a3", raw, state)  # a third: the index starts again
    assert states.ticked_accounts(0) == ["a1"]

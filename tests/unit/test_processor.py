"""The stream layer's batch logic without servers: routing by account partition, envelopes,
dead letters with reason and source position for every bad message, and call-log rows only
for applied calls. A bad message never raises."""

from __future__ import annotations

from dataclasses import replace

from projections.account import FoldSettings
from projections.events import AccountOpened, CallDetailRecord, Disposition
from projections.rating import DestinationRate, RateCard
from schemas.codec import EventCodec
from streams.worker.processor import BatchProcessor, InMessage
from streams.kafka.partitioning import partition_for

T0 = 1_790_812_800_000
codec = EventCodec()
CARD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000)})
proc = BatchProcessor(codec, FoldSettings(rate_cards=(CARD,)), partitions=4)


def msg(value: bytes, partition: int, offset: int) -> InMessage:
    return InMessage("events", partition, offset, 2**62, value)


def test_partition_for_matches_kafka_default_partitioner():
    from aiokafka.partitioner import DefaultPartitioner

    for acct in ("acct-000001", "a", "ü-account"):
        assert partition_for(acct, 6) == DefaultPartitioner()(acct.encode(), list(range(6)), list(range(6)))


def test_envelope_applies_each_record_and_bad_input_is_dead_lettered():
    acct = "acct-1"
    p = partition_for(acct, 4)
    call = CallDetailRecord("e1", "c", "k1", acct, "1555", "12125550100", T0, T0 + 1000, T0 + 62_000,
                            Disposition.ANSWERED)
    unknown_dest = replace(call, call_id="k2", callee="999")
    messages = [
        msg(codec.encode(AccountOpened("o", acct, T0, "USD", "b", "prepaid", ())), p, 0),
        msg(codec.encode_cdr_batch([call, unknown_dest, call]), p, 1),
        msg(b"\x00junk", p, 2),
        msg(codec.encode(replace(call, call_id="k3")), (p + 1) % 4, 0),
    ]
    states = {}
    result = proc.process(messages, states.get)
    state = result.states[acct]
    assert state.balance_micros == -20_000  # 61 s -> 2 minutes at 0.01
    assert len(result.call_rows) == 1
    # R36: the call-log row carries the plan the call was rated under (usage-pattern analytics).
    from streams.clickhouse.call_log import CALL_LOG_COLUMNS
    assert dict(zip(CALL_LOG_COLUMNS, result.call_rows[0]))["plan"] == "b"
    assert result.counts["duplicate"] == 1
    letters = [codec.decode_dead_letter(v) for _, v in result.dead_letters]
    assert [(d["reason_code"], d["source_offset"], d["source_index"]) for d in letters] == [
        ("unknown_schema_id", 2, 0), ("misrouted", 0, 0), ("unknown_destination", 1, 1)]
    # An enveloped record's dead letter carries that record alone, ready to re-submit.
    assert codec.decode(letters[2]["original"]) == [unknown_dest]

    # The same batch again (a redelivery) changes nothing and writes no call row.
    again = proc.process(messages, {acct: state}.get)
    assert acct not in again.states or again.states[acct] == state
    assert again.call_rows == [] and again.counts["redelivered"] == 4


def test_without_feeds_a_batch_writes_the_same_states_journal_and_call_log_and_no_feed_record():
    """``publish_feeds`` off (a rebuild's workers): no ledger.entries or calls.rated record, and
    everything the rebuild compares exactly as with them."""
    acct = "acct-1"
    p = partition_for(acct, 4)
    calls = [CallDetailRecord(f"e{n}", "c", f"k{n}", acct, "1555", "12125550100", T0 + n, T0 + 1000 + n,
                              T0 + 62_000 + n, Disposition.ANSWERED) for n in range(5)]
    messages = [msg(codec.encode(AccountOpened("o", acct, T0, "USD", "b", "prepaid", ())), p, 0),
                msg(codec.encode_cdr_batch(calls), p, 1)]
    fed = proc.process(messages, {}.get)
    quiet = BatchProcessor(codec, FoldSettings(rate_cards=(CARD,)), partitions=4, feeds=False).process(messages, {}.get)
    assert len(fed.entries) == 1 and len(fed.rated_calls) == 1, "with feeds: one envelope of each"
    assert quiet.entries == [] and quiet.rated_calls == []
    assert (quiet.states, quiet.call_rows, quiet.journal_rows, quiet.invoices) == (
        fed.states, fed.call_rows, fed.journal_rows, fed.invoices)
    assert len(quiet.journal_rows) == 10, "five calls, two postings each"


def test_R12_a_tick_reaches_every_account_of_its_partition_in_state_and_in_the_batch_once():
    from projections.events import AccountStatus, PeriodTicked, TickKind

    fold = FoldSettings(rate_cards=(CARD,))
    ticker = BatchProcessor(codec, fold, partitions=4)
    p = partition_for("acct-1", 4)
    same = next(a for a in (f"acct-{n}" for n in range(2, 200)) if partition_for(a, 4) == p)
    other = next(a for a in (f"acct-{n}" for n in range(2, 200)) if partition_for(a, 4) != p)
    stored = {}
    first = ticker.process([msg(codec.encode(AccountOpened("o1", "acct-1", T0, "USD", "b", "prepaid", ())), p, 0)],
                           lambda a: None)
    stored.update(first.states)
    later = T0 + 37 * 3_600_000  # after R12's 36 hours
    tick = codec.encode(PeriodTicked("tick", later, TickKind.HOUR, "2026-10"))
    result = ticker.process([
        msg(codec.encode(AccountOpened("o2", same, T0, "USD", "b", "prepaid", ())), p, 1),
        msg(codec.encode(AccountOpened("o3", other, T0, "USD", "b", "prepaid", ())), partition_for(other, 4), 0),
        msg(tick, p, 2),
        msg(tick, p, 2),  # redelivered within the batch: no second effect
    ], stored.get, lambda at_ms: list(stored) + [other])
    assert {a: s.lifecycle.status for a, s in result.states.items()} == {
        "acct-1": AccountStatus.TERMINATED, same: AccountStatus.TERMINATED, other: AccountStatus.REGISTERED}
    changes = [codec.decode_event(v) for _, _, v in result.status_changes]
    assert sorted(c.account_id for c in changes) == sorted(["acct-1", same])
    assert {part for part, _, _ in result.status_changes} == {p}
    assert result.counts["consumed"] == 4 and not result.dead_letters


def test_a_batch_is_cut_into_parts_of_bounded_bytes_in_order():
    """The fold blocks the event loop; parts bound how long (streams/worker/app.py)."""
    from types import SimpleNamespace

    from streams.worker.fold_stage import chunks_by_bytes

    events = [SimpleNamespace(message=SimpleNamespace(value=b"x" * n)) for n in (40, 50, 10, 120, 5, 5)]
    parts = chunks_by_bytes(events, 100)
    assert [[len(e.message.value) for e in p] for p in parts] == [[40, 50, 10], [120], [5, 5]]
    assert [e for p in parts for e in p] == events
    assert chunks_by_bytes([], 100) == []
    empty = [SimpleNamespace(message=SimpleNamespace(value=None))]  # a tombstone
    assert chunks_by_bytes(empty, 100) == [empty]


def test_a_busy_accounts_full_key_set_is_counted_when_it_lets_go_of_keys_and_its_calls_are_billed():
    from prometheus_client import REGISTRY

    acct = "acct-busy"
    p = partition_for(acct, 4)
    busy = BatchProcessor(codec, FoldSettings(rate_cards=(CARD,), dedup_max_keys=5), partitions=4)
    calls = [CallDetailRecord(f"e{n}", "c", f"k{n}", acct, "1555", "12125550100", T0 + n * 60_000,
                              T0 + n * 60_000 + 1000, T0 + n * 60_000 + 62_000, Disposition.ANSWERED) for n in range(12)]
    states = {}
    opened = busy.process([msg(codec.encode(AccountOpened("o", acct, T0, "USD", "b", "prepaid", ())), p, 0)], states.get)
    states.update(opened.states)
    before = REGISTRY.get_sample_value("voiceledger_dedup_floor_raised_total") or 0
    result = busy.process([msg(codec.encode_cdr_batch(calls), p, 1)], states.get)
    assert result.states[acct].calls_charged == 12 and not result.dead_letters
    assert result.counts["dedup_floor_raised"] == 1
    assert REGISTRY.get_sample_value("voiceledger_dedup_floor_raised_total") == before + 1

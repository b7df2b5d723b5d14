"""End to end through real servers: events on a real broker, the real worker process, real ClickHouse.

Proves the walking skeleton: answered calls are rated in whole minutes (R1, R2), charges debit
and payments credit the balance (R9) exactly as a pure fold of the same input (R7: integer
micro-units), every call lands once in ``call_log`` and once (by event id) on ``calls.rated``, bad input goes to the dead-letter topic
with its reason and source position, the worker keeps running, and a stopped worker resumes
where it left off. It runs once per ClickHouse engine (chDB and the server).
"""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import replace

import pytest

from projections.events import AccountOpened, CallDetailRecord, Disposition, PaymentReceived
from schemas.codec import EventCodec
from streams.clickhouse.client import connect
from streams.clickhouse.cluster import optimize_final
from streams.clickhouse.reconcile import reconcile
from streams.worker.supervise import start_worker, stop_worker, wait_until_committed
from streams.edge.publish import produce_events
from streams.kafka.producer import produce_raw
from streams.kafka.reader import read_topic
from streams.kafka.partitioning import partition_for
from streams.dev.simulate import SimulationSpec, simulate


from tests.integration.conftest import engine_url
from tests.integration.helpers import (
    assert_each_call_on_one_shard,
    live_states,
    state_differences,
    merge_offsets,
    oracle,
    run_worker_to_end,
    unique_calls,
    without_positions,
)


def bad_messages(settings, codec: EventCodec, events) -> list[tuple[int, bytes, bytes]]:
    """One message per kind of bad input, each routed to the right partition unless noted."""
    opened = next(e for e in events if isinstance(e, AccountOpened))
    cdr = next(e for e in events if isinstance(e, CallDetailRecord) and e.account_id == opened.account_id)
    acct = opened.account_id
    p = partition_for(acct, settings.partitions)
    other = (p + 1) % settings.partitions
    negative = replace(cdr, call_id="neg-1", end_at_ms=cdr.start_at_ms - 1000, answer_at_ms=None,
                       disposition=Disposition.NO_ANSWER)
    early_answer = replace(cdr, call_id="early-1", answer_at_ms=cdr.start_at_ms - 5_000,
                           disposition=Disposition.ANSWERED)
    gbp = PaymentReceived("pay-gbp", acct, cdr.start_at_ms, 5_000_000, "XTS")  # ISO 4217 "testing": no money
    ghost = replace(cdr, call_id="ghost-1", account_id="no-such-account")
    conflict = replace(cdr, end_at_ms=cdr.end_at_ms + 600_000)  # same call key, other content
    return [
        (p, acct.encode(), b"\x00\x00\x00\x00\x02garbage"),  # schema id 2, corrupt body
        (p, acct.encode(), b"not avro at all"),
        (p, acct.encode(), codec.encode(negative)),
        (p, acct.encode(), codec.encode(early_answer)),
        (p, acct.encode(), codec.encode(gbp)),
        (partition_for("no-such-account", settings.partitions), b"no-such-account", codec.encode(ghost)),
        (other, acct.encode(), codec.encode(replace(cdr, call_id="misrouted-1"))),
        (p, acct.encode(), codec.encode(conflict)),
    ]


@pytest.fixture(params=["chdb", "server", pytest.param("cluster", marks=pytest.mark.cluster)])
def clickhouse_url(request, tmp_path):
    """This test on the ClickHouse cluster as well (issue 21)."""
    return engine_url(request, request.param, tmp_path)


EXPECTED_REASONS = {
    "avro_decode_failed", "bad_magic_byte", "negative_duration", "answer_before_start",
    "unknown_currency", "unknown_account", "misrouted", "duplicate_conflict",
}


def test_R1_R2_R7_R9_pipeline_matches_pure_fold_and_logs_every_call_once(settings, tmp_path):
    codec = EventCodec()
    events = simulate(SimulationSpec(accounts=300, calls=4_000, days=2, seed=11))
    half = len(events) // 2
    first, second = events[:half], events[half:]

    first_half_with_bad_messages(settings, tmp_path, codec, first)
    expected = second_half_by_a_new_worker(settings, tmp_path, events, second)
    check_calls_rated(settings, codec, events, expected)
    check_the_call_log(settings, events, expected)


def first_half_with_bad_messages(settings, tmp_path, codec, first: list) -> None:  # noqa: ANN001 - Settings
    """Every bad message a dead letter with its reason and original, counted in the metrics."""
    # Phase 1: envelopes of CDRs, plus every kind of bad input, through a running worker.
    offsets1 = asyncio.run(produce_events(settings, first, envelope_max=50))
    bad = bad_messages(settings, codec, first)
    offsets1 = merge_offsets(offsets1, asyncio.run(produce_raw(settings, settings.events_topic, bad)))
    worker = start_worker(settings, tmp_path / "worker1.log")
    try:
        worker = wait_until_committed(settings, worker, 180, offsets1, show_progress=False,
                                      log_path=tmp_path / "worker1.log")
        # Dead letters are sent before their batch is committed, so they are all there now.
        dead = asyncio.run(read_topic(settings.broker, settings.dead_letter_topic))
        metrics_text = urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=5).read().decode()
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "worker1.log").read_text()[-3000:]

    reasons = [codec.decode_dead_letter(r.value) for r in dead]
    assert {r["reason_code"] for r in reasons} == EXPECTED_REASONS
    for letter in reasons:
        assert letter["source_topic"] == settings.events_topic
        assert letter["original"], "a dead letter keeps the original bytes"
    assert 'voiceledger_events_rejected_total{reason="misrouted"' in metrics_text
    assert "voiceledger_calls_rated_total" in metrics_text
    assert "voiceledger_clickhouse_insert_seconds_count" in metrics_text


def second_half_by_a_new_worker(settings, tmp_path, events: list, second: list) -> dict:  # noqa: ANN001
    """The live states equal the pure fold's (which it returns), each in its changelog partition."""
    # Phase 2: a new worker process resumes from the committed offsets and table state.
    offsets2 = asyncio.run(produce_events(settings, second, envelope_max=1))
    assert run_worker_to_end(settings, offsets2, tmp_path / "worker2.log") == 0

    live = live_states(settings)
    expected = oracle(settings, events)
    assert len(live) == 300
    assert without_positions(live) == without_positions(expected), "\n".join(state_differences(live, expected))
    assert sum(s.paid_micros for s in live.values()) > 0
    assert sum(s.charged_micros for s in live.values()) > 0
    # The worker writes the changelog itself (streams/worker/table_acks.py): every state record
    # must sit where Faust's recovery of that account's partition reads it, its events' partition.
    changelog = asyncio.run(read_topic(settings.broker, settings.accounts_changelog_topic()))
    assert {r.key.decode() for r in changelog} == set(live)
    misplaced = [(r.key, r.partition) for r in changelog if r.partition != partition_for(r.key.decode(),
                                                                                         settings.partitions)]
    assert misplaced == [], misplaced[:5]
    return expected


def check_calls_rated(settings, codec, events: list, expected: dict) -> None:  # noqa: ANN001 - Settings
    # CallRated: one per call once repeats are dropped by event_id, charges equal to the balances'.
    rated = {r.event_id: r for m in asyncio.run(read_topic(settings.broker, settings.calls_rated_topic))
             for r in codec.decode_call_rated_message(m.value)}
    assert {r.call_key for r in rated.values()} == unique_calls(events)
    charged_by_account: dict[str, int] = {}
    for r in rated.values():
        charged_by_account[r.account_id] = charged_by_account.get(r.account_id, 0) + r.charge_micros
    assert {a: c for a, c in charged_by_account.items() if c} == \
        {a: s.charged_micros for a, s in expected.items() if s.charged_micros}


def check_the_call_log(settings, events: list, expected: dict) -> None:  # noqa: ANN001 - Settings
    """One row per call, also after a merge, charges equal to the fold's, R1 and R2 held, reconciled."""
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        calls = unique_calls(events)
        (rows, distinct), = ch.query("SELECT count(), uniqExact(call_key) FROM call_log FINAL")
        assert rows == distinct == len(calls)
        assert_each_call_on_one_shard(ch, calls)
        optimize_final(ch, "call_log")
        (raw_rows,), = ch.query("SELECT count() FROM call_log")
        assert raw_rows == len(calls), "no duplicate row survives a merge"
        charged = dict(ch.query("SELECT account_id, toInt64(sum(charge_micros)) FROM call_log FINAL GROUP BY account_id"))
        for account_id, state in expected.items():
            assert charged.get(account_id, 0) == state.charged_micros, account_id
        # R2: under 60/60 every billed duration is whole minutes; R1: unanswered calls bill 0 s.
        (bad_minutes,), = ch.query(
            "SELECT count() FROM call_log FINAL WHERE rate_card_id LIKE 'standard-usd%' "
            "AND destination_prefix IN ('1', '44', '49', '32') AND billed_s % 60 != 0")
        assert bad_minutes == 0
        (unanswered_billed,), = ch.query("SELECT count() FROM call_log FINAL WHERE answer_at IS NULL AND billed_s > 0")
        assert unanswered_billed == 0
        # The month's reconciliation passes on this engine too (calls = journal, trial balance).
        problems, summary = reconcile(ch, "2026-10", settings.country_code)
        assert problems == [] and "charged calls" in summary[1], summary
    finally:
        ch.close()

"""The account lifecycle end to end (R12, R14, R23, R24), on the real broker with a real worker.

Hourly ticks are published by ``voiceledger tick`` to every partition of the events topic. The
worker charges monthly fees in advance, suspends and terminates accounts, publishes every
transition on ``account.status`` (so switches can block numbers) and every fee and refund on
``ledger.entries``. A rebuild from offset 0 reaches the same state: ticks are in the log, at
one place in each account's order, and folds read no clock.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace

import pytest

from projections.events import AccountOpened, AccountStatus, PaymentReceived, PeriodTicked, TickKind, is_sealed
from schemas.codec import EventCodec
from streams.worker.supervise import worker_env
from streams.edge.publish import produce_events
from streams.kafka.reader import read_topic
from streams.edge.sealing import opener_for

from tests.integration.helpers import (
    live_states,
    merge_offsets,
    oracle,
    run_worker_to_end,
    state_differences,
    without_positions,
)

SEP_1 = 1_788_220_800_000  # 2026-09-01T00:00:00Z
OCT_1 = 1_790_812_800_000
NOV_1 = 1_793_491_200_000
HOUR = 3_600_000


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


def tick(settings, at: str) -> None:
    run = subprocess.run([sys.executable, "-m", "streams.cli", "tick", "--at", at], env=worker_env(settings),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert f"published to {settings.partitions} partition(s)" in run.stdout


def test_R12_R14_R23_R24_ticks_charge_fees_suspend_and_terminate_and_a_rebuild_agrees(settings, tmp_path):
    settings = replace(settings, monthly_fees=("basic:30.00",))
    accounts = {"acct-funded": 100_000_000, "acct-never-funded": 0, "acct-short": 35_000_000}
    events = []
    for n, (account_id, funds) in enumerate(accounts.items()):
        events.append(AccountOpened(f"open-{account_id}", account_id, SEP_1, "USD", "basic", "prepaid",
                                    (f"1555000010{n}",)))
        if funds:
            events.append(PaymentReceived(f"pay-{account_id}", account_id, SEP_1 + HOUR, funds, "USD"))
    offsets = asyncio.run(produce_events(settings, events))
    for at in ("2026-09-02T12:00:00Z", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z"):
        tick(settings, at)
    # Ticks' offsets: every partition got one message per tick.
    offsets = merge_offsets(offsets, {p: offsets.get(p, 0) + 4 for p in range(settings.partitions)})
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log") == 0

    live = live_states(settings)
    funded, never, short = live["acct-funded"], live["acct-never-funded"], live["acct-short"]
    # Funded 1 Sep: September 30.00 (a whole month), October and November in advance.
    assert funded.lifecycle.status is AccountStatus.ACTIVE and funded.balance_micros == 10_000_000
    assert funded.lifecycle.fee_period == "2026-11"
    # R12: no funds 36 h after registration.
    assert never.lifecycle.status is AccountStatus.TERMINATED
    assert never.lifecycle.reason == "NO_FUNDS_AFTER_REGISTRATION"
    # R23 on 1 October (5.00 < 30.00), R24 after one calendar month: the 5.00 is refunded.
    assert short.lifecycle.status is AccountStatus.TERMINATED and short.lifecycle.reason == "NON_PAYMENT"
    assert short.balance_micros == 0

    codec = EventCodec()
    changes = [codec.decode_event(m.value) for m in asyncio.run(read_topic(settings.broker, settings.account_status_topic))]
    assert sorted((c.account_id, c.old_status.value, c.new_status.value, c.reason) for c in changes) == [
        ("acct-funded", "REGISTERED", "ACTIVE", "funded"),
        ("acct-never-funded", "REGISTERED", "TERMINATED", "NO_FUNDS_AFTER_REGISTRATION"),
        ("acct-short", "ACTIVE", "SUSPENDED", "NON_PAYMENT"),
        ("acct-short", "REGISTERED", "ACTIVE", "funded"),
        ("acct-short", "SUSPENDED", "TERMINATED", "NON_PAYMENT"),
    ]
    ended = next(c for c in changes if c.account_id == "acct-short" and c.new_status is AccountStatus.TERMINATED)
    assert ended.effective_at_ms == OCT_1  # the unpaid period's start
    # The numbers a switch blocks travel sealed (R32); the switch opens them with the key store.
    opener = opener_for(settings)
    assert all(is_sealed(n) for n in ended.numbers)
    assert tuple(opener.open("acct-short", n) for n in ended.numbers) == ("15550000102",)

    entries = [e for m in asyncio.run(read_topic(settings.broker, settings.ledger_entries_topic))
               for e in codec.decode_journal_message(m.value)]
    assert sorted(e.entry_id for e in entries if e.kind in ("fee", "balance_refund")) == [
        "f:acct-funded/2026-09", "f:acct-funded/2026-10", "f:acct-funded/2026-11", "f:acct-short/2026-09",
        "rb:acct-short"]
    ticks_in_log = sorted(m.value for m in asyncio.run(read_topic(settings.broker, settings.events_topic))
                          if m.key == b"tick")
    assert len(ticks_in_log) == 4 * settings.partitions
    # A pure fold of the same events and ticks, in each account's order, from nothing.
    ticks = [PeriodTicked(f"tick:{at}", at, TickKind.HOUR, "")
             for at in (SEP_1 + 36 * HOUR, OCT_1, NOV_1, NOV_1 + HOUR)]
    assert not state_differences(live, oracle(settings, events + ticks))

    rebuild = replace(settings, app_id=settings.app_id + "-rebuild", metrics_port=0,
                      clickhouse_url=f"chdb://{tmp_path / 'chdb-rebuild'}")
    assert run_worker_to_end(rebuild, offsets, tmp_path / "rebuild.log") == 0
    assert without_positions(live_states(rebuild)) == without_positions(live)

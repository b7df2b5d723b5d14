"""A month's trial balance by ledger account (``voiceledger trial-balance``, ``GET
/v1/ledger/trial-balance``), read from the journal on the embedded engine and on Debian's 18.16
server, equals the same sums taken over the pure fold's journal entries: a simulated October of
calls, payments and postpaid accounts, its close on 1 November with monthly fees and taxes (R14,
R17), and a few November calls."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace

import pytest

from projections.account import Applied, Decided, Positioned, fold_batch
from projections.events import CallDetailRecord, PeriodTicked, TickKind
from projections.periods import period_start_ms
from streams.clickhouse.client import connect
from streams.clickhouse.journal import JOURNAL_COLUMNS, journal_rows
from streams.clickhouse.migrations import migrate
from streams.clickhouse.trial_balance import trial_balance, unbalanced
from streams.config.settings import EXAMPLE_TAX_RULES
from streams.dev.simulate import START_MS, SimulationSpec, simulate
from streams.worker.fold_settings import fold_settings_from
from streams.worker.supervise import worker_env
from tests.integration.conftest import engine_url
from tests.integration.api_scenario import api_process, call

NOVEMBER_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z
BOOKS = "America/Los_Angeles"  # a provider closing its books in its own zone (books_time_zone)


def journal_of(settings) -> list:  # noqa: ANN001 - Settings; returns JournalEntry
    """Every entry the pure fold posts for October and its close, and for early November."""
    october = simulate(SimulationSpec(accounts=30, calls=400, days=3, seed=11))
    shift = NOVEMBER_MS - START_MS  # the same calls a month later, a few of them
    november = [replace(e, event_id=f"nov-{e.event_id}", call_id=f"nov-{e.call_id}",
                        start_at_ms=e.start_at_ms + shift, end_at_ms=e.end_at_ms + shift,
                        answer_at_ms=None if e.answer_at_ms is None else e.answer_at_ms + shift)
                for e in october if isinstance(e, CallDetailRecord)][:50]
    close = PeriodTicked("tick-2026-11", NOVEMBER_MS, TickKind.PERIOD_START, "2026-11")
    fold = fold_settings_from(settings)
    by_account: dict[str, list[Positioned]] = defaultdict(list)
    for i, event in enumerate([*october, close, *november]):
        targets = list(by_account) if isinstance(event, PeriodTicked) else [event.account_id]
        for account in targets:
            by_account[account].append(Positioned("t/0", i, 0, 2**62, event))
    entries = []
    for items in by_account.values():
        for outcome in fold_batch(None, items, fold)[1]:
            if isinstance(outcome, Applied) and outcome.entry is not None:
                entries.append(outcome.entry)
            if isinstance(outcome, (Applied, Decided)):
                entries.extend(outcome.derived)
    return entries


def expected(entries: list, month_start_ms: int, month_end_ms: int) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(currency, ledger account with customers rolled up) -> (opening, debits, credits), by hand."""
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in entries:
        at_ms = entry.occurred_at_ms // 1000 * 1000  # the table keeps seconds
        if at_ms >= month_end_ms:
            continue
        for posting in entry.postings:
            name = "customer" if posting.ledger_account.startswith("customer:") else posting.ledger_account
            line = sums[(entry.currency, name)]
            if at_ms < month_start_ms:
                line[0] += posting.amount_micros
            elif posting.amount_micros > 0:
                line[1] += posting.amount_micros
            else:
                line[2] -= posting.amount_micros
    return {key: tuple(v) for key, v in sums.items()}


@pytest.fixture(params=["chdb", "server", pytest.param("cluster", marks=pytest.mark.cluster)])
def clickhouse_url(request, tmp_path):
    """Both engines, and the cluster (issue 21): the same FINAL query over the journal."""
    return engine_url(request, request.param, tmp_path)


def test_a_months_trial_balance_by_ledger_account_is_the_journals_own_sums_on_both_engines(settings, tmp_path):
    settings = replace(settings, monthly_fees=("residential-basic:9.99",), tax_rules=EXAMPLE_TAX_RULES)
    entries = journal_of(settings)
    kinds = {e.kind for e in entries}
    assert {"usage", "payment", "fee", "invoice"} <= kinds, kinds
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        migrate(ch)
        ch.insert("journal", JOURNAL_COLUMNS, [row for e in entries for row in journal_rows(e)])
        october = trial_balance(ch.query, "2026-10")
        november = trial_balance(ch.query, "2026-11")
        by_customer = trial_balance(ch.query, "2026-11", by_customer=True)
        books_month = trial_balance(ch.query, "2026-11", time_zone=BOOKS)
    finally:
        ch.close()  # the embedded engine takes one process at a time: closed before the CLI opens it
    oct_start, nov_start, dec_start = START_MS, NOVEMBER_MS, 1_796_083_200_000  # 2026-12-01
    for lines, start, end in ((october, oct_start, nov_start), (november, nov_start, dec_start)):
        assert {(x.currency, x.ledger_account): (x.opening_micros, x.debit_micros, x.credit_micros)
                for x in lines} == expected(entries, start, end)
        assert all(x.closing_micros == x.opening_micros + x.debit_micros - x.credit_micros for x in lines)
        assert unbalanced(lines) == [], "every entry balances, so every month does"
    assert {x.ledger_account for x in november} >= {"customer", "revenue:monthly", "revenue:usage:domestic"}
    assert any(x.ledger_account.startswith("tax:payable:") and x.credit_micros > 0 for x in november), "R17"
    closing = {(x.currency, x.ledger_account): x.closing_micros for x in october}
    assert all(closing.get((x.currency, x.ledger_account), 0) == x.opening_micros for x in november), \
        "a month opens where the one before closed"
    customers = [x for x in by_customer if x.ledger_account.startswith("customer:")]
    assert len(customers) == 30 and sum(x.closing_micros for x in customers) == sum(
        x.closing_micros for x in november if x.ledger_account == "customer")
    assert unbalanced([replace(october[0], debit_micros=october[0].debit_micros + 1)]) != [], "it can fail"
    # Books closed in Los Angeles: November starts seven hours after it does in UTC, after the
    # accounts (New York) had their November fees charged.
    zoned = expected(entries, period_start_ms("2026-11", BOOKS), period_start_ms("2026-12", BOOKS))
    assert {(x.currency, x.ledger_account): (x.opening_micros, x.debit_micros, x.credit_micros)
            for x in books_month} == zoned != expected(entries, nov_start, dec_start)

    done = subprocess.run([sys.executable, "-m", "streams.cli", "trial-balance", "--month", "2026-11", "--csv"],
                          env=worker_env(settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["currency"], r["ledger_account"], int(r["closing_micros"])) for r in rows] == [
        (x.currency, x.ledger_account, x.closing_micros) for x in november]
    books = subprocess.run([sys.executable, "-m", "streams.cli", "trial-balance", "--month", "2026-11", "--csv"],
                           env=worker_env(replace(settings, books_time_zone=BOOKS)), capture_output=True, text=True,
                           timeout=120)
    assert [tuple(r.values())[:3] for r in csv.DictReader(io.StringIO(books.stdout))] == [
        (x.currency, x.ledger_account, str(x.opening_micros)) for x in books_month], books.stderr
    with api_process(settings, tmp_path) as (_, base):
        status, body, _ = call(base, "GET", "/v1/ledger/trial-balance?month=2026-11", scope="finance")
        assert status == 200 and body["unbalanced"] == [] and body["time_zone"] == "UTC" and [
            (x["ledger_account"], x["opening_micros"], x["debit_micros"], x["credit_micros"]) for x in body["lines"]] == [
            (x.ledger_account, x.opening_micros, x.debit_micros, x.credit_micros) for x in november]
        assert call(base, "GET", "/v1/ledger/trial-balance?month=2026-11", scope="portal:acct-000001")[0] == 403
        assert call(base, "GET", "/v1/ledger/trial-balance?month=2026-13")[0] == 422

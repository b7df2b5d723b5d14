"""R11 aged receivables: ``voiceledger receivables`` reads the invoices and the journal a worker
writes, on the embedded engine and on Debian's 18.16 server, settles each account's invoices
first due first paid, and ages what is left as of a day (streams/clickhouse/receivables.py)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

from projections.events import ChargebackReceived, InvoiceIssued, InvoiceKind, InvoiceLine, PaymentReceived
from projections.journal import entry_for_chargeback, entry_for_payment
from projections.settlement import Due, Funds, settle
from streams.clickhouse.client import connect
from streams.clickhouse.invoices import INVOICE_COLUMNS, invoice_rows
from streams.clickhouse.journal import JOURNAL_COLUMNS, journal_rows
from streams.clickhouse.migrations import migrate
from streams.clickhouse.receivables import aged_receivables, as_of_ms, settlement
from streams.worker.supervise import worker_env
from tests.integration.api_scenario import api_process, call

M = 1_000_000


def at(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() * 1000)


def invoice(account: str, ref: str, issued: str, due: str, total: int, currency: str = "USD") -> InvoiceIssued:
    return InvoiceIssued(f"i-{ref}", account, at(issued), ref, InvoiceKind.REGULAR, issued[:7], currency,
                         (InvoiceLine("monthly", "Monthly service", 1, total),), total, due_at_ms=at(due))


def paid(account: str, n: int, day: str, amount: int, currency: str = "USD"):  # noqa: ANN201 - a JournalEntry
    return entry_for_payment(PaymentReceived(f"pay-{account}-{n}", account, at(day), amount, currency))


INVOICES = [
    invoice("acct-a", "a-09", "2026-10-01", "2026-10-15", 30 * M), invoice("acct-a", "a-10", "2026-11-01", "2026-11-15",
                                                                            20 * M),
    invoice("acct-a", "a-11", "2026-12-01", "2026-12-15", 10 * M),
    invoice("acct-a", "a-12", "2027-01-01", "2027-01-15", 99 * M),  # issued after the day asked
    invoice("acct-b", "b-06", "2026-07-01", "2026-07-15", 8 * M, "EUR"),
    invoice("acct-b", "b-12", "2026-12-31", "2027-01-14", 12 * M, "EUR"),
    invoice("acct-c", "c-11", "2026-11-01", "2026-11-15", 5 * M),
    invoice("acct-d", "d-07", "2026-07-20", "2026-08-01", 10 * M),
]
ENTRIES = [
    paid("acct-a", 1, "2026-10-20", 35 * M), paid("acct-a", 2, "2027-01-05", 100 * M),  # the second after the day
    paid("acct-c", 1, "2026-11-10", 5 * M),
    paid("acct-d", 1, "2026-07-25", 10 * M),
    entry_for_chargeback(ChargebackReceived("cb-d", "acct-d", at("2026-09-01"), 10 * M, "USD", "pay-acct-d-1")),
]


def test_R11_receivables_are_aged_by_days_past_due_as_of_a_day_on_both_engines(settings, tmp_path):
    clickhouse_url = settings.clickhouse_url
    ch = connect(clickhouse_url)
    try:
        migrate(ch)
        ch.insert("invoices", INVOICE_COLUMNS, [invoice_rows(i)[0] for i in INVOICES])
        ch.insert("journal", JOURNAL_COLUMNS, [r for e in ENTRIES for r in journal_rows(e)])
        aged = aged_receivables(ch.query, as_of_ms("2026-12-31"), chunk=2)  # chunks of two accounts
        # acct-a: 35.00 paid September's 30.00 and 5.00 of October's; October (due 15 Nov) is 47
        # days late on 1 January, November's 17. Neither January's invoice nor payment counts.
        # acct-b owes June's (170 days) and December's, not due yet; acct-c owes nothing;
        # acct-d's payment was taken back, so its July invoice is open again (153 days).
        assert [(a.account_id, a.currency, a.owed) for a in aged] == [
            ("acct-a", "USD", (0, 10 * M, 15 * M, 0, 0)),
            ("acct-b", "EUR", (12 * M, 0, 0, 0, 8 * M)),
            ("acct-d", "USD", (0, 0, 0, 0, 10 * M))]
        # One account, as the API reads it: the pure settlement of the same rows, January included.
        expected = settle([Due(i.invoice_number, i.due_at_ms, i.total_micros) for i in INVOICES
                           if i.account_id == "acct-a"],
                          [Funds(e.occurred_at_ms, -p.amount_micros) for e in ENTRIES if e.account_id == "acct-a"
                           for p in e.postings if p.ledger_account == "customer:acct-a"])
        assert settlement(ch.query, "acct-a") == expected
        assert (expected["a-11"].status, expected["a-12"].outstanding_micros) == ("paid", 24 * M)
    finally:
        ch.close()
    out = subprocess.run([sys.executable, "-m", "streams.cli", "receivables", "--as-of", "2026-12-31", "--csv"],
                         env=worker_env(settings), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "account_id,currency,not_due_micros,1_30_micros,31_60_micros,61_90_micros,over_90_micros," \
                       "total_micros"
    assert lines[1:] == ["acct-a,USD,0,10000000,15000000,0,0,25000000", "acct-b,EUR,12000000,0,0,0,8000000,20000000",
                         "acct-d,USD,0,0,0,0,10000000,10000000", "TOTAL,EUR,12000000,0,0,0,8000000,20000000",
                         "TOTAL,USD,0,10000000,15000000,0,10000000,35000000"]
    # The same report from the API, for finance's own tools.
    with api_process(settings, tmp_path) as (_, base):
        status, shown, _ = call(base, "GET", "/v1/receivables?as_of=2026-12-31", scope="finance")
        assert status == 200 and [",".join(map(str, a.values())) for a in shown["accounts"]] == lines[1:4]
        assert call(base, "GET", "/v1/receivables?as_of=2026-12-31", scope="portal:acct-000001")[0] == 403
        status, refused, _ = call(base, "GET", "/v1/receivables?as_of=2026-02-30", scope="finance")
        assert (status, refused["type"]) == (422, "https://voiceledger.dev/problems/invalid-date")

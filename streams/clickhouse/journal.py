"""The ClickHouse ``journal`` table: one row per posting, for finance. Duplicates collapse.

Ordered by ``(account_id, entry_id, line)`` in a ``ReplacingMergeTree``: an entry written again
after a crash is the same rows. Exact queries use ``FINAL``. Partitioned by month of the entry.
"""

from __future__ import annotations

from projections.journal import JournalEntry
from streams.clickhouse.client import ClickHouse


JOURNAL_COLUMNS = ("entry_id", "line", "account_id", "kind", "occurred_at", "currency",
                   "ledger_account", "amount_micros")




def journal_rows(entry: JournalEntry) -> list[tuple]:
    return [(entry.entry_id, line, entry.account_id, entry.kind, entry.occurred_at_ms // 1000,
             entry.currency, p.ledger_account, p.amount_micros) for line, p in enumerate(entry.postings)]


def customer_balances(ch: ClickHouse) -> dict[str, int]:
    """Balances recomputed from postings alone (the negated sum on ``customer:<id>``)."""
    rows = ch.query("SELECT account_id, toInt64(-sum(amount_micros)) FROM journal FINAL "
                    "WHERE ledger_account = concat('customer:', account_id) GROUP BY account_id")
    return {a: int(b) for a, b in rows}


def trial_balance(ch: ClickHouse) -> list[tuple]:
    """Per currency, the sum of every posting: zero when the books balance."""
    return [(c, int(s)) for c, s in
            ch.query("SELECT currency, toInt64(sum(amount_micros)) FROM journal FINAL GROUP BY currency ORDER BY currency")]


def usage_revenue(ch: ClickHouse) -> dict[str, int]:
    """Per currency, usage revenue (R16 usage categories): what the call log's charges must equal."""
    return {c: int(s) for c, s in ch.query(
        "SELECT currency, toInt64(-sum(amount_micros)) FROM journal FINAL "
        "WHERE ledger_account LIKE 'revenue:usage:%' GROUP BY currency")}


def corrections(ch: ClickHouse) -> list[tuple[str, int, int]]:
    """Per currency, carriers' corrections of calls (projections/corrections.py): how many, and
    the difference they posted to customers (negative: credited)."""
    return [(c, int(n), int(s)) for c, n, s in ch.query(
        "SELECT currency, count(), toInt64(sum(amount_micros)) FROM journal FINAL "
        "WHERE kind = 'usage_correction' AND ledger_account = concat('customer:', account_id) "
        "GROUP BY currency ORDER BY currency")]


def customer_debits_by_account(ch: ClickHouse) -> dict[str, int]:
    """Per account, every debit of its customer account (charges, fees, rounding, taxes; not
    payments): what its invoices together must equal once everything is invoiced."""
    return {a: int(s) for a, s in ch.query(
        "SELECT account_id, toInt64(sum(amount_micros)) FROM journal FINAL "
        "WHERE ledger_account = concat('customer:', account_id) AND kind NOT IN ('payment', 'refund', 'chargeback', "
        "'balance_refund') GROUP BY account_id")}

"""Finance reconciliation of a month, across the ClickHouse tables the worker writes.

``voiceledger reconcile --month YYYY-MM`` checks, with ``FINAL`` (exact) queries:

1. the trial balance: every posting ever made sums to zero per currency;
2. calls against the journal: per account and usage category (R16), the charges of the calls
   that started in the month (``call_log``) equal the usage revenue the journal posted for them;
3. each invoice issued in the month against itself and the journal: its total is the sum of its
   lines, and its tax lines equal what its close entry (``i:<number>``) credited to
   ``tax:payable:*`` (R17);
4. payments: the month's payments per currency, from the journal, are listed for the record.

Every difference is one line; the exit status is 1 when there is any. Months are calendar months
in the books' zone (``books_time_zone``, UTC by default; the tables store UTC); an account in
another zone has its R13 month a few hours apart, which the per-call check does not care about
(it compares the same calls on both sides).
"""

from __future__ import annotations

from projections.periods import next_period, period_start_ms
from streams.clickhouse.client import ClickHouse
from streams.clickhouse.cluster import sync_replicas


def month_bounds(month: str, time_zone: str = "UTC") -> tuple[str, str]:
    """SQL literals of the month's first second and the next month's, in ``time_zone`` (the
    books' zone), as epoch seconds: the tables store UTC, and a zone name never enters the SQL."""
    start_ms, end_ms = period_start_ms(month, time_zone), period_start_ms(next_period(month), time_zone)
    return f"toDateTime({start_ms // 1000})", f"toDateTime({end_ms // 1000})"


def reconcile(ch: ClickHouse, month: str, country_code: str, time_zone: str = "UTC") -> tuple[list[str], list[str]]:
    """(differences, summary lines) for ``month`` in ``time_zone``."""
    # On a cluster, a replica back from an outage may still be fetching its shard's parts, and a
    # query through the Distributed tables may read it: every replica that answers catches up
    # first, or rows that only lag read as differences (CI saw it once, 2026-12-06).
    for table in ("journal", "call_log"):
        sync_replicas(ch, table)
    start, end = month_bounds(month, time_zone)
    problems: list[str] = []
    summary: list[str] = []

    trial = ch.query("SELECT currency, toInt64(sum(amount_micros)) FROM journal FINAL GROUP BY currency ORDER BY currency")
    for currency, total in trial:
        if int(total) != 0:
            problems.append(f"trial balance in {currency} is {int(total)} micro-units, not 0")
    summary.append("trial balance: " + (", ".join(f"{c} {int(t)}" for c, t in trial) or "no postings"))

    cc = country_code.replace("'", "")
    # The category rating decided (call_log.category, in the account's own country); rows from
    # before it was kept are categorised by the deployment's country, as they were rated.
    category = (f"if(category != '', category, multiIf(connect_fee_micros > 0, 'premium', "
                f"substring(destination_prefix, 1, {len(cc)}) = '{cc}', 'domestic', 'international'))")
    calls = {(a, c): (int(n), int(s)) for a, c, n, s in ch.query(
        f"SELECT account_id, {category} AS usage_category, count(), toInt64(sum(charge_micros)) FROM call_log FINAL "
        f"WHERE start_at >= {start} AND start_at < {end} AND charge_micros != 0 GROUP BY account_id, usage_category")}
    posted = {(a, c[len("revenue:usage:"):]): int(s) for a, c, s in ch.query(
        "SELECT account_id, ledger_account, toInt64(-sum(amount_micros)) FROM journal FINAL "
        f"WHERE kind IN ('usage', 'usage_correction') AND ledger_account LIKE 'revenue:usage:%' "
        f"AND occurred_at >= {start} "
        f"AND occurred_at < {end} GROUP BY account_id, ledger_account")}
    for key in sorted(set(calls) | set(posted)):
        logged, journal = calls.get(key, (0, 0))[1], posted.get(key, 0)
        if logged != journal:
            problems.append(f"{key[0]} usage:{key[1]}: call log charges {logged} but journal usage revenue {journal}")
    summary.append(f"calls: {sum(n for n, _ in calls.values())} charged calls in {len(calls)} account/category "
                   "groups checked against the journal")

    totals = {n: (a, int(t)) for n, a, t in ch.query(
        f"SELECT invoice_number, account_id, total_micros FROM invoices FINAL WHERE issued_at >= {start} "
        f"AND issued_at < {end}")}
    lines = {n: (int(s), int(tax)) for n, s, tax in ch.query(
        "SELECT invoice_number, toInt64(sum(amount_micros)), "
        "toInt64(sumIf(amount_micros, substring(category, 1, 4) = 'tax:')) FROM invoice_lines FINAL "
        f"WHERE issued_at >= {start} AND issued_at < {end} GROUP BY invoice_number")}
    taxes = {e[len("i:"):]: int(s) for e, s in ch.query(
        "SELECT entry_id, toInt64(-sum(amount_micros)) FROM journal FINAL WHERE kind = 'invoice' "
        f"AND ledger_account LIKE 'tax:payable:%' AND occurred_at >= {start} AND occurred_at < {end} GROUP BY entry_id")}
    for number, (account, total) in sorted(totals.items()):
        line_sum, line_tax = lines.get(number, (0, 0))
        if line_sum != total:
            problems.append(f"{account} invoice {number}: total {total} but its lines sum to {line_sum}")
        if line_tax != taxes.get(number, 0):
            problems.append(f"{account} invoice {number}: tax lines {line_tax} but the journal's tax payable "
                            f"{taxes.get(number, 0)}")
    summary.append(f"invoices: {len(totals)} issued in {month}, totals and taxes checked against lines and journal")

    for currency, n, paid in ch.query(
            "SELECT currency, count(), toInt64(-sum(amount_micros)) FROM journal FINAL WHERE kind = 'payment' "
            f"AND ledger_account = concat('customer:', account_id) AND occurred_at >= {start} AND occurred_at < {end} "
            "GROUP BY currency ORDER BY currency"):
        summary.append(f"payments {currency}: {int(n)} received, {int(paid)} micro-units")
    return problems, summary

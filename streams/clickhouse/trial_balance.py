"""A month's trial balance by ledger account: what finance posts to its general ledger.

The journal (``streams/clickhouse/journal.py``) holds every posting the worker made, debits
positive and credits negative, by ledger account (the chart of accounts in
``docs/operations.md``). An accountant closing a month needs, per currency and ledger account,
the balance it opened with, the month's debits and credits, and the balance it closed with; the
customers' own accounts (``customer:<account id>``) roll up into one control account,
``customer`` (prepaid funds and receivables), unless the sub-ledger is asked for.

Months are calendar months in the books' zone (``books_time_zone``), by each posting's time, as
``voiceledger reconcile`` reads them.
Every figure comes from one ``FINAL`` query over the journal up to the month's end: the opening
balances need every posting before the month (the log keeps no snapshot to start from), so the
query reads the whole journal's history once.

A journal whose entries each balance gives, per currency, openings and closings that sum to zero
and debits equal to credits; ``unbalanced`` names any currency that does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streams.clickhouse.reconcile import month_bounds

CUSTOMER_PREFIX = "customer:"  # a customer's own ledger account; rolled into CUSTOMER_CONTROL
CUSTOMER_CONTROL = "customer"


@dataclass(frozen=True)
class LedgerLine:
    """One ledger account in one currency: micro-units, a debit balance positive."""

    currency: str
    ledger_account: str
    opening_micros: int
    debit_micros: int  # the month's debits
    credit_micros: int  # the month's credits, as a positive amount
    closing_micros: int  # opening + debits - credits


def trial_balance(query: Callable[[str], list], month: str, by_customer: bool = False,
                  time_zone: str = "UTC") -> list[LedgerLine]:
    """``month``'s lines (YYYY-MM, in the books' ``time_zone``), by currency then ledger account.
    ``by_customer``: each customer's own account instead of the control account (a line per customer)."""
    start, end = month_bounds(month, time_zone)
    account = ("ledger_account" if by_customer else
               f"if(substring(ledger_account, 1, {len(CUSTOMER_PREFIX)}) = '{CUSTOMER_PREFIX}', "
               f"'{CUSTOMER_CONTROL}', ledger_account)")
    rows = query(
        f"SELECT currency, {account} AS ledger, "
        f"toInt64(sumIf(amount_micros, occurred_at < {start})), "
        f"toInt64(sumIf(amount_micros, occurred_at >= {start} AND amount_micros > 0)), "
        f"toInt64(-sumIf(amount_micros, occurred_at >= {start} AND amount_micros < 0)) "
        f"FROM journal FINAL WHERE occurred_at < {end} GROUP BY currency, ledger ORDER BY currency, ledger")
    return [LedgerLine(c, a, int(o), int(d), int(k), int(o) + int(d) - int(k)) for c, a, o, d, k in rows]


def unbalanced(lines: list[LedgerLine]) -> list[str]:
    """One line per currency whose trial balance does not balance (none for a sound journal)."""
    sums: dict[str, list[int]] = {}
    for line in lines:
        s = sums.setdefault(line.currency, [0, 0, 0, 0])
        s[0] += line.opening_micros
        s[1] += line.debit_micros
        s[2] += line.credit_micros
        s[3] += line.closing_micros
    return [f"{currency}: openings sum to {o}, debits {d} against credits {k}, closings sum to {c} (micro-units)"
            for currency, (o, d, k, c) in sorted(sums.items()) if o or c or d != k]

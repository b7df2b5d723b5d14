"""What accounts owe on their invoices, read from ClickHouse and settled first due first paid (R11).

The API shows one account's invoices with what its money paid of each
(``streams/api/read_model.py: settlement``); ``voiceledger receivables`` ages every account's
open invoices as of a day, the report finance closes a month with: per account and in total per
currency, what is not yet due and what is 1-30, 31-60, 61-90 and over 90 days past due.

Both read the same two things (every invoice, and every payment, refund, chargeback and
termination refund of the customer's ledger account) and settle them with the pure
``projections/settlement.py``, so the page and the report cannot disagree. The report reads the
accounts in chunks (two queries a chunk), so its memory is one chunk's invoices, not the ledger's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time as dt_time, timedelta

from projections.periods import zone
from projections.settlement import Due, Funds, Settled, settle
from streams.clickhouse.client import quoted

# Journal kinds of money in and back out (everything else is a charge), as statements count them;
# a termination's refund of the balance takes funds out too (credit notes come from the invoices).
PAYMENT_KINDS = ("payment", "refund", "chargeback")
FUNDS_KINDS = (*PAYMENT_KINDS, "balance_refund")
AGE_BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")  # days past due, as of the day asked
ACCOUNTS_A_CHUNK = 5_000
DAY_MS = 86_400_000


def _dues_sql(where: str, before_s: int) -> str:
    return ("SELECT account_id, currency, invoice_number, toUnixTimestamp(issued_at), due_at, total_micros "
            f"FROM invoices FINAL WHERE {where} AND issued_at < toDateTime({int(before_s)})")


def _funds_sql(where: str, before_s: int) -> str:
    kinds = ", ".join(quoted(k) for k in FUNDS_KINDS)
    return ("SELECT account_id, toUnixTimestamp(occurred_at), toInt64(-amount_micros) FROM journal FINAL "
            f"WHERE {where} AND ledger_account = concat('customer:', account_id) AND kind IN ({kinds}) "
            f"AND occurred_at < toDateTime({int(before_s)})")


def settled_by_account(rows: Callable[[str], list[tuple]], where: str, before_s: int
                       ) -> dict[str, tuple[str, list[Due], dict[str, Settled]]]:
    """account -> (currency, its invoices as dues, R11's answer per invoice), for the accounts
    ``where`` selects, from the invoices and funds dated before ``before_s``."""
    dues: dict[str, tuple[str, list[Due]]] = {}
    for account_id, currency, ref, issued_s, due_s, total in rows(_dues_sql(where, before_s)):
        dues.setdefault(account_id, (currency, []))[1].append(Due(ref, int(due_s or issued_s) * 1000, int(total)))
    funds: dict[str, list[Funds]] = {}
    if dues:
        for account_id, at_s, amount in rows(_funds_sql(where, before_s)):
            funds.setdefault(account_id, []).append(Funds(int(at_s) * 1000, int(amount)))
    return {a: (currency, ds, settle(ds, funds.get(a, []))) for a, (currency, ds) in dues.items()}


def settlement(rows: Callable[[str], list[tuple]], account_id: str, before_s: int = 2**32 - 1) -> dict[str, Settled]:
    """R11's answer for one account's invoices (the API's invoice list)."""
    found = settled_by_account(rows, f"account_id = {quoted(account_id)}", before_s)
    return found[account_id][2] if account_id in found else {}


@dataclass(frozen=True)
class Aged:
    account_id: str
    currency: str
    owed: tuple[int, ...]  # micro-units outstanding per AGE_BUCKETS

    @property
    def total(self) -> int:
        return sum(self.owed)


def age(currency: str, dues: list[Due], settled: dict[str, Settled], as_of_ms: int, account_id: str) -> Aged | None:
    """One account's outstanding invoices by days past due at ``as_of_ms``; None if it owes nothing."""
    owed = [0] * len(AGE_BUCKETS)
    for due in dues:
        left = settled[due.reference].outstanding_micros
        if left > 0:
            late_days = (as_of_ms - due.due_at_ms) // DAY_MS if as_of_ms > due.due_at_ms else -1
            owed[0 if late_days < 0 else 1 if late_days < 31 else 2 if late_days < 61 else 3 if late_days < 91
                 else 4] += left
    return Aged(account_id, currency, tuple(owed)) if any(owed) else None


def aged_receivables(rows: Callable[[str], list[tuple]], as_of_ms: int,
                     chunk: int = ACCOUNTS_A_CHUNK) -> list[Aged]:
    """Every account that owes on an invoice issued before ``as_of_ms`` (00:00 of the day after
    the one asked, in the books' zone), with what it owes by age, in account order."""
    before_s = as_of_ms // 1000
    accounts = [a for (a,) in rows("SELECT DISTINCT account_id FROM invoices FINAL "
                                   f"WHERE issued_at < toDateTime({before_s}) ORDER BY account_id")]
    out: list[Aged] = []
    for i in range(0, len(accounts), chunk):
        first, last = accounts[i], accounts[min(i + chunk, len(accounts)) - 1]
        found = settled_by_account(rows, f"account_id >= {quoted(first)} AND account_id <= {quoted(last)}", before_s)
        for account_id in sorted(found):
            currency, dues, settled = found[account_id]
            aged = age(currency, dues, settled, as_of_ms, account_id)
            if aged is not None:
                out.append(aged)
    return out


def as_of_ms(day: str, time_zone: str = "UTC") -> int:
    """The end of ``day`` (YYYY-MM-DD) in the books' ``time_zone``: what was issued and received
    that day counts. ValueError for a day the calendar does not have."""
    following = datetime.strptime(day, "%Y-%m-%d").date() + timedelta(days=1)
    return int(datetime.combine(following, dt_time(0), tzinfo=zone(time_zone)).timestamp()) * 1000

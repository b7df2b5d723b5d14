"""The API's reads: an account, its balance, statements (R20), invoices and call records (R33),
from the read models the worker writes to ClickHouse (``accounts``, ``journal``, ``invoices``,
``invoice_numbers``, ``call_log``, ``dead_letters``).

Why ClickHouse and not the owning worker: any number of stateless API processes answer reads
without a hop to the worker that owns the account, a busy fold never slows a customer's page,
and finance reads the same tables. The cost is a lag of one batch (about a second) behind the
log, which a statement or an invoice does not notice. Authorization, which must see the
newest balance and places a hold, stays on the worker (``streams/http/authorization.py``).

Each API thread keeps one ClickHouse connection (clickhouse-driver clients are not
thread-safe) and opens it again after a failure. Values put into SQL passed the models'
patterns (letters, digits and ``._:/-``) and are quoted besides.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from projections.periods import next_period, period_start_ms
from projections.settlement import Settled
from streams.api.problems import Problem
from streams.clickhouse import receivables
from streams.clickhouse.client import ClickHouse, connect, quoted
from streams.config.settings import Settings

PAYMENT_KINDS = receivables.PAYMENT_KINDS  # money in and back out; everything else is a charge


class Reader:
    """One ClickHouse connection per thread, opened on first use and again after a failure."""

    def __init__(self, url: str, opener: Callable[..., ClickHouse] = connect, cluster: str = "") -> None:
        self.url = url
        self.cluster = cluster
        self._opener = opener
        self._local = threading.local()

    @classmethod
    def of(cls, settings: Settings) -> "Reader":
        return cls(settings.clickhouse_url, cluster=settings.clickhouse_cluster)

    def rows(self, sql: str) -> list[tuple]:
        """Rows of one query; ClickHouse down (or its tables not made yet) is a 503."""
        try:
            ch = getattr(self._local, "ch", None)
            if ch is None:
                ch = self._local.ch = self._opener(self.url, self.cluster)
            return ch.query(sql)
        except Exception as exc:  # the read model is not there (yet) or ClickHouse is down
            self._drop()
            raise Problem(503, "read-model-unavailable", f"ClickHouse could not answer: {type(exc).__name__}") from None

    def _drop(self) -> None:
        ch, self._local.ch = getattr(self._local, "ch", None), None
        if ch is not None:
            try:
                ch.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped anyway
                pass


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    currency: str
    plan: str
    pending_plan: str
    billing_mode: str
    status: str
    status_reason: str
    status_since_s: int
    time_zone: str
    country_code: str
    tax_jurisdiction: str
    opened_at_s: int
    balance_micros: int
    paid_micros: int
    charged_micros: int
    calls_charged: int
    open_disputes: int
    newest_event_s: int
    credit_limit_micros: int  # R10: the account's own (CreditLimitSet); -1: its plan's
    locale: str  # the customer's language ("": the deployment's invoice_locale)


_ACCOUNT_SQL = ("SELECT account_id, currency, plan, pending_plan, billing_mode, status, status_reason, "
                "toUnixTimestamp(status_since), time_zone, country_code, tax_jurisdiction, toUnixTimestamp(opened_at), "
                "balance_micros, paid_micros, charged_micros, calls_charged, open_disputes, "
                "toUnixTimestamp(newest_event_at), credit_limit_micros, locale FROM accounts FINAL")


def account(reader: Reader, account_id: str) -> AccountRow:
    rows = reader.rows(f"{_ACCOUNT_SQL} WHERE account_id = {quoted(account_id)}")
    if not rows:
        raise Problem(404, "unknown-account", f"no account {account_id} (or the worker has not folded its opening yet)")
    return AccountRow(*rows[0])


def locale_of(reader: Reader, account_id: str) -> str:
    """The customer's language as the account's newest row has it; "" for the deployment's (or no
    account yet)."""
    rows = reader.rows(f"SELECT argMax(locale, version) FROM accounts WHERE account_id = {quoted(account_id)}")
    return rows[0][0] if rows else ""


@dataclass(frozen=True)
class AccountFilter:
    """What ``GET /v1/accounts`` selects by; empty: any."""

    status: str = ""
    plan: str = ""
    currency: str = ""
    billing_mode: str = ""
    prefix: str = ""
    owing: bool = False  # a balance below zero


# Each account's newest row by its log position (``version``), aggregated rather than read
# through FINAL: a filter on a column that changes (status, balance) must see the newest row
# only, and ClickHouse 19.x-21.6 moved a WHERE on such a column before FINAL's merge (PREWHERE;
# ClickHouse issue 8684), which would list an account by a status it no longer has.
_NEWEST = {column: f"argMax({column}, version)" for column in (  # AccountRow's fields after the id, in order
    "currency", "plan", "pending_plan", "billing_mode", "status", "status_reason", "toUnixTimestamp(status_since)",
    "time_zone", "country_code", "tax_jurisdiction", "toUnixTimestamp(opened_at)", "balance_micros", "paid_micros",
    "charged_micros", "calls_charged", "open_disputes", "toUnixTimestamp(newest_event_at)", "credit_limit_micros",
    "locale")}
_FILTERED = ("status", "plan", "currency", "billing_mode")  # AccountFilter's fields that are columns too


WINDOWS_ROWS = (20_000, 320_000)  # the rows a page's steps aggregate before the rest of the table


def list_accounts(reader: Reader, selected: AccountFilter, after: str, limit: int) -> list[AccountRow]:
    """A page of the accounts ``selected`` picks, in id order, from the first id after ``after``
    (keyset paging: a page never skips or repeats an account when others are opened meanwhile).

    Why in steps: aggregating every account after ``after`` cost ~1.5 s a page at 1M accounts on
    the 18.16 server. A step reads only the ids of the next rows in key order (``WINDOWS_ROWS``),
    then aggregates that range of the sorting key alone, every row of its accounts included:
    ~0.1 s for a full page of the first 20,000 rows. A page still short after the steps (a rare
    filter) aggregates the rest of the table once, as before."""
    prefix = _prefix_filter(selected.prefix)
    having = [f"{_NEWEST[name]} = {quoted(getattr(selected, name))}" for name in _FILTERED if getattr(selected, name)]
    if selected.owing:
        having.append(f"{_NEWEST['balance_micros']} < 0")

    def aggregated(after: str, upper: str | None, wanted: int) -> list[AccountRow]:
        bounded = "" if upper is None else f" AND account_id <= {quoted(upper)}"
        return [AccountRow(*r) for r in reader.rows(
            f"SELECT account_id, {', '.join(_NEWEST.values())} FROM accounts "
            f"WHERE account_id > {quoted(after)}{prefix}{bounded} GROUP BY account_id "
            f"{'HAVING ' + ' AND '.join(having) if having else ''} ORDER BY account_id LIMIT {int(wanted)}")]

    found: list[AccountRow] = []
    for window in WINDOWS_ROWS:
        (upper, rows_read), = reader.rows(f"SELECT max(account_id), count() FROM (SELECT account_id FROM accounts "
                                          f"WHERE account_id > {quoted(after)}{prefix} ORDER BY account_id "
                                          f"LIMIT {int(window)})")
        if rows_read < window:  # the window reaches the table's end
            return found + (aggregated(after, None, limit - len(found)) if rows_read else [])
        found += aggregated(after, upper, limit - len(found))
        if len(found) == limit:
            return found
        after = upper  # the next step starts past every row of the accounts this one read
    return found + aggregated(after, None, limit - len(found))


def _prefix_filter(prefix: str) -> str:
    """Ids starting with ``prefix``: on the sorting key, filtered before aggregation (startsWith is newer than 18.16)."""
    return f" AND substring(account_id, 1, {len(prefix)}) = {quoted(prefix)}" if prefix else ""


def find_accounts(reader: Reader, prefix: str, limit: int = 50) -> list[AccountRow]:
    """Accounts whose id starts with ``prefix``, in id order (the console's search)."""
    rows = reader.rows(f"{_ACCOUNT_SQL} WHERE substring(account_id, 1, {len(prefix)}) = {quoted(prefix)} ORDER BY account_id "
                       f"LIMIT {int(limit)}")
    return [AccountRow(*r) for r in rows]


def journal_balance(reader: Reader, account_id: str) -> tuple[str, int, int] | None:
    """(currency, balance, postings) from the customer's postings alone: what finance reconciles."""
    rows = reader.rows("SELECT currency, toInt64(-sum(amount_micros)), count() FROM journal FINAL "
                       f"WHERE account_id = {quoted(account_id)} AND ledger_account = {quoted('customer:' + account_id)} "
                       "GROUP BY currency")
    return (rows[0][0], int(rows[0][1]), int(rows[0][2])) if rows else None


@dataclass(frozen=True)
class Movement:
    """What a month's postings did to the customer's balance, by kind."""

    kind: str
    count: int
    amount_micros: int  # + raised the balance (a payment, a credit), - lowered it (a charge)


@dataclass(frozen=True)
class Posted:
    entry_id: str
    kind: str
    at_s: int
    amount_micros: int


def month_bounds_s(month: str, time_zone: str) -> tuple[int, int]:
    """The month's first second and the next month's, in the account's zone (R13)."""
    return period_start_ms(month, time_zone) // 1000, period_start_ms(next_period(month), time_zone) // 1000


def balance_before(reader: Reader, account_id: str, at_s: int) -> int:
    rows = reader.rows(f"SELECT toInt64(-sum(amount_micros)) FROM journal FINAL WHERE account_id = {quoted(account_id)} "
                       f"AND ledger_account = {quoted('customer:' + account_id)} AND occurred_at < toDateTime({int(at_s)})")
    return int(rows[0][0] or 0) if rows else 0


def movements(reader: Reader, account_id: str, start_s: int, end_s: int) -> list[Movement]:
    rows = reader.rows(f"SELECT kind, count(), toInt64(-sum(amount_micros)) FROM journal FINAL "
                       f"WHERE account_id = {quoted(account_id)} AND ledger_account = {quoted('customer:' + account_id)} "
                       f"AND occurred_at >= toDateTime({int(start_s)}) AND occurred_at < toDateTime({int(end_s)}) "
                       "GROUP BY kind ORDER BY kind")
    return [Movement(k, int(n), int(a)) for k, n, a in rows]


def payments(reader: Reader, account_id: str, start_s: int, end_s: int, limit: int = 200) -> list[Posted]:
    kinds = ", ".join(quoted(k) for k in PAYMENT_KINDS)
    rows = reader.rows(f"SELECT entry_id, kind, toUnixTimestamp(occurred_at), toInt64(-amount_micros) FROM journal FINAL "
                       f"WHERE account_id = {quoted(account_id)} AND ledger_account = {quoted('customer:' + account_id)} "
                       f"AND kind IN ({kinds}) AND occurred_at >= toDateTime({int(start_s)}) "
                       f"AND occurred_at < toDateTime({int(end_s)}) ORDER BY occurred_at DESC, entry_id LIMIT {int(limit)}")
    return [Posted(e, k, int(t), int(a)) for e, k, t, a in rows]


@dataclass(frozen=True)
class InvoiceRow:
    reference: str
    legal_number: str  # "" until the numbering stage gives it
    kind: str
    period: str
    issued_at_s: int
    currency: str
    total_micros: int
    payments_micros: int
    balance_micros: int
    time_zone: str
    due_at_s: int  # 0: not due (a credit note)
    customer: tuple[str, str, str]  # name, address, tax id, sealed as issued
    corrects: str  # a credit note: the reference of the invoice it corrects
    locale: str  # the language it was issued in ("": the deployment's invoice_locale)


_INVOICE_SQL = ("SELECT invoice_number, kind, period, toUnixTimestamp(issued_at), currency, total_micros, "
                "payments_micros, balance_micros, time_zone, due_at, customer_name, billing_address, customer_tax_id, "
                "corrects, locale FROM invoices FINAL WHERE account_id = {account}")


def _numbered(reader: Reader, account_id: str, rows: list[tuple]) -> list[InvoiceRow]:
    """Rows with their legal numbers (two queries, not a JOIN: the same SQL on every server)."""
    numbers = dict(reader.rows("SELECT reference, number FROM invoice_numbers FINAL "
                               f"WHERE account_id = {quoted(account_id)}")) if rows else {}
    return [InvoiceRow(r[0], numbers.get(r[0], ""), *r[1:9], int(r[9]), (r[10], r[11], r[12]), r[13], r[14])
            for r in rows]


def legal_numbers(reader: Reader, account_id: str) -> dict[str, str]:
    """reference -> legal number, of the account's invoices numbered so far."""
    return dict(reader.rows(f"SELECT reference, number FROM invoice_numbers FINAL WHERE account_id = {quoted(account_id)}"))


def invoices(reader: Reader, account_id: str, limit: int = 100) -> list[InvoiceRow]:
    sql = _INVOICE_SQL.format(account=quoted(account_id))
    return _numbered(reader, account_id, reader.rows(f"{sql} ORDER BY issued_at DESC, invoice_number DESC "
                                                     f"LIMIT {int(limit)}"))


def invoice(reader: Reader, account_id: str, number: str) -> InvoiceRow:
    """One invoice by its reference or its legal number."""
    references = [r for (r,) in reader.rows("SELECT reference FROM invoice_numbers FINAL WHERE account_id = "
                                            f"{quoted(account_id)} AND number = {quoted(number)}")]
    sql = _INVOICE_SQL.format(account=quoted(account_id))
    found = _numbered(reader, account_id, reader.rows(f"{sql} AND invoice_number = {quoted(references[0] if references else number)}"))
    if not found:
        raise Problem(404, "unknown-invoice", f"account {account_id} has no invoice {number}")
    return found[0]


def settlement(reader: Reader, account_id: str) -> dict[str, Settled]:
    """R11: what the account's money has paid of each of its invoices, first due first paid
    (``streams/clickhouse/receivables.py``, as ``voiceledger receivables`` reads it)."""
    return receivables.settlement(reader.rows, account_id)


def invoice_lines(reader: Reader, reference: str) -> list[tuple[str, str, int, int]]:
    """(category, description, quantity, amount) of an invoice, in order."""
    rows = reader.rows("SELECT category, description, quantity, amount_micros FROM invoice_lines FINAL "
                       f"WHERE invoice_number = {quoted(reference)} ORDER BY line")
    return [(c, d, int(q), int(a)) for c, d, q, a in rows]


def dead_letters(reader: Reader, account_id: str, limit: int = 50) -> list[tuple]:
    """(topic, partition, offset, index, reason code, reason, logged at) of the account's refused events."""
    return reader.rows("SELECT source_topic, source_partition, source_offset, source_index, reason_code, reason, "
                       f"toUnixTimestamp(logged_at) FROM dead_letters FINAL WHERE account_id = {quoted(account_id)} "
                       f"ORDER BY logged_at DESC, source_offset DESC LIMIT {int(limit)}")


CALL_COLUMNS = ("call_key, toUnixTimestamp(start_at), toUnixTimestamp(answer_at), toUnixTimestamp(end_at), direction, "
                "caller, callee, destination_name, billed_s, charge_micros, currency, revision")


def calls(reader: Reader, account_id: str, limit: int, offset: int, bounds_s: tuple[int, int] | None = None,
          ) -> list[tuple]:
    """R33: the account's call records, newest first, those started within ``bounds_s`` ([start,
    end) epoch seconds: a month) if given; one more than ``limit`` says a next page exists."""
    return reader.rows(f"SELECT {CALL_COLUMNS} FROM call_log FINAL WHERE {_calls_of(account_id, bounds_s)} "
                       f"ORDER BY start_at DESC, call_key LIMIT {int(limit) + 1} OFFSET {int(offset)}")


def call_totals(reader: Reader, account_id: str, bounds_s: tuple[int, int]) -> tuple[int, int]:
    """(calls, charges in micro-units) of the calls started within ``bounds_s``."""
    rows = reader.rows(f"SELECT count(), toInt64(sum(charge_micros)) FROM call_log FINAL "
                       f"WHERE {_calls_of(account_id, bounds_s)}")
    return (int(rows[0][0]), int(rows[0][1] or 0)) if rows else (0, 0)


def calls_in_order(reader: Reader, account_id: str, bounds_s: tuple[int, int], page: int = 5_000,
                   ) -> Iterator[list[tuple]]:
    """Every call started within ``bounds_s``, oldest first, a page at a time: each page starts
    after the last one's (start, key), so a month of a call centre is never held whole."""
    after = ""
    while True:
        rows = reader.rows(f"SELECT {CALL_COLUMNS} FROM call_log FINAL WHERE {_calls_of(account_id, bounds_s)}{after} "
                           f"ORDER BY start_at, call_key LIMIT {int(page)}")
        if rows:
            yield rows
        if len(rows) < page:
            return
        last_start, last_key = int(rows[-1][1]), rows[-1][0]
        after = (f" AND (start_at > toDateTime({last_start}) OR (start_at = toDateTime({last_start}) "
                 f"AND call_key > {quoted(last_key)}))")


def _calls_of(account_id: str, bounds_s: tuple[int, int] | None) -> str:
    where = f"account_id = {quoted(account_id)}"
    if bounds_s is not None:
        where += f" AND start_at >= toDateTime({int(bounds_s[0])}) AND start_at < toDateTime({int(bounds_s[1])})"
    return where


@dataclass(frozen=True)
class DisputeRow:
    account_id: str
    dispute_id: str
    invoice: str  # the disputed invoice's reference
    amount_micros: int
    currency: str
    reason: str
    opened_at_s: int
    outcome: str  # "" while open; CUSTOMER_FAVOUR or PROVIDER_FAVOUR
    credit_micros: int
    resolved_at_s: int  # 0 while open


# Each dispute's two facts as one row (streams/clickhouse/disputes.py): aggregated, not FINAL, so
# a fact written twice by a replayed batch counts once, on one server as on a cluster.
_DISPUTE_SQL = ("SELECT account_id, dispute_id, anyIf(invoice, fact = 'opened'), anyIf(amount_micros, fact = 'opened'), "
                "any(currency), anyIf(reason, fact = 'opened'), toUnixTimestamp(minIf(at, fact = 'opened')), "
                "anyIf(outcome, fact = 'resolved'), anyIf(credit_micros, fact = 'resolved'), "
                "toUnixTimestamp(maxIf(at, fact = 'resolved')) FROM disputes WHERE {where} "
                "GROUP BY account_id, dispute_id HAVING countIf(fact = 'opened') > 0{having} ORDER BY {order} LIMIT {limit}")


def disputes(reader: Reader, account_id: str, limit: int = 100) -> list[DisputeRow]:
    """R19: the account's disputes, newest first, open or resolved."""
    sql = _DISPUTE_SQL.format(where=f"account_id = {quoted(account_id)}", having="",
                              order="minIf(at, fact = 'opened') DESC, dispute_id", limit=int(limit))
    return [_dispute(r) for r in reader.rows(sql)]


def open_disputes(reader: Reader, limit: int = 200) -> list[DisputeRow]:
    """R19: every dispute still waiting for an answer, the oldest first (the operators' queue)."""
    sql = _DISPUTE_SQL.format(where="1", having=" AND countIf(fact = 'resolved') = 0",
                              order="minIf(at, fact = 'opened'), account_id, dispute_id", limit=int(limit))
    return [_dispute(r) for r in reader.rows(sql)]


def _dispute(row: tuple) -> DisputeRow:
    account_id, dispute_id, invoice, amount, currency, reason, opened_s, outcome, credit, resolved_s = row
    return DisputeRow(account_id, dispute_id, invoice, int(amount), currency, reason, int(opened_s), outcome,
                      int(credit), int(resolved_s) if outcome else 0)


def numbers_of(reader: Reader, references: set[str]) -> dict[str, str]:
    """The legal numbers of these invoice references, where the numbering stage has given them."""
    if not references:
        return {}
    listed = ", ".join(quoted(r) for r in sorted(references))
    return dict(reader.rows(f"SELECT reference, number FROM invoice_numbers FINAL WHERE reference IN ({listed})"))


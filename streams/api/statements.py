"""Statements (R20) and invoices as the API and the portal give them, from the read model.

A statement of a month, in the account's zone (R13): the balance at its start (every posting
before it), the payments (net of refunds and chargebacks) and the charges (net of credits) posted
in it by kind, the balance at its end, and the invoices issued in it. Which month is current is
the one place wall time enters: the request's. R20 makes the current month and the three
before it available; any other is refused with the months that can be asked for.

An invoice is rebuilt from its rows as the ``InvoiceIssued`` the worker issued, so its HTML and
PDF come from the same renderer as every other copy (``streams/documents/invoice.py``).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from projections.events import InvoiceIssued, InvoiceKind, InvoiceLine
from projections.invoicing import DISPUTE_WINDOW_MS
from projections.periods import period_of, previous_period
from projections.settlement import Settled
from streams.api import read_model as rm
from streams.api.models import InvoiceDocument, InvoiceLineOut, InvoiceSummary, MovementLine, PaymentLine, Statement
from streams.api.problems import Problem
from streams.documents.invoice import Legal, legal_for
from streams.documents.statement import available_months


def iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(int(epoch_s), timezone.utc).isoformat().replace("+00:00", "Z")


def months_of(account: rm.AccountRow, now_ms: int | None = None) -> list[str]:
    """R20: the current month in the account's zone, then the three before it."""
    return available_months(period_of(now_ms if now_ms is not None else int(time.time() * 1000), account.time_zone))


# R30 keeps calls five years: the months whose calls a customer may list, the current one included.
CALL_MONTHS_MAX = 61


def call_months(account: rm.AccountRow, now_ms: int | None = None) -> list[str]:
    """R33: the months of the account's calls a customer may pick, newest first: the current month
    in the account's zone back to the one it was opened in, at most five years of them."""
    month = period_of(now_ms if now_ms is not None else int(time.time() * 1000), account.time_zone)
    first = period_of(account.opened_at_s * 1000, account.time_zone)
    months = [month]
    while months[-1] > first and len(months) < CALL_MONTHS_MAX:
        months.append(previous_period(months[-1]))
    return months


def statement(reader: rm.Reader, account_id: str, month: str, now_ms: int | None = None) -> Statement:
    account = rm.account(reader, account_id)
    months = months_of(account, now_ms)
    if month not in months:
        raise Problem(422, "statement-unavailable", f"the statement for {month} is not available: statements cover the "
                                                    f"current month and the three before it ({', '.join(reversed(months))})"
                                                    " (R20)")
    start_s, end_s = rm.month_bounds_s(month, account.time_zone)
    opening = rm.balance_before(reader, account_id, start_s)
    moved = rm.movements(reader, account_id, start_s, end_s)
    paid = sum(m.amount_micros for m in moved if m.kind in rm.PAYMENT_KINDS)
    charged = -sum(m.amount_micros for m in moved if m.kind not in rm.PAYMENT_KINDS)
    issued = summaries(reader, account_id, [i for i in rm.invoices(reader, account_id)
                                            if start_s <= i.issued_at_s < end_s], now_ms)
    return Statement(account_id=account_id, month=month, currency=account.currency, time_zone=account.time_zone,
                     opening_balance_micros=opening, payments_micros=paid, charges_micros=charged,
                     closing_balance_micros=opening + paid - charged,
                     movements=[MovementLine(kind=m.kind, count=m.count, amount_micros=m.amount_micros) for m in moved],
                     payments=[PaymentLine(entry_id=p.entry_id, kind=p.kind, at=iso(p.at_s), amount_micros=p.amount_micros)
                               for p in rm.payments(reader, account_id, start_s, end_s)],
                     invoices=issued, available_months=months)


def summaries(reader: rm.Reader, account_id: str, rows: list[rm.InvoiceRow],
              now_ms: int | None = None) -> list[InvoiceSummary]:
    """The account's invoices ``rows``, each with what its money has paid of it (R11)."""
    paid = rm.settlement(reader, account_id) if rows else {}
    now_s = (now_ms if now_ms is not None else int(time.time() * 1000)) // 1000
    return [summary(r, paid.get(r.reference), now_s) for r in rows]


def summary(row: rm.InvoiceRow, settled: Settled | None, now_s: int) -> InvoiceSummary:
    """``settled``: R11's answer for it (None: not in the settlement read just before, an invoice
    that arrived in between; shown open). Overdue is asked at ``now_s``, the request's time."""
    settled = settled or Settled(row.reference, 0, row.total_micros, 0)
    status = "credit" if row.total_micros < 0 else settled.status
    if status in ("open", "partly_paid") and row.due_at_s and now_s > row.due_at_s:
        status = "overdue"
    return InvoiceSummary(reference=row.reference, legal_number=row.legal_number or None, kind=row.kind,
                          period=row.period, issued_at=iso(row.issued_at_s), currency=row.currency,
                          total_micros=row.total_micros, payments_micros=row.payments_micros,
                          balance_micros=row.balance_micros, due_at=iso(row.due_at_s) if row.due_at_s else None,
                          disputable_until=iso(row.issued_at_s + DISPUTE_WINDOW_MS // 1000), status=status,
                          paid_micros=settled.paid_micros, outstanding_micros=settled.outstanding_micros,
                          paid_at=iso(settled.paid_at_ms // 1000) if settled.paid_at_ms and status != "credit" else None)


def document(reader: rm.Reader, account_id: str, number: str, settings,  # noqa: ANN001 - Settings
             open_sealed=None) -> tuple[InvoiceDocument, InvoiceIssued, Legal]:  # noqa: ANN001 - Opener.open
    """The invoice by its legal number or reference: as JSON, as the event it was issued as, and
    with what it prints besides (``streams/documents/invoice.py``: issuer, customer, numbers)."""
    row = rm.invoice(reader, account_id, number)
    lines = rm.invoice_lines(reader, row.reference)
    issued = InvoiceIssued(event_id=f"invoice:{row.reference}", account_id=account_id,
                           occurred_at_ms=row.issued_at_s * 1000, invoice_number=row.reference,
                           kind=InvoiceKind(row.kind), period=row.period, currency=row.currency,
                           lines=tuple(InvoiceLine(c, d, q, a) for c, d, q, a in lines),
                           total_micros=row.total_micros, payments_micros=row.payments_micros,
                           balance_micros=row.balance_micros, time_zone=row.time_zone, due_at_ms=row.due_at_s * 1000,
                           customer_name=row.customer[0], billing_address=row.customer[1],
                           customer_tax_id=row.customer[2], corrects=row.corrects, locale=row.locale)
    legal = legal_for(settings, issued, rm.legal_numbers(reader, account_id), open_sealed)
    doc = InvoiceDocument(**summaries(reader, account_id, [row])[0].model_dump(), customer_name=legal.customer[0],
                          billing_address=legal.customer[1], customer_tax_id=legal.customer[2],
                          corrects=legal.corrects_number or row.corrects or None, locale=legal.locale,
                          lines=[InvoiceLineOut(category=c, description=d, quantity=q, amount_micros=a)
                                 for c, d, q, a in lines])
    return doc, issued, legal


def dispute_window_open(row: rm.InvoiceRow, now_ms: int | None = None) -> bool:
    """R19, checked before the command goes to the log (the worker checks again, by event time)."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    return now - row.issued_at_s * 1000 <= DISPUTE_WINDOW_MS


def check_dispute(row: rm.InvoiceRow, amount_micros: int, now_ms: int | None = None) -> None:
    """R19 as the worker will judge it, before the command goes to the log: an invoice (not a
    credit note) issued at most 30 days ago, for a positive amount up to its total. The worker
    judges again, by event time."""
    shown = row.legal_number or row.reference
    if row.kind == "CREDIT_NOTE":
        raise Problem(422, "not-disputable", f"{shown} is a credit note")
    if not dispute_window_open(row, now_ms):
        raise Problem(422, "dispute-too-late", f"invoice {shown} was issued on {iso(row.issued_at_s)[:10]}, more than "
                                               "30 days ago: disputes are accepted within 30 days of an invoice (R19)")
    if not 0 < amount_micros <= row.total_micros:
        raise Problem(422, "dispute-exceeds-invoice", f"the amount disputed must be positive and at most the invoice's "
                                                      f"total of invoice {shown}")

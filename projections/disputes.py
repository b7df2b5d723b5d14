"""Disputes (R19): a posted charge may be disputed within 30 days; a win for the customer is a
credit note (pure).

What a customer disputes is a charge they were shown: an issued invoice, named by its number in
``DisputeOpened.disputed_entry_id``. It was posted when the invoice was issued, so the fold keeps
the issue time and total of each invoice for a while (``STATEMENT_WINDOW_MS``: bounded state).

- ``DisputeOpened`` is accepted while ``occurred_at - issued_at <= 30 days``, for at most the
  invoice's total, and refused after (``dispute_too_late``), for an invoice the account does not
  have (``unknown_invoice``), or for more than the invoice (``dispute_exceeds_invoice``). At most
  ``MAX_OPEN_DISPUTES`` are open per account (``too_many_open_disputes``): a limit on state.
- ``DisputeResolved`` in the customer's favour posts the credit (debit ``revenue:disputes``,
  a contra-revenue account; credit the customer) and issues a ``CREDIT_NOTE`` numbered in the
  account's invoice sequence. The credit is at most the disputed amount and a whole number of
  the currency's minor unit (it is an amount someone decided, so it is refused, not rounded).
  In the provider's favour the dispute closes with no money moved.

A day is 86 400 000 ms of event time; "within 30 days" includes the 30th day's last millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from projections.events import DisputeOpened, DisputeOutcome, DisputeResolved, InvoiceIssued, InvoiceKind, InvoiceLine
from projections.invoicing import (
    DISPUTE_WINDOW_MS,
    MINOR_UNIT_MICROS,
    Billing,
    TaxRule,
    div_round_half_away,
    format_minor,
    next_number,
    percent,
    tax_on,
)
from projections.money import MICROS_PER_UNIT
from projections.journal import JournalEntry, Posting, customer_ledger

DAY_MS = 86_400_000
MAX_OPEN_DISPUTES = 50
DISPUTE_REVENUE = "revenue:disputes"


@dataclass(frozen=True, slots=True)
class Refused:
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Credited:
    billing: Billing
    entry: JournalEntry | None
    credit_note: InvoiceIssued | None
    credit_micros: int


def open_dispute(billing: Billing, event: DisputeOpened) -> Billing | Refused:
    issued = billing.recent_invoices.get(event.disputed_entry_id)
    if issued is None:
        return Refused("unknown_invoice", f"dispute {event.event_id}: no invoice {event.disputed_entry_id!r} issued to "
                                          f"{event.account_id} in the last 30 days (R19)")
    issued_at_ms, total, period, kind = issued
    if kind == InvoiceKind.CREDIT_NOTE.value:
        return Refused("unknown_invoice", f"dispute {event.event_id}: {event.disputed_entry_id} is a credit note")
    if event.occurred_at_ms - issued_at_ms > DISPUTE_WINDOW_MS:
        days = (event.occurred_at_ms - issued_at_ms) // DAY_MS
        return Refused("dispute_too_late", f"dispute {event.event_id}: invoice {event.disputed_entry_id} was issued "
                                           f"{days} days earlier; disputes are accepted within 30 days (R19)")
    if event.amount_micros <= 0 or event.amount_micros > total:
        return Refused("dispute_exceeds_invoice", f"dispute {event.event_id}: amount {event.amount_micros} must be "
                                                  f"positive and at most the invoice total {total} (micro-units)")
    if event.event_id in billing.open_disputes:
        return Refused("dispute_already_open", f"dispute {event.event_id} is already open")
    if len(billing.open_disputes) >= MAX_OPEN_DISPUTES:
        return Refused("too_many_open_disputes", f"account {event.account_id} has {MAX_OPEN_DISPUTES} open disputes")
    opened = dict(billing.open_disputes)
    opened[event.event_id] = (event.disputed_entry_id, period, event.occurred_at_ms, event.amount_micros)
    return replace(billing, open_disputes=opened)


def resolve_dispute(billing: Billing, event: DisputeResolved, currency: str, year: int,
                    issuer: str, balance_micros: int, taxes: tuple[TaxRule, ...] = ()) -> Credited | Refused:
    """Close an open dispute; in the customer's favour, credit it with a credit note that
    reverses the invoice's taxes in proportion (``credit_lines``)."""
    dispute = billing.open_disputes.get(event.dispute_event_id)
    if dispute is None:
        return Refused("unknown_dispute", f"{event.event_id}: dispute {event.dispute_event_id!r} is not open")
    invoice_number, period, _, amount = dispute
    remaining = {k: v for k, v in billing.open_disputes.items() if k != event.dispute_event_id}
    if event.outcome is DisputeOutcome.PROVIDER_FAVOUR:
        return Credited(replace(billing, open_disputes=remaining), None, None, 0)
    credit = event.credit_micros
    if not 0 < credit <= amount or credit % MINOR_UNIT_MICROS[currency]:
        return Refused("bad_credit", f"{event.event_id}: credit {credit} must be positive, at most the disputed "
                                     f"{amount}, in whole {currency} cents (micro-units)")
    number, seq = next_number(billing, issuer, event.account_id, year)
    lines, reversed_taxes = credit_lines(credit, currency, taxes, f"Credit for dispute {event.dispute_event_id} on "
                                                                  f"invoice {invoice_number}")
    net = credit - sum(reversed_taxes.values())
    postings = (Posting(DISPUTE_REVENUE, net), *(Posting(f"tax:payable:{j}", t) for j, t in reversed_taxes.items() if t),
                Posting(customer_ledger(event.account_id), -credit))
    entry = JournalEntry(entry_id=f"dc:{event.dispute_event_id}", account_id=event.account_id, kind="dispute_credit",
                         occurred_at_ms=event.occurred_at_ms, currency=currency, postings=postings)
    note = InvoiceIssued(event_id=f"invoice:{number}", account_id=event.account_id, occurred_at_ms=event.occurred_at_ms,
                         invoice_number=number, kind=InvoiceKind.CREDIT_NOTE, period=period,
                         currency=currency, lines=lines, total_micros=-credit,
                         balance_micros=balance_micros + credit, corrects=invoice_number)
    recent = dict(billing.recent_invoices)
    recent[number] = (event.occurred_at_ms, -credit, period, InvoiceKind.CREDIT_NOTE.value)  # for R20 statements
    return Credited(replace(billing, open_disputes=remaining, invoice_year=year, invoice_seq=seq, recent_invoices=recent),
                    entry, note, credit)



def credit_lines(credit: int, currency: str, taxes: tuple[TaxRule, ...],
                 label: str) -> tuple[tuple[InvoiceLine, ...], dict[str, int]]:
    """A credit of ``credit`` (taxes included) as a credit note's lines: the net amount and each
    tax reversed in the proportion the invoice charged it (the account's rules, R17). The net is
    the credit over (1 + the rates), rounded half away from zero to the minor unit; each tax is
    then charged on it as an invoice charges it; the net line takes what the roundings leave, so
    the lines add up to the credit exactly. Returns the lines and the tax reversed per jurisdiction."""
    unit = MINOR_UNIT_MICROS[currency]
    rates = sum(rule.rate_ppm for rule in taxes)
    net = div_round_half_away(credit * MICROS_PER_UNIT, (MICROS_PER_UNIT + rates) * unit) * unit
    reversed_taxes = {rule.jurisdiction: tax_on(net, rule, unit) for rule in taxes}
    net = credit - sum(reversed_taxes.values())
    lines = [InvoiceLine("credit:dispute", f"{label}: {format_minor(net, currency)} {currency}", 1, -net)]
    lines += [InvoiceLine(f"tax:{rule.jurisdiction}", f"{rule.name} {percent(rule.rate_ppm)}% reversed on "
                          f"{format_minor(net, currency)} {currency}", 1, -reversed_taxes[rule.jurisdiction])
              for rule in taxes]
    return tuple(lines), reversed_taxes

"""Invoices: what an account owes for a calendar month, itemised, rounded, taxed (pure).

The fold keeps, per account, the *unbilled* charges: exact micro-unit sums per (period,
category), where the period is the calendar month the charge belongs to (R13) in the account's
zone: a call's start, a fee's own period. Each charge was already posted to the journal when
it happened (journal.py), so the invoice adds only two kinds of money at close:

- **rounding residue**: each line is rounded to the currency's minor unit, **half away from
  zero** (0.005 -> 0.01, -0.005 -> -0.01). The difference between the rounded line and its exact
  micro-unit sum is debited to the customer and credited to ``rounding:residue`` (it may be
  negative), so the invoice total equals, to the micro-unit, the customer's journal postings it
  covers;
- **taxes** (R17): each rule of the account's tax profile is a rate in parts per million of the
  invoice's taxable base (the sum of its rounded lines), rounded the same way, one line per
  jurisdiction, credited to ``tax:payable:<jurisdiction>``.

When an account is invoiced (R13, R14):

- the first time a tick shows a new month in the account's zone, the month before it closes:
  usage up to and including that month, and fees up to and including the *new* month (its
  monthly fee was just charged in advance). Usage already dated in the new month waits for the
  next invoice;
- at termination, everything unbilled is invoiced at once (the final invoice, R25, R26).

Usage of a month already invoiced (a late CDR) never changes that invoice: it is unbilled in its
own period and appears on the next invoice as a separate "prior-period usage" line, dated by
the call's month. A carrier's correction of a call (projections/corrections.py) is the same: its
difference is a ``usage:correction`` line of the call's month, prior-period once that month is
invoiced.

Numbering: ``<issuer>-<account>-<year>-<n>``, sequential and gapless per account and calendar
year of issue, and deterministic on rebuild (it is folded state). A number sequence per *issuer*
across accounts needs one numbering stage over all partitions, which is not built yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from projections.events import InvoiceIssued, InvoiceKind, InvoiceLine
from projections.journal import JournalEntry, Posting, customer_ledger
from projections.money import MICROS_PER_UNIT, MINOR_UNIT_MICROS  # noqa: F401 - re-exported: invoices round to it
from projections.periods import local_time
from projections.records import fast_init

ROUNDING_RESIDUE = "rounding:residue"

# Categories of unbilled charges (R16), in the order an invoice lists them, with their labels.
USAGE_CATEGORIES = ("usage:domestic", "usage:international", "usage:premium", "usage:inbound", "usage:correction")
FEE_CATEGORIES = ("activation", "monthly", "monthly:credit", "feature", "equipment", "shipping", "termination",
                  "goodwill", "correction", "rerating", "compensation")
LINE_LABELS = {  # streams/documents/invoice_lines.py words them in other languages
    "activation": "Activation",
    "monthly": "Monthly service",
    "monthly:credit": "Monthly service credit, unused days",
    "termination": "Termination fee",
    "feature": "Advanced features",
    "equipment": "Equipment",
    "shipping": "Shipping and handling",
    "goodwill": "Goodwill credit",
    "correction": "Correction",
    "compensation": "Compensation for a service malfunction",
    "rerating": "Usage re-rated at the plan that matches it",  # R6; a customer's invoice names no rule ids
    "usage:domestic": "Calls, domestic",
    "usage:international": "Calls, international",
    "usage:premium": "Calls, premium destinations",
    "usage:inbound": "Calls received on rented numbers",
    "usage:correction": "Corrected calls",  # projections/corrections.py: the difference, a call per correction
}
_ORDER = {c: i for i, c in enumerate(("activation", "monthly", "monthly:credit", "feature", *USAGE_CATEGORIES,
                                      "rerating", "equipment", "shipping", "termination", "goodwill", "correction",
                                      "compensation"))}


def div_round_half_away(numerator: int, denominator: int) -> int:
    """Integer division rounded to the nearest integer, halves away from zero."""
    assert denominator > 0
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def round_half_away(micros: int, unit: int) -> int:
    """``micros`` rounded to a multiple of ``unit``, halves away from zero."""
    return div_round_half_away(micros, unit) * unit


def format_minor(micros: int, currency: str) -> str:
    """An amount already rounded to the minor unit, as printed: ``-12.34`` (no float involved)."""
    unit = MINOR_UNIT_MICROS[currency]
    digits = len(str(MICROS_PER_UNIT // unit)) - 1
    whole, frac = divmod(abs(micros), MICROS_PER_UNIT)
    text = f"{whole}.{frac // unit:0{digits}d}" if digits else str(whole)
    return "-" + text if micros < 0 else text


def percent(rate_ppm: int) -> str:
    """A rate in parts per million as a percentage: 210000 -> ``21``, 25000 -> ``2.5``."""
    whole, frac = divmod(rate_ppm, 10_000)
    return f"{whole}.{frac:04d}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class TaxRule:
    jurisdiction: str  # e.g. "US-FED", "US-NY", "BE"
    name: str  # as printed on the invoice
    rate_ppm: int  # parts per million of the taxable base: 21% VAT is 210_000


@fast_init  # made once per account and batch part (private_copy): projections/records.py
@dataclass(frozen=True, slots=True)
class Billing:
    """The invoicing part of an account's state."""

    unbilled: dict[str, tuple[int, int]] = field(default_factory=dict)  # "period|category" -> (quantity, micros)
    billed_through: str = ""  # the newest closed usage period, "YYYY-MM"
    invoice_year: int = 0
    invoice_seq: int = 0  # invoices (and credit notes) issued in ``invoice_year``
    # Invoices and credit notes of the last STATEMENT_WINDOW_MS, number -> (issued at, total,
    # period, kind): what R19 disputes and R20 statements need; and open disputes, dispute id ->
    # (invoice number, its period, opened at, amount) (projections/disputes.py).
    recent_invoices: dict[str, tuple[int, int, str, str]] = field(default_factory=dict)
    open_disputes: dict[str, tuple[str, str, int, int]] = field(default_factory=dict)
    payments_since: int = 0  # net payments since the previous invoice, printed on the next one


DISPUTE_WINDOW_MS = 30 * 86_400_000  # R19
# R20: statements cover the current month and the three before it; 125 days keeps every
# invoice issued in them (bounded state: about five invoices an account).
STATEMENT_WINDOW_MS = 125 * 86_400_000


def next_number(billing: Billing, issuer: str, account_id: str, year: int) -> tuple[str, int]:
    """The next number of the account's gapless sequence for ``year``, and its sequence value."""
    seq = billing.invoice_seq + 1 if billing.invoice_year == year else 1
    return f"{issuer}-{account_id}-{year}-{seq:04d}", seq


def with_payments(billing: Billing, payments_since: int) -> Billing:
    """A copy with ``payments_since`` set (hot: once per payment, so not ``dataclasses.replace``)."""
    b = billing
    return Billing(b.unbilled, b.billed_through, b.invoice_year, b.invoice_seq, b.recent_invoices, b.open_disputes,
                   payments_since)


def private_copy(billing: Billing) -> Billing:
    """A copy whose unbilled sums the fold may change in place (once per account and batch)."""
    b = billing
    return Billing(dict(b.unbilled), b.billed_through, b.invoice_year, b.invoice_seq, b.recent_invoices,
                   b.open_disputes, b.payments_since)


def add_charge(unbilled: dict[str, tuple[int, int]], period: str, category: str, quantity: int, micros: int) -> None:
    """Note an already-posted charge (or credit, negative) for the invoice of its period."""
    key = f"{period}|{category}"
    q, m = unbilled.get(key, (0, 0))
    unbilled[key] = (q + quantity, m + micros)


@dataclass(frozen=True, slots=True)
class Closing:
    invoice: InvoiceIssued
    entry: JournalEntry | None  # the rounding residue and taxes, posted at close
    billing: Billing
    debit_micros: int  # what the close adds to the customer's debit (residue + taxes)


def describe(period: str, category: str, closing_period: str, quantity: int) -> tuple[str, str]:
    """A line's category and description, in English, as the invoice closing ``closing_period``
    records them: usage of an earlier period is marked prior, a fee of a later one in advance."""
    label = LINE_LABELS.get(category, category)
    if category in USAGE_CATEGORIES:
        minutes, seconds = divmod(quantity, 60)
        usage = (f"{label}, {period}, {quantity} {'correction' if quantity == 1 else 'corrections'}"
                 if category == "usage:correction" else f"{label}, {period}, {minutes}:{seconds:02d} min billed")
        if period < closing_period:
            return category + ":prior", "Prior-period usage: " + usage
        return category, usage
    if category == "monthly" and period > closing_period:
        return category, f"{label}, {period}, in advance"
    return category, f"{label}, {period}"


def tax_on(base: int, rule: TaxRule, unit: int) -> int:
    """One rounding, from the exact product: base x rate / 1e6, to the minor unit."""
    return div_round_half_away(base * rule.rate_ppm, MICROS_PER_UNIT * unit) * unit


def debit_at_close(unbilled: dict[str, tuple[int, int]], currency: str, taxes: tuple[TaxRule, ...]) -> int:
    """What invoicing everything in ``unbilled`` on one invoice would debit on top of the charges
    themselves (already in the balance): each line's rounding residue and the taxes (R10 holds
    it for prepaid calls, so that taxes at the close cannot take a balance below zero)."""
    unit = MINOR_UNIT_MICROS[currency]
    rounded = [round_half_away(exact, unit) for _, exact in unbilled.values()]
    residue = sum(rounded) - sum(exact for _, exact in unbilled.values())
    return residue + sum(tax_on(sum(rounded), rule, unit) for rule in taxes)


def close(account_id: str, currency: str, billing: Billing, *, period: str, usage_through: str, fees_through: str,
          at_ms: int, time_zone: str, taxes: tuple[TaxRule, ...], issuer: str, balance_micros: int,
          kind: InvoiceKind = InvoiceKind.REGULAR) -> Closing | None:
    """The invoice of everything unbilled up to the given periods, or None when nothing is."""
    due, kept = [], {}
    for key, value in billing.unbilled.items():
        item_period, category = key.split("|", 1)
        through = usage_through if category in USAGE_CATEGORIES else fees_through
        if item_period <= through:
            due.append((item_period, category, value))
        else:
            kept[key] = value
    if not due:
        return None
    unit = MINOR_UNIT_MICROS[currency]
    due.sort(key=lambda d: (_ORDER.get(d[1], len(_ORDER)), d[0]))
    lines: list[InvoiceLine] = []
    residue = 0
    for item_period, category, (quantity, exact) in due:
        rounded = round_half_away(exact, unit)
        residue += rounded - exact
        line_category, description = describe(item_period, category, period, quantity)
        lines.append(InvoiceLine(line_category, description, quantity, rounded))
    base = sum(line.amount_micros for line in lines)
    tax_postings: list[Posting] = []
    for rule in taxes:
        tax = tax_on(base, rule, unit)
        lines.append(InvoiceLine(f"tax:{rule.jurisdiction}", f"{rule.name} {percent(rule.rate_ppm)}% "
                                 f"of {format_minor(base, currency)} {currency}", 1, tax))
        if tax:
            tax_postings.append(Posting(f"tax:payable:{rule.jurisdiction}", -tax))
    total = sum(line.amount_micros for line in lines)

    year = local_time(at_ms, time_zone).year
    number, seq = next_number(billing, issuer, account_id, year)
    debit = residue - sum(p.amount_micros for p in tax_postings)
    postings = [Posting(customer_ledger(account_id), debit)] if debit else []
    if residue:
        postings.append(Posting(ROUNDING_RESIDUE, -residue))
    postings.extend(tax_postings)
    entry = None
    if postings:
        entry = JournalEntry(entry_id=f"i:{number}", account_id=account_id, kind="invoice",
                             occurred_at_ms=at_ms, currency=currency, postings=tuple(postings))
    invoice = InvoiceIssued(event_id=f"invoice:{number}", account_id=account_id, occurred_at_ms=at_ms,
                            invoice_number=number, kind=kind, period=period, currency=currency,
                            lines=tuple(lines), total_micros=total, payments_micros=billing.payments_since,
                            balance_micros=balance_micros - debit)
    # Kept for disputes (R19, 30 days) and statements (R20); older ones are forgotten.
    recent = {n: v for n, v in billing.recent_invoices.items() if at_ms - v[0] <= STATEMENT_WINDOW_MS}
    recent[number] = (at_ms, total, period, kind.value)
    # Only the regular close marks a month as closed; an interim invoice leaves it open (R18).
    billed_through = max(billing.billed_through, period) if kind is InvoiceKind.REGULAR else billing.billed_through
    new_billing = Billing(kept, billed_through, year, seq, recent, billing.open_disputes, 0)
    return Closing(invoice, entry, new_billing, debit)

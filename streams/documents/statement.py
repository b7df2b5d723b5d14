"""Account statements (R20): the current month and the three previous months, nothing older.

A statement of a month lists what the account was issued in it (invoices, interim invoices,
credit notes, from the invoices topic) and, for the current month, what is posted but not yet
invoiced (the unbilled sums of the account's state) and the balance now. Older months are
refused with a message saying which months can be asked for: R20 makes statements available
for four months; older invoices remain on the invoices topic and in finance's systems.

Which month is "current" is the one edge where wall time enters (the CLI passes today, or
``--as-of``); the months an account's lines belong to come from its events (R13, its zone).
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.account import AccountState
from projections.events import InvoiceIssued
from projections.invoicing import MINOR_UNIT_MICROS, format_minor, round_half_away
from projections.periods import period_of, previous_period

MONTHS_AVAILABLE = 4  # R20: the current month and the three previous ones


class StatementRefused(ValueError):
    """A month outside what R20 makes available, or an account the ledger does not know."""


def available_months(current: str) -> list[str]:
    months = [current]
    while len(months) < MONTHS_AVAILABLE:
        months.append(previous_period(months[-1]))
    return months


@dataclass(frozen=True, slots=True)
class Issued:
    """What a statement lists of an invoice or credit note."""

    number: str  # the reference (projections/invoicing.py)
    kind: str
    period: str
    issued_at_ms: int
    total_micros: int
    legal_number: str = ""  # from the numbering stage, once given (projections/numbering.py)


def issued_from_invoices(invoices: list[InvoiceIssued], legal_numbers: dict[str, str] | None = None) -> list[Issued]:
    """``legal_numbers``: reference -> legal number, for the invoices numbered so far."""
    legal = legal_numbers or {}
    return [Issued(i.invoice_number, i.kind.value, i.period, i.occurred_at_ms, i.total_micros,
                   legal.get(i.invoice_number, "")) for i in invoices]


def issued_from_state(state: AccountState) -> list[Issued]:
    """The account's own memory of what it was issued (the last 125 days: enough for R20)."""
    return [Issued(n, kind, period, at, total) for n, (at, total, period, kind) in state.billing.recent_invoices.items()]


def statement(account_id: str, month: str, current: str, state: AccountState | None,
              issued: list[Issued]) -> str:
    """The statement text, or ``StatementRefused``."""
    months = available_months(current)
    if month not in months:
        raise StatementRefused(f"statement for {month} is not available: statements cover the current month and the "
                               f"three previous ones ({', '.join(reversed(months))}) (R20)")
    if state is None:
        raise StatementRefused(f"unknown account {account_id!r}")
    c = state.currency
    out = [f"Statement {month} for account {account_id} ({state.billing_mode}, {c})"]
    shown = [i for i in issued if period_of(i.issued_at_ms, state.time_zone) == month]
    out.append(f"  Issued in {month}:" if shown else f"  Nothing issued in {month}.")
    for inv in sorted(shown, key=lambda i: i.number):
        out.append(f"    {inv.legal_number or 'number pending':<16} {inv.number:<28} {inv.kind:<12} period {inv.period}  "
                   f"{format_minor(inv.total_micros, c):>12} {c}")
    if month == current:
        unit = MINOR_UNIT_MICROS[c]
        pending = sorted(state.billing.unbilled.items())
        out.append("  Posted, not yet invoiced:" if pending else "  Nothing posted since the last invoice.")
        for key, (quantity, micros) in pending:
            period, category = key.split("|", 1)
            out.append(f"    {category:<28} {period}  {quantity:>8}  {format_minor(round_half_away(micros, unit), c):>12} {c}")
        out.append(f"  Balance now: {format_minor(round_half_away(state.balance_micros, unit), c)} {c} "
                   f"({'credit' if state.balance_micros >= 0 else 'owed'})")
    return "\n".join(out)


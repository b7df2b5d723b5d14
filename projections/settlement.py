"""Which invoices an account's money has paid: first in, first out (R11).

R11: charges are paid in the order in which they fall due, and the moment of payment is when the
funds are received. The ledger keeps one balance per account, which is right in total but does
not say which invoice is still open, since when, and which one a late payment settled. Finance
needs exactly that: an invoice's status, its receivable aging, the date it was paid.

``settle`` answers from two lists, both from the log's projections:

- the invoices, each falling due at its due date (an invoice without one, at its issue); a credit
  note (a negative total, R19) is money back to the account at its issue, as a payment is;
- the funds: payments at receipt (positive), refunds, chargebacks and a termination's refund of
  the balance (negative), at their times.

Everything received is spent on the invoices in their due order: the oldest is paid first, and
what is left waits for the next (a prepaid account's top-up pays the invoices to come). An
invoice is paid at the moment the funds received reach the sum of it and every invoice due
before it; money taken back later (a chargeback) re-opens the newest invoices first. Pure: no
clock, integers only; "overdue" is the reader's question, asked with its own time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Due:
    reference: str
    due_at_ms: int  # when it falls due (the issue time for an invoice with no due date)
    total_micros: int  # negative for a credit note


@dataclass(frozen=True)
class Funds:
    at_ms: int  # received (R11), or taken back
    amount_micros: int  # + received, - refunded or taken back


@dataclass(frozen=True)
class Settled:
    reference: str
    paid_micros: int
    outstanding_micros: int
    paid_at_ms: int  # when the funds received covered it whole; 0 while any of it is open

    @property
    def status(self) -> str:
        if self.outstanding_micros == 0:
            return "paid"
        return "partly_paid" if self.paid_micros else "open"


def settle(dues: Iterable[Due], funds: Iterable[Funds]) -> dict[str, Settled]:
    """Every invoice of ``dues`` with what the ``funds`` paid of it, first due first paid (R11)."""
    dues = list(dues)
    # A credit note gives money back when it is issued: funds, not a due.
    flows = sorted([(f.at_ms, f.amount_micros) for f in funds]
                   + [(d.due_at_ms, -d.total_micros) for d in dues if d.total_micros < 0])
    received = sum(amount for _, amount in flows)
    settled: dict[str, Settled] = {}
    before = 0  # what the invoices due before this one take first
    for due in sorted((d for d in dues if d.total_micros >= 0), key=lambda d: (d.due_at_ms, d.reference)):
        paid = min(due.total_micros, max(0, received - before))
        before += due.total_micros
        paid_at = 0 if paid < due.total_micros else due.due_at_ms if due.total_micros == 0 else _covered_at(flows, before)
        settled[due.reference] = Settled(due.reference, paid, due.total_micros - paid, paid_at)
    for due in dues:
        if due.total_micros < 0:
            settled[due.reference] = Settled(due.reference, due.total_micros, 0, due.due_at_ms)
    return settled


def _covered_at(flows: list[tuple[int, int]], threshold: int) -> int:
    """When the running sum of ``flows`` last rose to ``threshold`` (> 0, and reached by the
    end): the moment of payment of the invoice whose dues up to it sum to ``threshold``."""
    running, at = 0, 0
    for at_ms, amount in flows:
        if running < threshold <= running + amount:
            at = at_ms
        running += amount
    return at

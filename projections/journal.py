"""Double-entry journal: every financial event becomes one entry whose postings sum to zero.

Chart of accounts (ledger accounts, not customer accounts):

- ``customer:<account_id>``: the customer's prepaid funds (a liability) or, when negative, what
  a postpaid customer owes (a receivable). The account balance the ledger shows is the
  negated sum of its postings: a payment credits it, a charge debits it.
- ``revenue:usage:domestic`` / ``revenue:usage:international`` / ``revenue:usage:premium``:
  usage revenue by charge category (R16).
- ``payments:clearing``: money received from the payment processor, not yet settled. A
  chargeback takes money back out of it.
- ``refunds:payable``: money owed back to a customer (R25: the unused balance), until paid out.
- ``revenue:monthly``: periodic (monthly) fees, charged in advance (R14, R15), less pro-rated
  credits on termination (R25); ``revenue:termination``: termination fees (R26).
- ``tax:payable:<jurisdiction>``: taxes and surcharges invoiced, owed to the authority (R17).
- ``rounding:residue``: the difference between invoice lines rounded to the minor unit and the
  exact micro-unit charges they sum (projections/invoicing.py); either sign.
- ``revenue:disputes``: a contra-revenue account, debited by credits granted on disputes (R19).
- ``revenue:<category>`` for an operator's one-time charges (R16: ``activation``, ``feature``,
  ``equipment``, ``shipping``) and ``revenue:adjustments`` for goodwill and correction credits
  or debits (``AdjustmentPosted``).
- ``expense:compensation``: what the provider paid a customer for a malfunction (R29), an
  expense rather than less revenue.

Sign convention: a posting's ``amount_micros`` is positive for a debit and negative for a
credit. Every entry is asserted to balance per currency (it has one currency, R7). The entry
id is the dedup key of the event that caused it, so a repeated entry is recognisable anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.events import AdjustmentPosted, CallDetailRecord, ChargebackReceived, PaymentReceived, PaymentRefunded
from projections.lifecycle import BalanceRefunded, Decision, FeeCharged, FeeCredited
from projections.rating import RatedCall
from projections.records import fast_init

PAYMENTS_CLEARING = "payments:clearing"
REFUNDS_PAYABLE = "refunds:payable"
COMPENSATION_EXPENSE = "expense:compensation"


def customer_ledger(account_id: str) -> str:
    return f"customer:{account_id}"


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class Posting:
    ledger_account: str
    amount_micros: int  # debit > 0, credit < 0


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class JournalEntry:
    entry_id: str
    account_id: str
    kind: str  # "usage" | "usage_correction" | "payment" | "refund" | "chargeback" | "fee" | "fee_credit" | "termination_fee"
    #            | "balance_refund" | "invoice" (rounding and taxes) | "dispute_credit" | "adjustment"
    occurred_at_ms: int
    currency: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        # The invariant of double entry, checked on every entry (a plain loop: this is hot).
        total = 0
        for p in self.postings:
            assert type(p.amount_micros) is int, "postings are integer micro-units"
            total += p.amount_micros
        assert total == 0 and len(self.postings) >= 2, f"entry {self.entry_id} does not balance"


def usage_category(rated: RatedCall, domestic_prefix: str) -> str:
    """R16 usage categories: premium (connect-fee destinations), domestic, international, and
    inbound (calls received on a rented number, billed to its owner). Rating decided it, in the
    account's own country; ``domestic_prefix`` serves a rating that did not (built by hand)."""
    if rated.category:
        return "revenue:usage:" + rated.category
    if rated.inbound:
        return "revenue:usage:inbound"
    if rated.connect_fee_micros:
        return "revenue:usage:premium"
    if rated.destination_prefix.startswith(domestic_prefix):
        return "revenue:usage:domestic"
    return "revenue:usage:international"


def entry_for_call(cdr: CallDetailRecord, rated: RatedCall, domestic_prefix: str) -> JournalEntry | None:
    """A charged call debits the customer and credits usage revenue. Free calls post nothing."""
    if rated.charge_micros == 0:
        return None
    # By position (entry_id, account_id, kind, occurred_at_ms, currency, postings): once per
    # charged call, and keywords take the records' slower path (projections/records.py).
    return JournalEntry("c:" + cdr.call_key, cdr.account_id, "usage", cdr.start_at_ms, rated.currency,
                        (Posting(customer_ledger(cdr.account_id), rated.charge_micros),
                         Posting(usage_category(rated, domestic_prefix), -rated.charge_micros)))


def entry_for_correction(cdr: CallDetailRecord, rated: RatedCall, difference_micros: int,
                         domestic_prefix: str) -> JournalEntry | None:
    """A corrected call (projections/corrections.py): the difference from what its earlier
    revision was charged, against the same usage revenue; the earlier entry stays as it was."""
    if difference_micros == 0:
        return None
    return JournalEntry(
        entry_id=f"c:{cdr.call_key}#r{cdr.revision}", account_id=cdr.account_id, kind="usage_correction",
        occurred_at_ms=cdr.start_at_ms, currency=rated.currency,
        postings=(Posting(customer_ledger(cdr.account_id), difference_micros),
                  Posting(usage_category(rated, domestic_prefix), -difference_micros)),
    )


def entry_for_payment(payment: PaymentReceived) -> JournalEntry:
    """R9: a payment debits payments clearing and credits the customer's funds."""
    return JournalEntry(
        entry_id="p:" + payment.event_id, account_id=payment.account_id, kind="payment",
        occurred_at_ms=payment.received_at_ms, currency=payment.currency,
        postings=(Posting(PAYMENTS_CLEARING, payment.amount_micros),
                  Posting(customer_ledger(payment.account_id), -payment.amount_micros)),
    )


def _customer_debit(entry_id: str, kind: str, account_id: str, at_ms: int, currency: str,
                    amount_micros: int, credit_account: str) -> JournalEntry:
    """Funds leave the customer's account: debit the customer, credit ``credit_account``."""
    return JournalEntry(entry_id=entry_id, account_id=account_id, kind=kind, occurred_at_ms=at_ms,
                        currency=currency, postings=(Posting(customer_ledger(account_id), amount_micros),
                                                     Posting(credit_account, -amount_micros)))


def entry_for_refund(refund: PaymentRefunded) -> JournalEntry:
    """Money going back to the customer: debit the customer's funds, credit refunds payable."""
    return _customer_debit("r:" + refund.event_id, "refund", refund.account_id, refund.occurred_at_ms,
                           refund.currency, refund.amount_micros, REFUNDS_PAYABLE)


def entry_for_chargeback(chargeback: ChargebackReceived) -> JournalEntry:
    """The processor took a payment back: debit the customer's funds, credit payments clearing."""
    return _customer_debit("b:" + chargeback.event_id, "chargeback", chargeback.account_id,
                           chargeback.occurred_at_ms, chargeback.currency, chargeback.amount_micros,
                           PAYMENTS_CLEARING)


MONTHLY_REVENUE = "revenue:monthly"
TERMINATION_REVENUE = "revenue:termination"


def entry_for_adjustment(event: AdjustmentPosted) -> JournalEntry:
    """A one-time charge debits the customer (a credit, negative, credits it) against its revenue."""
    revenue = ("revenue:adjustments" if event.category in ("goodwill", "correction")
               else COMPENSATION_EXPENSE if event.category == "compensation" else f"revenue:{event.category}")
    return _customer_debit("a:" + event.event_id, "adjustment", event.account_id, event.occurred_at_ms,
                           event.currency, event.amount_micros, revenue)


def entry_for_connection_fee(account_id: str, currency: str, period: str, at_ms: int, amount_micros: int) -> JournalEntry:
    """R21: an upgrade to a plan with a higher connection fee pays the difference, once per period."""
    return _customer_debit(f"cf:{account_id}/{period}", "connection_fee", account_id, at_ms, currency, amount_micros,
                           "revenue:activation")


def entry_for_decision(account_id: str, currency: str, d: Decision) -> JournalEntry | None:
    """The journal entry of a lifecycle decision (``projections/lifecycle.py``); none for 0.

    Entry ids name the account and period, so each fee is posted at most once per period.
    """
    if isinstance(d, FeeCharged) and d.amount_micros:
        if d.kind == "termination":  # R26
            return _customer_debit(f"tf:{account_id}", "termination_fee", account_id, d.at_ms, currency,
                                   d.amount_micros, TERMINATION_REVENUE)
        return _customer_debit(f"f:{account_id}/{d.period}", "fee", account_id, d.at_ms, currency,
                               d.amount_micros, MONTHLY_REVENUE)  # R14, R15, R22
    if isinstance(d, FeeCredited) and d.amount_micros:  # R25: the unused days, back to the customer
        return _customer_debit(f"fc:{account_id}/{d.period}", "fee_credit", account_id, d.at_ms, currency,
                               -d.amount_micros, MONTHLY_REVENUE)
    if isinstance(d, BalanceRefunded) and d.amount_micros:  # R25: the unused balance is owed back
        return _customer_debit(f"rb:{account_id}", "balance_refund", account_id, d.at_ms, currency,
                               d.amount_micros, REFUNDS_PAYABLE)
    return None


def balances_from_journal(entries: list[JournalEntry]) -> dict[str, int]:
    """Customer balances recomputed from postings alone: what ``verify`` compares against."""
    out: dict[str, int] = {}
    for entry in entries:
        for p in entry.postings:
            if p.ledger_account.startswith("customer:"):
                account_id = p.ledger_account[len("customer:"):]
                out[account_id] = out.get(account_id, 0) - p.amount_micros
    return out

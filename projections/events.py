"""Domain events as frozen dataclasses: the facts the ledger folds, and the facts it emits.

These are plain data with no I/O. The Avro codec in ``schemas/`` turns them into bytes and
back. Times are epoch milliseconds in UTC, taken from the event, never from the clock. Every
event has an ``event_id`` (its idempotency key) and an event time. Names are in the past tense.

Three groups, by the topic they travel on:

- account events (``ACCOUNT_EVENTS``), keyed by account on the events topic, in one order per
  account: calls, money, account lifecycle, disputes, privacy requests;
- reference and time events: ``RateCardPublished`` (rates topic), ``PeriodTicked`` (time topic);
- outputs the ledger derives: ``CallRated``, ``InvoiceIssued``, ``AccountStatusChanged``
  (and ``JournalEntryPosted`` in ``projections/journal.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from projections.identity import fingerprint, hash64
from projections.records import fast_init


class Disposition(str, Enum):
    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO_ANSWER"
    BUSY = "BUSY"
    FAILED = "FAILED"


class Direction(str, Enum):
    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"


# A personal field sealed with the subscriber's key (crypto-shredding, R31, R32, R35; the
# sealing itself is I/O and lives in ``streams/edge/sealing.py``). The core only needs to recognise
# one: a sealed number is never a number, and rating then reads the route kept in clear.
SEALED_PREFIX = "vlseal1:"


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


@dataclass(frozen=True, slots=True)
class AccountOpened:
    event_id: str
    account_id: str
    occurred_at_ms: int
    currency: str
    plan: str
    billing_mode: str  # "prepaid" | "postpaid"
    numbers: tuple[str, ...]
    time_zone: str = "UTC"
    tax_jurisdiction: str = ""  # e.g. "US-NY", "BE" (R17), added in AccountOpened v2
    country: str = ""  # v3: ISO 3166 alpha-2; its dialling plan and "domestic" (empty: the deployment's)
    # v4: who is invoiced (the invoice's customer block). Personal: sealed at the edge (R32).
    customer_name: str = ""
    billing_address: str = ""  # lines separated by "\n"
    customer_tax_id: str = ""  # a VAT or tax id, for a business customer
    # v5: the customer's language, a CLDR locale (``nl_BE``): their invoices and portal pages are
    # worded and formatted in it. "": the deployment's ``invoice_locale``. Not personal: clear.
    locale: str = ""


@dataclass(frozen=True, slots=True)
class AccountDetailsChanged:
    """The customer's name, billing address or tax id changed: the whole block, as it now is, and
    their language if it changed. Invoices issued from now on carry it; issued ones keep the block
    they were issued with."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    customer_name: str
    billing_address: str
    customer_tax_id: str
    locale: str = ""  # v2: the customer's language from now on, as AccountOpened v5's; "": unchanged
    # v3: only the language changes (the block, empty here, stays): the customer's own choice on
    # their portal, which cannot send the block (it is sealed, and not in the read model).
    block_unchanged: bool = False


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class CallDetailRecord:
    """One call as a carrier or switch reported it (R1: timed from answer to hang-up)."""

    event_id: str
    carrier_id: str
    call_id: str
    account_id: str
    caller: str
    callee: str
    start_at_ms: int
    answer_at_ms: int | None
    end_at_ms: int
    disposition: Disposition
    direction: Direction = Direction.OUTBOUND
    trunk: str = ""
    callee_route: str = ""  # v2: the called number's leading characters, in clear, when callee is sealed
    revision: int = 0  # v3: a carrier's correction carries a higher revision and supersedes the call

    def parties_fingerprint(self) -> int:
        """What a correction may not change (projections/account.py): the account, the numbers
        and the start of the call."""
        return hash64(f"{self.account_id}\x1f{self.caller}\x1f{self.callee}\x1f{self.start_at_ms}".encode())

    @property
    def dialled(self) -> str:
        """What rating reads: the called number, or the clear route prefix when it is sealed
        (the same on every replay, with or without the subscriber's key)."""
        return self.callee_route if self.callee.startswith(SEALED_PREFIX) else self.callee

    @property
    def call_key(self) -> str:
        """The dedup identity of a call: the carrier's own unique id, scoped by carrier."""
        return f"{self.carrier_id}/{self.call_id}"

    def dedup_identity(self) -> tuple[str, int, int]:
        """(dedup key, event time, content fingerprint): ``fingerprint(account, caller, callee,
        start, answer, end, disposition)`` spelled out, the same bytes without a generator per
        call (hot path)."""
        # ``_value_``: what ``.value`` returns, without its descriptor (projections/rating.py)
        raw = (f"{self.account_id}\x1f{self.caller}\x1f{self.callee}\x1f{self.start_at_ms}\x1f"
               f"{self.answer_at_ms}\x1f{self.end_at_ms}\x1f{self.disposition._value_}").encode()
        return "c:" + self.call_key, self.start_at_ms, hash64(raw)


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class PaymentReceived:
    """Funds received for an account (R9, R11: the moment of payment is receipt)."""

    event_id: str
    account_id: str
    received_at_ms: int
    amount_micros: int
    currency: str
    payment_ref: str = ""

    def dedup_identity(self) -> tuple[str, int, int]:
        at_ms = self.received_at_ms
        return "p:" + self.event_id, at_ms, fingerprint(self.account_id, self.amount_micros, self.currency, at_ms)


# --- money -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentRefunded:
    """Money paid back to the customer, against an earlier payment (R25: unused balance)."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    amount_micros: int
    currency: str
    payment_event_id: str = ""  # the PaymentReceived it refunds, if any
    reason: str = ""

    def dedup_identity(self) -> tuple[str, int, int]:
        at_ms = self.occurred_at_ms
        return "r:" + self.event_id, at_ms, fingerprint(self.account_id, self.amount_micros, self.currency, at_ms)


@dataclass(frozen=True, slots=True)
class ChargebackReceived:
    """The payment processor reversed a payment (the card holder's bank took it back)."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    amount_micros: int
    currency: str
    payment_event_id: str
    reason_code: str = ""

    def dedup_identity(self) -> tuple[str, int, int]:
        at_ms = self.occurred_at_ms
        return "b:" + self.event_id, at_ms, fingerprint(self.account_id, self.amount_micros, self.currency, at_ms)


ADJUSTMENT_CATEGORIES = ("activation", "feature", "equipment", "shipping", "goodwill", "correction", "rerating",
                         "compensation")  # R29: a credit for a provider malfunction (streams/edge/commands.py)


@dataclass(frozen=True, slots=True)
class AdjustmentPosted:
    """An operator's one-time charge (R16: activation, advanced features, equipment, shipping and
    handling) when positive, or a credit (goodwill, correction) when negative; ``rerating``: the
    difference of usage re-rated at another plan's cards (R6, either sign)."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    amount_micros: int
    currency: str
    category: str  # one of ADJUSTMENT_CATEGORIES
    reason: str = ""

    def dedup_identity(self) -> tuple[str, int, int]:
        return "a:" + self.event_id, self.occurred_at_ms, fingerprint(
            self.account_id, self.amount_micros, self.currency, self.category, self.occurred_at_ms)


# --- account lifecycle -------------------------------------------------------------------


class SuspensionReason(str, Enum):
    NON_PAYMENT = "NON_PAYMENT"  # R23
    FRAUD_HOLD = "FRAUD_HOLD"  # R27
    OPERATOR = "OPERATOR"


class TerminationReason(str, Enum):
    NON_PAYMENT = "NON_PAYMENT"  # R24
    CUSTOMER_REQUEST = "CUSTOMER_REQUEST"  # R25
    PROVIDER_WITHOUT_REASON = "PROVIDER_WITHOUT_REASON"  # R25
    BREACH = "BREACH"  # R26
    FRAUD = "FRAUD"  # R27
    INACTIVITY = "INACTIVITY"  # R28
    NO_FUNDS_AFTER_REGISTRATION = "NO_FUNDS_AFTER_REGISTRATION"  # R12


@dataclass(frozen=True, slots=True)
class PlanChangeRequested:
    """R21: takes effect at the end of a period, decided by the lifecycle, not by the request."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    new_plan: str

    def dedup_identity(self) -> tuple[str, int, int]:
        return "pc:" + self.event_id, self.occurred_at_ms, fingerprint(
            self.account_id, self.new_plan, self.occurred_at_ms)


@dataclass(frozen=True, slots=True)
class RateCardAssigned:
    """An account's own deal (issue 20): its calls that start from ``occurred_at_ms`` on are
    priced with the card named ``card`` (its version in effect, R5) before its plan's cards; an
    empty name ends the deal."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    card: str


@dataclass(frozen=True, slots=True)
class CreditLimitSet:
    """R10: what this postpaid account may owe from now on, in place of its plan's credit limit
    (the ``credit_limits`` setting): a business customer's limit after a credit check, or a
    deposit taken. ``limit_micros`` -1 gives it back its plan's limit; 0 allows nothing beyond
    its balance. Read by authorization only: the CDR of a call made anyway is billed."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    currency: str
    limit_micros: int
    reason: str = ""


PLAN_CREDIT_LIMIT = -1  # CreditLimitSet.limit_micros and AccountState.credit_limit_micros: the plan's


@dataclass(frozen=True, slots=True)
class AccountSuspended:
    event_id: str
    account_id: str
    occurred_at_ms: int
    reason: SuspensionReason


@dataclass(frozen=True, slots=True)
class AccountResumed:
    event_id: str
    account_id: str
    occurred_at_ms: int


@dataclass(frozen=True, slots=True)
class AccountTerminated:
    """``effective_at_ms`` may lie before ``occurred_at_ms`` (R24: from the unpaid period's start)."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    reason: TerminationReason
    effective_at_ms: int


@dataclass(frozen=True, slots=True)
class FraudHoldPlaced:
    """R27: no service and no recharge until the investigation ends."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    case_ref: str


@dataclass(frozen=True, slots=True)
class FraudHoldReleased:
    event_id: str
    account_id: str
    occurred_at_ms: int
    case_ref: str


# --- disputes and privacy -----------------------------------------------------------------


class DisputeOutcome(str, Enum):
    CUSTOMER_FAVOUR = "CUSTOMER_FAVOUR"  # R19: a credit note is issued
    PROVIDER_FAVOUR = "PROVIDER_FAVOUR"


@dataclass(frozen=True, slots=True)
class DisputeOpened:
    """R19: a dispute of a posted charge (a journal entry), within 30 days of its posting."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    disputed_entry_id: str
    amount_micros: int
    currency: str
    reason: str = ""

    def dedup_identity(self) -> tuple[str, int, int]:
        return "do:" + self.event_id, self.occurred_at_ms, fingerprint(
            self.account_id, self.disputed_entry_id, self.amount_micros, self.currency, self.occurred_at_ms)


@dataclass(frozen=True, slots=True)
class DisputeResolved:
    event_id: str
    account_id: str
    occurred_at_ms: int
    dispute_event_id: str
    outcome: DisputeOutcome
    credit_micros: int  # 0 unless the outcome is CUSTOMER_FAVOUR
    currency: str

    def dedup_identity(self) -> tuple[str, int, int]:
        return "dr:" + self.event_id, self.occurred_at_ms, fingerprint(
            self.account_id, self.dispute_event_id, self.outcome.value, self.credit_micros, self.currency,
            self.occurred_at_ms)


@dataclass(frozen=True, slots=True)
class SubscriberErasureRequested:
    """R32: answered within 30 days; billing records stay, personal identifiers are anonymised."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    request_ref: str


# --- reference data and time ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateTier:
    """Wire form of ``projections.rating.Tier``: from ``from_s`` elapsed seconds, this price."""

    from_s: int
    rate_micros_per_minute: int
    increment_s: int


@dataclass(frozen=True, slots=True)
class BandRate:
    band: str
    rate_micros_per_minute: int


@dataclass(frozen=True, slots=True)
class RateBand:
    """Wire form of ``projections.rating.Band``: weekdays 0 (Monday)..6, minutes [start, end)."""

    name: str
    weekdays: tuple[int, ...]
    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class RateCardDestination:
    """Wire form of ``projections.rating.DestinationRate`` (v2 adds minimum, tiers, band rates;
    v3 the per-call maximum cost)."""

    prefix: str
    name: str
    rate_micros_per_minute: int
    connect_fee_micros: int = 0
    initial_increment_s: int = 60
    subsequent_increment_s: int = 60
    minimum_billable_s: int = 0
    tiers: tuple[RateTier, ...] = ()
    band_rates: tuple[BandRate, ...] = ()
    max_cost_micros: int = 0


@dataclass(frozen=True, slots=True)
class RateCardPublished:
    """R5: an effective-dated rate card, or part ``part`` of ``parts`` of one.

    A deck of 200k prefixes is ~8 MB of Avro, over Kafka's default 1 MB message limit, so
    ``voiceledger rates import`` cuts it into parts that share ``card_id``; a card exists for
    the ledger once all its parts are in the log. ``projections/rate_book.py`` assembles them.
    """

    event_id: str
    occurred_at_ms: int
    card_id: str
    currency: str
    valid_from_ms: int
    valid_to_ms: int | None
    destinations: tuple[RateCardDestination, ...]
    bands: tuple[RateBand, ...] = ()  # v2
    part: int = 0  # v2
    parts: int = 1  # v2
    split_at_bands: bool = False  # v4: price each part of a call at its own band (issue 20)


class TickKind(str, Enum):
    HOUR = "HOUR"
    PERIOD_START = "PERIOD_START"  # 00:00 on the 1st of a month in ``time_zone`` (R13)


@dataclass(frozen=True, slots=True)
class PeriodTicked:
    """Time as an event, so that folds never read the clock."""

    event_id: str
    occurred_at_ms: int
    kind: TickKind
    period: str  # "YYYY-MM": the period that starts (PERIOD_START) or runs (HOUR)
    time_zone: str = "UTC"


# --- outputs -------------------------------------------------------------------------------


@fast_init  # made per call: projections/records.py
@dataclass(frozen=True, slots=True)
class CallRated:
    """The rating of one call, with its breakdown (emitted by the worker)."""

    event_id: str  # "c:<carrier>/<call_id>": one per call
    account_id: str
    occurred_at_ms: int  # the call's start (R5)
    call_key: str
    duration_s: int
    billed_s: int
    destination_prefix: str
    destination_name: str
    rate_micros_per_minute: int
    usage_micros: int
    connect_fee_micros: int
    charge_micros: int
    currency: str
    rate_card_id: str
    on_net: bool
    band: str = "standard"  # v2: the time band that priced the call
    included_s: int = 0  # v2: billed seconds covered by included minutes (R4)
    revision: int = 0  # v3: the CDR revision rated (a correction's row replaces the call's)


class InvoiceKind(str, Enum):
    REGULAR = "REGULAR"  # the monthly close (R13, R14)
    INTERIM = "INTERIM"  # R18
    CREDIT_NOTE = "CREDIT_NOTE"  # R19


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    category: str  # R16 charge categories, e.g. "usage:international", "tax:US-NY"
    description: str
    quantity: int  # minutes, days or units, as the category says
    amount_micros: int


@dataclass(frozen=True, slots=True)
class InvoiceIssued:
    event_id: str
    account_id: str
    occurred_at_ms: int
    invoice_number: str
    kind: InvoiceKind
    period: str  # "YYYY-MM"
    currency: str
    lines: tuple[InvoiceLine, ...]
    total_micros: int
    payments_micros: int = 0  # v2: received since the previous invoice, net of refunds and chargebacks
    balance_micros: int = 0  # v2: the balance right after issue (funds > 0, owed < 0)
    # v3: what a legal invoice states, frozen at issue: the zone its dates are printed in, when
    # it is due, who is invoiced (sealed, R32), and for a credit note the invoice it corrects.
    time_zone: str = "UTC"
    due_at_ms: int = 0
    customer_name: str = ""
    billing_address: str = ""
    customer_tax_id: str = ""
    corrects: str = ""  # a credit note: the reference of the invoice it corrects
    locale: str = ""  # v4: the customer's language at issue, which it is worded in ("": the deployment's)


@dataclass(frozen=True, slots=True)
class InvoiceNumbered:
    """The legal number of an issued invoice: gapless per issuer and year (projections/numbering.py)."""

    event_id: str  # "numbered:<reference>"
    reference: str  # the InvoiceIssued.invoice_number it numbers (the account's own sequence)
    account_id: str
    issuer: str
    year: int
    sequence: int
    number: str  # "<issuer>-<year>-<nnnnnn>"
    epoch_ms: int  # the tick whose epoch numbered it
    issued_at_ms: int


class AccountStatus(str, Enum):
    REGISTERED = "REGISTERED"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    FRAUD_HOLD = "FRAUD_HOLD"
    TERMINATED = "TERMINATED"


@dataclass(frozen=True, slots=True)
class AccountStatusChanged:
    """Every lifecycle transition, so switches can block or unblock numbers."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    old_status: AccountStatus
    new_status: AccountStatus
    reason: str
    numbers: tuple[str, ...] = ()
    effective_at_ms: int = 0  # v2: R24 terminations take effect before they are decided


@dataclass(frozen=True, slots=True)
class InterimInvoiceDue:
    """R18: a postpaid account owes more than the threshold; the provider may bill early."""

    event_id: str
    account_id: str
    occurred_at_ms: int
    owed_micros: int
    threshold_micros: int
    currency: str


AccountEvent = (
    AccountOpened | CallDetailRecord | PaymentReceived | PaymentRefunded | ChargebackReceived
    | PlanChangeRequested | AccountSuspended | AccountResumed | AccountTerminated
    | FraudHoldPlaced | FraudHoldReleased | DisputeOpened | DisputeResolved
    | SubscriberErasureRequested | AdjustmentPosted | AccountDetailsChanged | RateCardAssigned | CreditLimitSet
)
ACCOUNT_EVENTS: tuple[type, ...] = AccountEvent.__args__  # type: ignore[attr-defined]

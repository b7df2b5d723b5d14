"""The per-account fold: ``fold_batch(state, events) -> (state, outcomes)``, pure and idempotent.

One account's events arrive in log order, each with its position in the log. The fold:

- skips any event at or before the position it has already applied (a redelivery after a
  crash: the state record and its position are written together, so they never disagree);
- skips a call or payment whose dedup key it has already applied with the same content
  (a duplicate: counted, not charged twice), and rejects one whose content differs (a
  conflict goes to the dead-letter topic), unless it is a call at a higher revision: a
  carrier's correction, re-rated with the difference posted (``projections/corrections.py``);
- rates calls, debits charges and credits payments (R1, R2, R3, R7, R9); refunds and
  chargebacks debit the funds again (``paid_micros`` is net of them), a refund at most the
  unused balance and none for fraud (R8, R27);
- runs the account lifecycle (``projections/lifecycle.py``): time ticks, operator events and
  payments move the account's status, charge the monthly fee in advance, suspend, resume and
  terminate (R12, R14, R15, R22-R28); each status change is an ``AccountStatusChanged`` output
  and each amount a journal entry;
- keeps what is unbilled and issues invoices at the month close and at termination
  (``projections/invoicing.py``); opens and resolves disputes of issued invoices, a resolution
  for the customer being a credit note (``projections/disputes.py``, R19);
- switches plans at a period end (``projections/plan_change.py``, R21);
- folds a subscriber's erasure request (R32): the account's own numbers leave its state, and
  so every later status change; billing records stay;
- rejects, with the code ``unsupported_event``, an account event type it does not fold: loud
  and counted, and still in the log for a rebuild once it is folded.

Dedup memory is bounded (TigerBeetle: a limit on everything). Keys are kept for a window of
event time (``dedup_window_ms``, default 7 days) behind the newest event of the account, and
at most ``dedup_max_keys`` per account. An event older than the window cannot be proven new,
so it is rejected (``outside_dedup_window``) rather than risk a double charge. A full key set
(a call centre's account) lets go of its oldest keys and raises the account's dedup floor: from
then on an event at or before the floor is refused the same way, and newer calls go on being
billed. Both are loud, counted and dead-lettered. A key is kept
as a 64-bit id with its event time and content fingerprint (``dedup_key_id``): 24 bytes in the
state record, so 20,000 keys cost ~470 KB an account at most. A call's key also keeps what it was
charged, its included seconds, its revision and its parties' fingerprint (40 bytes), for a
carrier's correction (``projections/corrections.py``), and is dropped with its key.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable, Mapping

from projections import lifecycle as lc_rules
from projections.events import (
    AccountDetailsChanged,
    AccountEvent,
    AccountOpened,
    AccountStatusChanged,
    CallDetailRecord,
    Direction,
    InterimInvoiceDue,
    InvoiceIssued,
    InvoiceKind,
    AdjustmentPosted,
    PlanChangeRequested,
    SubscriberErasureRequested,
    ADJUSTMENT_CATEGORIES,
    ChargebackReceived,
    DisputeOpened,
    DisputeResolved,
    PaymentReceived,
    PaymentRefunded,
    PeriodTicked,
    RateCardAssigned,
    CreditLimitSet,
    PLAN_CREDIT_LIMIT,
)
from projections.dialling import calling_code
from projections.corrections import CORRECTION, Charged, judge
from projections.identity import dedup_key_id
from projections.journal import (
    JournalEntry,
    entry_for_call,
    entry_for_correction,
    entry_for_chargeback,
    entry_for_adjustment,
    entry_for_connection_fee,
    entry_for_decision,
    entry_for_payment,
    entry_for_refund,
    usage_category,
)
from projections import invoicing
from projections.disputes import Refused, open_dispute, resolve_dispute
from projections.plan_change import connection_fee_difference, effective_period
from projections.invoicing import Billing, TaxRule, add_charge
from projections.lifecycle import Context, Decision, InvalidTransition, Lifecycle, Policy, StatusChanged
from projections.periods import in_effect, local_time, next_period, period_of, period_start_ms, previous_period
from projections.plan_prices import (
    NO_PRICE, Schedule, credit_limit_in_force, keyed_schedule, of_plan, price_in, schedule,
)
from projections.rating import RateCard, RatedCall, RatingError, card_name, rate_call, rate_inbound, select_card
from projections.packed import EMPTY_CHARGES, EMPTY_KEYS, Overlay, PackedTable
from projections.records import evolved, fast_init
from projections.validation import (
    InvalidEvent,
    validate_account_opened,
    validate_locale,
    validate_cdr,
    validate_credit_limit,
    validate_money,
)

# Hot (once per call): a module global, not the enum's class attribute (projections/rating.py).
_INBOUND = Direction.INBOUND

DAY_MS = 86_400_000
# A full dedup key set lets go of its oldest 1/DEDUP_EVICTED_SHARE (``_make_room``): a sort of
# the keys once per ~2,000 new calls at the default bound.
DEDUP_EVICTED_SHARE = 10
# An account's balance, charges and payments stay within this, far inside an Avro long (9.2e18):
# one event moves them by at most ~1e15 (projections/validation.py: AMOUNT_MAX_MICROS), so past
# this bound the account takes no more money events and its state stays encodable.
TOTALS_MAX_MICROS = 10**18


@dataclass(frozen=True)
class FoldSettings:
    """Everything a fold needs besides the state and the events. Plain data."""

    rate_cards: tuple[RateCard, ...]
    on_net_prefixes: tuple[str, ...] = ()
    country_code: str = "1"
    dedup_window_ms: int = 7 * DAY_MS
    dedup_max_keys: int = 20_000
    # R4: (plan, included seconds per calendar month) for the plans that include minutes.
    included_seconds_by_plan: tuple[tuple[str, int], ...] = ()
    # Calls received on a rented number (issue 18): (plan, micro-units per minute); others free.
    inbound_rate_by_plan: tuple[tuple[str, int], ...] = ()
    # Their changes, as ``monthly_fee_changes``: (plan or "plan:CUR", first month, value from it).
    included_seconds_changes: tuple[tuple[str, str, int], ...] = ()
    inbound_rate_changes: tuple[tuple[str, str, int], ...] = ()
    # R10: postpaid credit limits, (plan or "plan:CUR", micro-units); read by authorization only.
    credit_limit_by_plan: tuple[tuple[str, int], ...] = ()

    def credit_limit(self, plan: str, currency: str) -> int | None:
        """R10: how far a postpaid account of ``plan`` may owe in ``currency`` ("plan:CUR", else
        "plan"); None: no limit. Asked at every authorization of a postpaid call."""
        return of_plan(self._credit_limits, plan, currency)

    @cached_property
    def _credit_limits(self) -> dict[str, int]:
        return dict(self.credit_limit_by_plan)

    # Tariff plans (issue 20): (plan, the names of its rate cards). A plan's calls are priced
    # with its cards; an account without a plan of its own, with the cards no plan keeps.
    plan_cards: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # A plan moved to other cards, dated by the first month of calls priced with them (in the
    # account's zone), as ``monthly_fee_changes``: (plan, first month, the names from it).
    plan_card_changes: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # Cards kept for accounts' own deals (RateCardAssigned): like a plan's, never a default card.
    deal_cards: tuple[str, ...] = ()

    @cached_property
    def _plan_cards(self) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
        named = {n for _, names in self.plan_cards for n in names} | {n for _, _, names in self.plan_card_changes
                                                                     for n in names}
        return dict(self.plan_cards), frozenset(named) | set(self.deal_cards)

    @cached_property
    def _plan_card_schedules(self) -> dict[str, tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]]:
        """plan -> (its names before any change, ((first month, names), ...) ascending), for the
        plans that have changes only."""
        by_plan, _ = self._plan_cards
        return {plan: (by_plan.get(plan, ()), tuple(sorted((month, names) for p, month, names in self.plan_card_changes
                                                            if p == plan)))
                for plan in {p for p, _, _ in self.plan_card_changes}}

    def plan_card_names(self, plan: str, at_ms: int, time_zone: str) -> tuple[str, ...]:
        """The names of ``plan``'s cards for a call started at ``at_ms``: the entry in effect in
        the call's month, in the account's zone (none: the default cards)."""
        dated = self._plan_card_schedules.get(plan)
        if dated is None:  # most plans: no change, no month to work out
            return self._plan_cards[0].get(plan, ())
        return in_effect(dated[0], dated[1], period_of(at_ms, time_zone))

    def unpriced(self) -> list[str]:
        """Plans priced in a currency they have no monthly fee for: a plan whose fees are set per
        currency ("plan:CUR") and whose cards also rate calls in a currency without a fee, and no
        fee for the plan in any currency. Said once at start, not found on an invoice."""
        fees = set(dict(self.monthly_fee_by_plan)) | {key for key, _, _ in self.monthly_fee_changes}
        by_plan: dict[str, set[str]] = {plan: set(names) for plan, names in self._plan_cards[0].items()}
        for plan, _, names in self.plan_card_changes:  # every card the plan has, before or after a change
            by_plan.setdefault(plan, set()).update(names)
        problems = []
        for plan, names in sorted(by_plan.items()):
            priced = {key.split(":", 1)[1] for key in fees if key.startswith(plan + ":")}
            rated = {c.currency for c in self.rate_cards if card_name(c.card_id) in names}
            if priced and plan not in fees and rated - priced:
                problems.append(f"plan {plan} rates calls in {', '.join(sorted(rated - priced))} but has a monthly "
                                f"fee only in {', '.join(sorted(priced))}: add {plan}:CUR:amount to monthly_fees")
        return problems

    def card_for(self, plan: str, currency: str, at_ms: int, deal: str = "", time_zone: str = "UTC") -> RateCard:
        """R2, R5: the card that prices a call of ``plan`` started at ``at_ms``: the account's own
        deal (``deal``, a card name) first, then the plan's own cards (of the call's month in
        ``time_zone``, the account's), then the default cards; the version in effect at the
        call's start.

        Once per call, so remembered (issue 22: choosing scanned every card, ~30 us a call): the
        choice cannot change between two consecutive times at which some card starts or stops
        being in effect, so it is kept per (plan, currency, deal, such interval); for a plan moved
        to other cards, per the names of its cards in the call's month instead of the plan.
        ``select_card_uncached`` is the reference, and a property test holds them equal."""
        dated = self._plan_card_schedules.get(plan)  # a plan moved to other cards: by the names of the month
        which = plan if dated is None else in_effect(dated[0], dated[1], period_of(at_ms, time_zone))
        key = (which, currency, deal, bisect_right(self._card_edges, at_ms))
        card = self._cards_chosen.get(key)
        if card is None:  # none in effect raises, every time, as the reference does
            card = self._cards_chosen[key] = self.select_card_uncached(plan, currency, at_ms, deal, time_zone)
        return card

    def select_card_uncached(self, plan: str, currency: str, at_ms: int, deal: str = "",
                             time_zone: str = "UTC") -> RateCard:
        _, reserved = self._plan_cards
        names = self.plan_card_names(plan, at_ms, time_zone)
        return select_card(self.rate_cards, currency, at_ms, ((deal,) if deal else (), names), reserved)

    @cached_property
    def _card_edges(self) -> list[int]:
        """Every time at which a card starts or stops being in effect, sorted. ``in_effect_at``
        is ``valid_from <= t < valid_to``, so between two edges each card is in effect or not
        throughout."""
        edges = {c.valid_from_ms for c in self.rate_cards} | {c.valid_to_ms for c in self.rate_cards
                                                              if c.valid_to_ms is not None}
        return sorted(edges)

    @cached_property
    def _cards_chosen(self) -> dict[tuple[str | tuple[str, ...], str, str, int], RateCard]:
        # Bounded: plans x currencies x deal cards x edges, all from configuration.
        return {}

    def price_schedule(self, setting: str, plan: str, currency: str = "") -> Schedule:
        """``plan``'s price in ``currency`` per month by one dated setting: ``monthly_fee``,
        ``connection_fee``, ``inbound_rate`` or ``included_seconds`` (projections/plan_prices.py).
        Remembered: an inbound call asks once per call."""
        found = self._schedules.get((setting, plan, currency))
        if found is None:
            assert setting in PRICED_SETTINGS, setting
            found = self._schedules[(setting, plan, currency)] = schedule(
                getattr(self, setting + "_by_plan"), getattr(self, setting + "_changes"), plan, currency)
        return found

    @cached_property
    def _schedules(self) -> dict[tuple[str, str, str], Schedule]:
        # Bounded: four settings x the plans and currencies accounts are on.
        return {}

    def inbound_rate(self, plan: str, currency: str, at_ms: int, time_zone: str) -> int:
        """Micro-units per minute a call received on a rented number at ``at_ms`` costs under
        ``plan``: its rate in ``currency`` ("plan:CUR"), else in any, in effect that month."""
        first, later = self.price_schedule("inbound_rate", plan, currency)
        return in_effect(first, later, period_of(at_ms, time_zone)) if later else first

    def connection_fee(self, plan: str, currency: str, period: str) -> int:
        """R21: ``plan``'s connection fee in ``currency`` ("plan:CUR"), else in any, in ``period``."""
        return price_in(self.price_schedule("connection_fee", plan, currency), period)

    def included_seconds(self, plan: str, period: str) -> int:
        """R4: included seconds of ``plan`` in ``period`` (0 when it includes none)."""
        return price_in(self.price_schedule("included_seconds", plan), period)

    # An event time further ahead of the log's own timestamp than this is a bad clock.
    max_clock_skew_ms: int = 3_600_000
    # The lifecycle (projections/lifecycle.py): (plan, monthly fee in micro-units of the
    # account's currency) for plans with a fee (R14); the rest of its policy.
    monthly_fee_by_plan: tuple[tuple[str, int], ...] = ()
    # Price changes: (plan or "plan:CUR", first month "YYYY-MM", monthly fee from then on).
    monthly_fee_changes: tuple[tuple[str, str, int], ...] = ()
    termination_fee_micros: int = 0  # R26, in any currency without a fee of its own
    # R26's fees per currency ("EUR", micros), and the changes: ("" or "EUR", first month, fee from it).
    termination_fee_by_currency: tuple[tuple[str, int], ...] = ()
    termination_fee_changes: tuple[tuple[str, str, int], ...] = ()
    connection_fee_by_plan: tuple[tuple[str, int], ...] = ()  # R21: an upgrade pays the difference
    connection_fee_changes: tuple[tuple[str, str, int], ...] = ()
    registration_grace_ms: int = 36 * 3_600_000  # R12
    inactivity_ms: int = 0  # R28; 0: never
    interim_threshold_micros: int = 50_000_000  # R18: 50.00 in the account's currency
    interim_threshold_by_currency: tuple[tuple[str, int], ...] = ()  # R18 where a currency has its own

    def interim_threshold(self, currency: str) -> int:
        """R18: the postpaid debt above which an account of ``currency`` is announced."""
        return self._interim_thresholds.get(currency, self.interim_threshold_micros)

    @cached_property
    def _interim_thresholds(self) -> dict[str, int]:
        return dict(self.interim_threshold_by_currency)

    # Invoicing (projections/invoicing.py): the issuer's prefix of invoice numbers, and the tax
    # rules (R17) by key: an account's tax jurisdiction, else its currency.
    invoice_issuer: str = "VL"
    taxes_by_key: tuple[tuple[str, tuple[TaxRule, ...]], ...] = ()
    # Changes of rates: (key, first period "YYYY-MM", the key's rules from it).
    tax_rule_changes: tuple[tuple[str, str, tuple[TaxRule, ...]], ...] = ()
    # Legal invoices (issue 20): days to pay after issue, per plan where a plan has its own term.
    payment_terms_days: int = 14
    payment_terms_days_by_plan: tuple[tuple[str, int], ...] = ()
    # Their changes: (plan, first period invoiced with it, days from it).
    payment_terms_changes: tuple[tuple[str, str, int], ...] = ()

    def due_at(self, plan: str, period: str, issued_at_ms: int) -> int:
        """When an invoice of ``period`` issued under ``plan`` at ``issued_at_ms`` is due (whole
        days later): the plan's own term in effect for the period, else the default."""
        own, changes = self._terms
        days = in_effect(own.get(plan), changes.get(plan, ()), period)
        return issued_at_ms + (self.payment_terms_days if days is None else days) * DAY_MS

    @cached_property
    def _terms(self) -> tuple[dict[str, int], dict[str, list[tuple[str, int]]]]:
        changes: dict[str, list[tuple[str, int]]] = {}
        for plan, month, days in sorted(self.payment_terms_changes, key=lambda change: change[1]):
            changes.setdefault(plan, []).append((month, days))
        return dict(self.payment_terms_days_by_plan), changes

    def taxes(self, tax_jurisdiction: str, currency: str, period: str = "") -> tuple[TaxRule, ...]:
        """R17: the rules of the account's jurisdiction when there are any, else of its currency;
        those in effect for ``period`` (the last change dated at or before it; "": the first)."""
        if tax_jurisdiction:
            own = self._rules_in_effect(tax_jurisdiction, period)
            if own is not None:
                return own
        return self._rules_in_effect(currency, period) or ()

    def _rules_in_effect(self, key: str, period: str) -> tuple[TaxRule, ...] | None:
        """``key``'s rules for ``period``; None when it has none yet."""
        return in_effect(dict(self.taxes_by_key).get(key), self._tax_changes.get(key, ()), period)

    @cached_property
    def _tax_changes(self) -> dict[str, list[tuple[str, tuple[TaxRule, ...]]]]:
        by_key: dict[str, list[tuple[str, tuple[TaxRule, ...]]]] = {}
        for key, month, rules in sorted(self.tax_rule_changes, key=lambda change: change[1]):
            by_key.setdefault(key, []).append((month, rules))
        return by_key

    @cached_property
    def _policies(self) -> dict[str, Policy]:
        return {}

    def policy(self, plan: str, currency: str = "") -> Policy:
        """The lifecycle's policy of ``plan``: its monthly fees in ``currency`` ("plan:CUR"), else
        in any currency ("plan"), month by month (``price_schedule``)."""
        found = self._policies.get((plan, currency))
        if found is None:
            first, later = self.price_schedule("monthly_fee", plan, currency)
            termination, later_terminations = keyed_schedule(
                (("", self.termination_fee_micros), *self.termination_fee_by_currency), self.termination_fee_changes,
                currency, "")
            found = self._policies[(plan, currency)] = Policy(
                first, termination, self.registration_grace_ms, self.inactivity_ms, later, later_terminations)
        return found


# The dated plan settings ``FoldSettings.price_schedule`` reads: each has ``<name>_by_plan`` and
# ``<name>_changes``.
PRICED_SETTINGS = frozenset({"monthly_fee", "connection_fee", "inbound_rate", "included_seconds"})


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class Positioned:
    """An event with where it sits in the log: (source, offset, index within an envelope)."""

    source: str  # "topic/partition"
    offset: int
    index: int
    log_time_ms: int  # the Kafka record timestamp: part of the log, so replay sees the same
    event: AccountEvent


@dataclass(frozen=True)
class AccountState:
    account_id: str
    opened_event_id: str
    currency: str
    plan: str
    billing_mode: str
    numbers: tuple[str, ...]
    time_zone: str
    opened_at_ms: int
    balance_micros: int = 0
    charged_micros: int = 0
    paid_micros: int = 0  # payments received, net of refunds and chargebacks
    calls_charged: int = 0
    newest_event_ms: int = 0
    # source -> (offset, index) of the last applied event from that source.
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    # dedup key id (dedup_key_id) -> (event time ms, content fingerprint); bounded, see module docstring.
    # Kept packed (projections/packed.py): a PackedTable, or any map a test or a tool builds.
    recent_keys: Mapping[int, tuple[int, int]] = EMPTY_KEYS
    # R4: seconds of included minutes used per period ("YYYY-MM", the account's zone); periods
    # whose calls the dedup window would refuse anyway are dropped, so this stays bounded.
    included_used_s: dict[str, int] = field(default_factory=dict)
    lifecycle: Lifecycle = Lifecycle()  # status, fee period, deadlines (AccountState v3)
    billing: Billing = Billing()  # unbilled charges and invoice numbering (AccountState v3)
    tax_jurisdiction: str = ""  # R17: from AccountOpened v2; picks the account's tax rules
    pending_plan: str = ""  # R21: the plan requested, from the period pending_plan_from on
    pending_plan_from: str = ""
    # The charge of each call whose dedup key is kept, for its corrections (projections/corrections.py).
    call_charges: Mapping[int, Charged] = EMPTY_CHARGES  # packed, as recent_keys
    country_code: str = ""  # the account's calling code (AccountOpened v3 country); "": the deployment's
    # Who is invoiced (AccountOpened v4, AccountDetailsChanged), sealed as the edge sealed them (R32).
    customer_name: str = ""
    billing_address: str = ""
    customer_tax_id: str = ""
    # An account's own deal (RateCardAssigned, AccountState v7): the card that prices its calls
    # started from ``card_override_from_ms`` on, before its plan's.
    card_override: str = ""
    card_override_from_ms: int = 0
    # The deals before it, (from ms, card name) oldest first (AccountState v8): a late CDR of a
    # call made under an earlier deal is priced with that deal (R5); kept while the dedup window
    # can still accept such a call, at most DEALS_KEPT.
    earlier_deals: tuple[tuple[int, str], ...] = ()
    # The newest event time whose dedup keys this account let go of because its key set was
    # full (AccountState v9, ``_make_room``): events at or before it are refused as outside the
    # window. 0: never full.
    dedup_floor_ms: int = 0
    # R10: what this postpaid account may owe (CreditLimitSet, AccountState v10), in micro-units
    # of its currency; PLAN_CREDIT_LIMIT (-1): its plan's limit (the credit_limits setting), if any.
    credit_limit_micros: int = PLAN_CREDIT_LIMIT
    # The customer's language (AccountOpened v5, AccountDetailsChanged v2; AccountState v11): a
    # CLDR locale their invoices are worded in, "" for the deployment's ``invoice_locale``.
    locale: str = ""


# --- outcomes -------------------------------------------------------------------------

Notice = AccountStatusChanged | InterimInvoiceDue | InvoiceIssued


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class Applied:
    item: Positioned
    rated: RatedCall | None = None  # set for calls
    entry: JournalEntry | None = None  # set for events that move money
    derived: tuple[JournalEntry, ...] = ()  # the lifecycle's fees, credits and refunds it caused
    notices: tuple[Notice, ...] = ()  # status changes and R18 signals, for the account.status topic


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class Decided:
    """What the lifecycle did on its own at this item: a tick's fee or deadline, or a deadline a
    payment's time passed. The item itself is accounted for separately (or, a tick, not at all)."""

    item: Positioned
    derived: tuple[JournalEntry, ...]
    notices: tuple[Notice, ...]


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class Duplicate:
    item: Positioned
    key: str


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class Redelivered:
    item: Positioned


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class Rejected:
    item: Positioned
    code: str
    reason: str


Outcome = Applied | Decided | Duplicate | Redelivered | Rejected


def _open(item: Positioned) -> tuple[AccountState | None, Outcome]:
    event = item.event
    assert isinstance(event, AccountOpened)
    try:
        validate_account_opened(event)
    except InvalidEvent as exc:
        return None, Rejected(item, exc.code, str(exc))
    state = AccountState(
        account_id=event.account_id, opened_event_id=event.event_id, currency=event.currency,
        plan=event.plan, billing_mode=event.billing_mode, numbers=tuple(event.numbers),
        time_zone=event.time_zone, opened_at_ms=event.occurred_at_ms, tax_jurisdiction=event.tax_jurisdiction,
        country_code=calling_code(event.country), customer_name=event.customer_name,
        billing_address=event.billing_address, customer_tax_id=event.customer_tax_id, locale=event.locale,
        newest_event_ms=event.occurred_at_ms, positions={item.source: (item.offset, item.index)},
    )
    return state, Applied(item)


class _Books:
    """The money and lifecycle of one account while a batch is folded (private, mutable)."""

    __slots__ = ("state", "balance", "charged", "paid", "_lifecycle", "_activity_ms", "policy", "interim_threshold",
                 "billing", "settings", "plan", "pending")

    def __init__(self, state: AccountState, settings: FoldSettings) -> None:
        self.state = state
        self.settings = settings
        self.interim_threshold = settings.interim_threshold(state.currency)
        self.balance, self.charged, self.paid = state.balance_micros, state.charged_micros, state.paid_micros
        self._lifecycle = state.lifecycle
        self._activity_ms = 0  # R28: the newest call or payment not yet in _lifecycle (note_activity)
        self.policy = settings.policy(state.plan, state.currency)
        # A private copy: add_charge mutates the unbilled sums while the batch folds.
        self.billing = invoicing.private_copy(state.billing)
        self.plan = state.plan
        self.pending = (state.pending_plan, state.pending_plan_from)  # R21

    @property
    def lifecycle(self) -> Lifecycle:
        if self._activity_ms > self._lifecycle.last_activity_ms:
            self._lifecycle = self._lifecycle.with_last_activity(self._activity_ms)
        return self._lifecycle

    @lifecycle.setter
    def lifecycle(self, value: Lifecycle) -> None:
        self._lifecycle = value

    def note_activity(self, at_ms: int) -> None:
        """R28: the newest call or payment, for the inactivity deadline. Kept aside and merged into
        the lifecycle when something reads it: a new Lifecycle per call cost ~5% of a batch."""
        if at_ms > self._activity_ms:
            self._activity_ms = at_ms

    def switch_plan(self, at_ms: int) -> tuple[JournalEntry, ...]:
        """R21: at the first tick of the period a requested plan starts in, switch to it; an
        upgrade to a higher connection fee charges the difference (an activation line)."""
        new_plan, from_period = self.pending
        if not new_plan or period_of(at_ms, self.state.time_zone) < from_period:
            return ()
        s = self.state
        fee_of = self.settings.connection_fee
        difference = connection_fee_difference(fee_of(self.plan, s.currency, from_period),
                                                fee_of(new_plan, s.currency, from_period))
        self.plan, self.pending = new_plan, ("", "")
        self.policy = self.settings.policy(new_plan, self.state.currency)
        if not difference:
            return ()
        self.balance -= difference
        self.charged += difference
        add_charge(self.billing.unbilled, from_period, "activation", 1, difference)
        return (entry_for_connection_fee(s.account_id, s.currency, from_period, at_ms, difference),)

    def charge_call(self, start_ms: int, rated: RatedCall, country_code: str) -> None:
        """Note a charged call for the invoice of the month it started in (R13, R16)."""
        category = usage_category(rated, country_code).removeprefix("revenue:")
        add_charge(self.billing.unbilled, period_of(start_ms, self.state.time_zone), category,
                   rated.billed_s, rated.charge_micros)

    def close(self, at_ms: int, period: str, usage_through: str, fees_through: str,
              kind: InvoiceKind = InvoiceKind.REGULAR) -> tuple[tuple[JournalEntry, ...], tuple[Notice, ...]]:
        """Invoice what is unbilled up to the given periods (projections/invoicing.py)."""
        s = self.state
        closing = invoicing.close(s.account_id, s.currency, self.billing, period=period, usage_through=usage_through,
                                  fees_through=fees_through, at_ms=at_ms, time_zone=s.time_zone,
                                  taxes=self.settings.taxes(s.tax_jurisdiction, s.currency, period),
                                  issuer=self.settings.invoice_issuer, balance_micros=self.balance, kind=kind)
        if closing is None:
            if kind is InvoiceKind.REGULAR and period > self.billing.billed_through:
                self.billing = replace(self.billing, billed_through=period)
            return (), ()
        self.billing = closing.billing
        self.balance -= closing.debit_micros
        self.charged += closing.debit_micros
        entries, notices = self.interim(at_ms)
        return ((closing.entry,) if closing.entry else ()) + entries, (self.legal(closing.invoice),) + notices

    def legal(self, invoice: InvoiceIssued) -> InvoiceIssued:
        """What a legal invoice states besides its lines, as the account is now: the zone its
        dates print in, its due date (a credit note is not due), who is invoiced (sealed)."""
        s = self.state
        due = 0 if invoice.kind is InvoiceKind.CREDIT_NOTE else self.settings.due_at(self.plan, invoice.period,
                                                                                          invoice.occurred_at_ms)
        return replace(invoice, time_zone=s.time_zone, due_at_ms=due, customer_name=s.customer_name,
                       billing_address=s.billing_address, customer_tax_id=s.customer_tax_id, locale=s.locale)

    def month_close(self, at_ms: int) -> tuple[tuple[JournalEntry, ...], tuple[Notice, ...]]:
        """R13, R14: the first time a tick shows a new month, the previous month closes, with
        the new month's fee (just charged in advance)."""
        current = period_of(at_ms, self.state.time_zone)
        previous = previous_period(current)
        if self.billing.billed_through >= previous:
            return (), ()
        return self.close(at_ms, previous, previous, current)

    def context(self) -> Context:
        s = self.state
        return Context(s.account_id, s.billing_mode, s.time_zone, s.opened_at_ms, self.balance)

    def interim(self, at_ms: int) -> tuple[tuple[JournalEntry, ...], tuple[Notice, ...]]:
        """R18: once when a postpaid account's debt rises above the threshold, announce it and
        issue an INTERIM invoice of everything unbilled so far (the month it falls in still
        closes as usual, with what comes after). The flag clears when the debt falls back to
        the threshold or below (a payment, a credit)."""
        if self.state.billing_mode != "postpaid":
            return (), ()
        owed = -self.balance
        due = owed > self.interim_threshold
        if due == self._lifecycle.interim_due:  # once per call: not worth merging the activity for
            return (), ()
        self.lifecycle = replace(self.lifecycle, interim_due=due)  # first: the close below re-checks
        if not due:
            return (), ()
        s = self.state
        notice = InterimInvoiceDue(f"interim:{s.account_id}/{at_ms}", s.account_id, at_ms, owed,
                                   self.interim_threshold, s.currency)
        period = period_of(at_ms, s.time_zone)
        entries, invoices = self.close(at_ms, period, period, period, InvoiceKind.INTERIM)
        return entries, (notice, *invoices)

    def settle(self, decisions: list[Decision], check_interim: bool = True,
               ) -> tuple[tuple[JournalEntry, ...], tuple[Notice, ...]]:
        """Apply the lifecycle's decisions: money moves with a journal entry, statuses are announced.
        ``check_interim=False`` leaves R18 to the caller (a tick closes the month first)."""
        entries: list[JournalEntry] = []
        changes: list[Notice] = []
        s = self.state
        final = bool(decisions) and isinstance(decisions[-1], StatusChanged) \
            and decisions[-1].new is lc_rules.AccountStatus.TERMINATED
        for d in decisions:
            if final and isinstance(d, (lc_rules.BalanceRefunded, StatusChanged)):
                # The final invoice (R25, R26) comes before the refund of what is left, so its
                # rounding and taxes are settled in the refund: everything unbilled, any period.
                final = False
                closed, invoices = self.close(d.at_ms, period_of(d.at_ms, s.time_zone), "9999-12", "9999-12")
                entries.extend(closed)
                changes.extend(invoices)
                if isinstance(d, lc_rules.BalanceRefunded):
                    if self.balance <= 0:
                        continue
                    d = replace(d, amount_micros=self.balance)
            delta = lc_rules.balance_change(d)
            self.balance += delta
            if isinstance(d, lc_rules.BalanceRefunded):
                self.paid += delta  # money going back out: net payments fall
            else:
                self.charged -= delta
            if isinstance(d, StatusChanged):
                old = self.lifecycle.status
                changes.append(AccountStatusChanged(
                    f"status:{s.account_id}/{d.at_ms}/{d.new.value}", s.account_id, d.at_ms, old, d.new,
                    d.reason, s.numbers, d.effective_at_ms))
            self.lifecycle = lc_rules.apply(self.lifecycle, d)
            entry = entry_for_decision(s.account_id, s.currency, d)
            if entry is not None:
                entries.append(entry)
            if isinstance(d, lc_rules.FeeCharged) and d.amount_micros:
                add_charge(self.billing.unbilled, d.period, "termination" if d.kind == "termination" else "monthly",
                           1, d.amount_micros)
            elif isinstance(d, lc_rules.FeeCredited) and d.amount_micros:
                add_charge(self.billing.unbilled, d.period, "monthly:credit", 1, -d.amount_micros)
        if decisions and check_interim:
            interim_entries, interim_notices = self.interim(decisions[-1].at_ms)
            entries.extend(interim_entries)
            changes.extend(interim_notices)
        return tuple(entries), tuple(changes)


class _Fold:
    """One account while a batch of its events is folded: private copies of what the events
    change, and the outcomes so far. The input state is never mutated."""

    __slots__ = ("settings", "state", "books", "positions", "recent", "charges", "calls", "newest", "included_used",
                 "allowance", "country", "key_id", "outcomes", "floor")

    def __init__(self, state: AccountState | None, settings: FoldSettings) -> None:
        self.settings = settings
        self.outcomes: list[Outcome] = []
        self.state = state
        self.books = _Books(state, settings) if state else None
        self.positions = dict(state.positions) if state else {}
        # Written over, not copied: merged into new tables once, by finish (projections/packed.py).
        self.recent = Overlay(PackedTable.of(state.recent_keys, 2) if state else EMPTY_KEYS)
        self.charges = Overlay(PackedTable.of(state.call_charges, 4) if state else EMPTY_CHARGES)
        self.country = (state.country_code or settings.country_code) if state else settings.country_code
        self.key_id = 0  # the dedup key id of the event being applied (a call keeps its charge under it)
        self.calls = state.calls_charged if state else 0
        self.newest = state.newest_event_ms if state else 0
        self.floor = state.dedup_floor_ms if state else 0
        self.included_used = dict(state.included_used_s) if state else {}
        # R4: the plan's included seconds per month (a schedule: they may change from a month on)
        self.allowance = settings.price_schedule("included_seconds", state.plan) if state else NO_PRICE

    def at(self, item: Positioned) -> None:
        """The account has taken ``item`` into account (applied, decided or rejected)."""
        self.positions[item.source] = (item.offset, item.index)

    def reject(self, item: Positioned, code: str, reason: str) -> None:
        self.outcomes.append(Rejected(item, code, reason))

    def finish(self) -> AccountState | None:
        state, books = self.state, self.books
        if state is None or books is None:
            return None
        horizon = self.newest - self.settings.dedup_window_ms
        recent = self.recent.table()
        if recent and recent.first_min() < horizon:
            recent = recent.kept(horizon)
        charges = self.charges.table()
        if len(charges) > len(recent):  # a call's charge is kept as long as its dedup key
            charges = charges.restricted(recent)
        included_used = self.included_used
        if included_used:
            oldest_kept = period_of(max(0, horizon), state.time_zone)
            included_used = {p: s for p, s in included_used.items() if p >= oldest_kept}
        assert books.charged - books.paid == -books.balance, "balance must equal payments minus charges"
        # Ticks that changed nothing, redeliveries: the caller sees the very same state and
        # writes nothing (a tick reaches every account of its partition, most of them idle).
        return evolved(state, {"plan": books.plan, "pending_plan": books.pending[0],
                               "pending_plan_from": books.pending[1], "balance_micros": books.balance,
                               "charged_micros": books.charged, "paid_micros": books.paid, "calls_charged": self.calls,
                               "newest_event_ms": self.newest, "positions": self.positions, "recent_keys": recent,
                               "call_charges": charges, "included_used_s": included_used, "dedup_floor_ms": self.floor,
                               "lifecycle": books.lifecycle, "billing": books.billing})


def fold_batch(
    state: AccountState | None, items: list[Positioned], settings: FoldSettings
) -> tuple[AccountState | None, list[Outcome]]:
    """Fold one account's events, in log order. Never raises on a bad event: it rejects it.

    The steps every event shares are here: a redelivery is skipped, then the event goes to its
    kind's handler (``_PLAIN`` or, for events with a dedup key, ``_DEDUPED`` after the dedup
    checks of ``_deduplicated``)."""
    if not items:
        return state, []
    if len(items) == 1 and state is not None and tick_changes_nothing(state, items[0], settings):
        return state, []  # most accounts at every tick
    return fold_items(state, items, settings)


def fold_items(state: AccountState | None, items: list[Positioned], settings: FoldSettings,
               ) -> tuple[AccountState | None, list[Outcome]]:
    """``fold_batch`` without its shortcut for a tick that changes nothing: every item through
    its handler (the reference ``tick_changes_nothing`` is tested against)."""
    fold = _Fold(state, settings)
    for item in items:
        done = fold.positions.get(item.source)
        event = item.event
        if done is not None and (item.offset, item.index) <= done:
            if not isinstance(event, PeriodTicked):  # a tick reaches every account: not news
                fold.outcomes.append(Redelivered(item))
            continue
        if isinstance(event, AccountOpened):
            _opened(fold, item)
        elif fold.state is None:
            if not isinstance(event, PeriodTicked):  # ticks fan out to known accounts only
                fold.reject(item, "unknown_account", f"no AccountOpened for account {event.account_id}")
        elif type(event) in _PLAIN:
            handler, skew_checked = _PLAIN[type(event)]
            if skew_checked and event.occurred_at_ms > item.log_time_ms + settings.max_clock_skew_ms:
                fold.at(item)
                fold.reject(item, "event_time_in_future", f"{type(event).__name__} is dated after it was logged")
            else:
                handler(fold, item)
        elif type(event) in _DEDUPED:
            _deduplicated(fold, item)
        else:
            fold.at(item)
            fold.reject(item, "unsupported_event", f"{type(event).__name__} is not folded yet")
    return fold.finish(), fold.outcomes


def _deduplicated(fold: _Fold, item: Positioned) -> None:
    """An event with a dedup key: validated, checked against the keys applied (a duplicate
    is counted, a conflict rejected), bounded by the dedup window and capacity, then applied."""
    event, settings = item.event, fold.settings
    validate, apply = _DEDUPED[type(event)]
    try:
        validate(fold, event)
    except InvalidEvent as exc:
        fold.reject(item, exc.code, str(exc))
        fold.at(item)
        return
    key, event_ms, fp = event.dedup_identity()
    fold.at(item)
    if event_ms > item.log_time_ms + settings.max_clock_skew_ms:
        return fold.reject(item, "event_time_in_future", f"{key} is dated after it was logged")
    # A key the window has passed counts as dropped whether or not the fold has dropped it yet
    # (it does so when a part ends), so the answer never depends on where a batch part ended.
    horizon = fold.newest - settings.dedup_window_ms
    if event_ms < horizon or event_ms <= fold.floor:
        return fold.reject(item, "outside_dedup_window", f"{key} is older than the dedup window" if event_ms < horizon
                           else f"{key} is not newer than the dedup keys this busy account keeps")
    key_id = dedup_key_id(key)
    seen = fold.recent.get(key_id)
    if seen is not None and seen[0] >= horizon:
        if type(event) is CallDetailRecord:
            _revised(fold, item, key_id, fp, seen[1] == fp)
        elif seen[1] == fp:
            fold.outcomes.append(Duplicate(item, key))
        else:
            fold.reject(item, "duplicate_conflict", f"{key} was already applied with other content")
        return
    if len(fold.recent) >= settings.dedup_max_keys and _make_room(fold, settings) >= event_ms:
        return fold.reject(item, "outside_dedup_window", f"{key} is not newer than the dedup keys this busy "
                                                         "account keeps")
    books = fold.books
    if max(abs(books.balance), abs(books.charged), abs(books.paid)) > TOTALS_MAX_MICROS:
        return fold.reject(item, "account_totals_out_of_range", f"the account's totals passed {TOTALS_MAX_MICROS} "
                                                                "micro-units: nothing more is added to them")
    fold.key_id = key_id
    if apply(fold, item, event_ms):
        fold.recent[key_id] = (event_ms, fp)
        if event_ms > fold.newest:
            fold.newest = event_ms


def _make_room(fold: _Fold, settings: FoldSettings) -> int:
    """A full key set: drop the keys the window has passed, and if it is still full, the oldest
    tenth (every key at or before a cut time), raising the account's dedup floor to that time.
    Returns the floor. A busy account (a call centre) so goes on being billed; what it gives up
    is the CDRs older than the keys it keeps, refused like those older than the window, so no
    call is ever charged twice. Decided per event, in log order: a rebuild decides the same."""
    horizon = fold.newest - settings.dedup_window_ms
    recent = fold.recent.table().kept(horizon)
    if len(recent) >= settings.dedup_max_keys:
        times = sorted(t for t, _ in recent.values())
        cut = times[len(times) // DEDUP_EVICTED_SHARE]
        recent = recent.kept(cut + 1)  # every key after the cut
        fold.floor = max(fold.floor, cut)
    fold.recent = Overlay(recent)
    return fold.floor


# --- handlers: one per event kind ---------------------------------------------------------


def _opened(fold: _Fold, item: Positioned) -> None:
    event = item.event
    assert isinstance(event, AccountOpened)
    if fold.state is not None:
        if event.event_id == fold.state.opened_event_id:
            fold.outcomes.append(Duplicate(item, "o:" + event.event_id))
        else:
            fold.reject(item, "account_already_open", f"account {event.account_id} is already open")
        fold.at(item)
        return
    state, outcome = _open(item)
    if state is not None:
        fold.state, fold.positions, fold.recent, fold.newest = state, dict(state.positions), Overlay(EMPTY_KEYS), \
            state.newest_event_ms
        fold.allowance = fold.settings.price_schedule("included_seconds", state.plan)
        fold.country = state.country_code or fold.settings.country_code
        books = fold.books = _Books(state, fold.settings)
        # Invoicing starts with the month the account opens in (R15: its pro-rated fee).
        books.billing = replace(books.billing, billed_through=previous_period(
            period_of(event.occurred_at_ms, state.time_zone)))
        books.lifecycle, decisions = lc_rules.opening(state.billing_mode, event.occurred_at_ms, state.time_zone,
                                                       books.policy)
        derived, changes = books.settle(decisions)
        outcome = Applied(item, derived=derived, notices=changes)
    fold.outcomes.append(outcome)


def _tick(fold: _Fold, item: Positioned) -> None:
    books, at_ms = fold.books, item.event.occurred_at_ms
    switched = books.switch_plan(at_ms)  # R21: before the period's fee
    if switched or books.plan != fold.state.plan:
        fold.allowance = fold.settings.price_schedule("included_seconds", books.plan)
    decisions = lc_rules.on_tick(books.lifecycle, books.context(), at_ms, books.policy)
    # The month closes before R18 is checked: an interim invoice covers only what the regular
    # one has not.
    derived, notices = books.settle(decisions, check_interim=False)
    closed_entries, invoices = books.month_close(at_ms)
    interim_entries, interim_notices = books.interim(at_ms)
    if decisions or invoices or interim_notices or switched:  # a tick that changes nothing leaves no trace
        fold.at(item)
        fold.outcomes.append(Decided(item, switched + derived + closed_entries + interim_entries,
                                     notices + invoices + interim_notices))


def tick_changes_nothing(state: AccountState, item: Positioned, settings: FoldSettings) -> bool:
    """Whether ``item`` is a tick that ``_tick`` would find nothing to do for: one dated before
    the account's ``tick_quiet_until``. Then the fold leaves the state as it is and says nothing.

    Why (issue 22): a tick reaches every account of its partition, and almost all of them are
    idle, but setting up a fold for one and comparing its state at the end cost ~14 us: an
    hourly tick over 1M accounts is ~16 s, and a rebuild of a year folds 8,760 of them. It asks
    the quiet time, so that ``_tick``'s tests are written once outside ``_tick`` (they were
    twice, here and there). ``tests/unit/test_idle_ticks.py`` holds it to the full fold on
    generated states and ticks: where this says nothing, the fold gives back the very same state
    and no outcome, and where it says something, the fold does something."""
    tick = item.event
    if type(tick) is not PeriodTicked or tick.occurred_at_ms > item.log_time_ms + settings.max_clock_skew_ms:
        return False
    return tick.occurred_at_ms < tick_quiet_until(state, settings)


def tick_quiet_until(state: AccountState, settings: FoldSettings) -> int:
    """The earliest time a tick can find something to do for ``state``: every tick dated before
    it changes nothing (0: the next tick may do something). ``_tick``'s four tests solved for
    the time: the pending plan's period starts (R21), the lifecycle's next deadline or fee
    (``lc_rules.quiet_until``, ``on_tick``'s), the month after the next unbilled one starts
    (R13), and R18's flag, which no tick time can put right once it is out of date.

    Why (issue 22): a worker asks each account's state this once when it writes or reads it, and
    leaves the account out of every tick before that time (``streams/worker/state_cache.py``):
    an idle account costs a tick nothing instead of a fold's ~6 us and, past the decoded states
    a worker keeps, a decode. ``tests/unit/test_idle_ticks.py`` holds it to
    ``tick_changes_nothing``: never later than a tick that does something, and exact."""
    billed, zone_name = state.billing.billed_through, state.time_zone
    if not billed or (state.billing_mode == "postpaid" and (
            (-state.balance_micros > settings.interim_threshold(state.currency)) != state.lifecycle.interim_due)):
        return 0
    until = period_start_ms(next_period(next_period(billed)), zone_name)  # previous_period(period) > billed
    if state.pending_plan:
        until = min(until, period_start_ms(state.pending_plan_from, zone_name))
    policy = settings.policy(state.plan, state.currency)
    return min(until, lc_rules.quiet_until(state.lifecycle, state.opened_at_ms, zone_name, policy))


def _erasure(fold: _Fold, item: Positioned) -> None:
    """R32: billing records stay, personal identifiers go. The account's own numbers leave its
    state (and so every later AccountStatusChanged); ClickHouse rows are anonymised by
    `voiceledger subscriber erase`, which logs this event, and again by the worker that folds it
    (streams/worker/processor.py: BatchResult.erased). A rebuild drops them too."""
    fold.at(item)
    if fold.state.numbers or fold.state.customer_name or fold.state.billing_address or fold.state.customer_tax_id:
        fold.state = replace(fold.state, numbers=(), customer_name="", billing_address="", customer_tax_id="")
        fold.books.state = fold.state
    fold.outcomes.append(Applied(item))


DEALS_KEPT = 16


def deal_at(state: AccountState, at_ms: int) -> str:
    """The account's own card for a call started at ``at_ms``: the deal in force then ("": none)."""
    if at_ms >= state.card_override_from_ms:
        return state.card_override
    found = ""
    for from_ms, card in state.earlier_deals:
        if from_ms <= at_ms:
            found = card
    return found


def _card_assigned(fold: _Fold, item: Positioned) -> None:
    """An account's own deal, from the event's time on (issue 20); the one it replaces is kept for
    late CDRs of calls made under it, as long as the dedup window could still accept them."""
    event = item.event
    assert isinstance(event, RateCardAssigned)
    fold.at(item)
    state = fold.state
    earlier = state.earlier_deals
    if state.card_override_from_ms:
        earlier = (*earlier, (state.card_override_from_ms, state.card_override))
    horizon = max(fold.newest, event.occurred_at_ms) - fold.settings.dedup_window_ms
    # A deal is needed while a call under it can arrive: until the deal after it began before the horizon.
    starts = [f for f, _ in earlier[1:]] + [event.occurred_at_ms]
    earlier = tuple(d for d, next_from in zip(earlier, starts) if next_from > horizon)[-DEALS_KEPT:]
    fold.state = replace(state, card_override=event.card, card_override_from_ms=event.occurred_at_ms,
                         earlier_deals=earlier)
    fold.books.state = fold.state
    fold.outcomes.append(Applied(item))


def _credit_limit_set(fold: _Fold, item: Positioned) -> None:
    """R10: the account's own credit limit, read by authorization. Refused for a prepaid
    account (R10 lets it spend its balance only) and in another currency (R7)."""
    event = item.event
    assert isinstance(event, CreditLimitSet)
    fold.at(item)
    try:
        validate_credit_limit(event)
        _same_currency(fold, event)
    except InvalidEvent as exc:
        return fold.reject(item, exc.code, str(exc))
    if fold.state.billing_mode != "postpaid":
        return fold.reject(item, "not_postpaid", f"credit limit {event.event_id}: account {event.account_id} is "
                                                 f"{fold.state.billing_mode}; R10 lets it spend its balance only")
    fold.state = replace(fold.state, credit_limit_micros=event.limit_micros)
    fold.books.state = fold.state
    fold.outcomes.append(Applied(item))


def credit_limit_of(state: AccountState, settings: FoldSettings) -> int | None:
    """R10: what a postpaid account may owe: its own limit, else its plan's (None: no limit)."""
    return credit_limit_in_force(state.credit_limit_micros, state.plan, state.currency, settings._credit_limits)


def _details(fold: _Fold, item: Positioned) -> None:
    """The customer block of later invoices; issued invoices keep theirs. A language left empty
    is left as it was: a CRM that sends the block without it does not reset the customer's."""
    event = item.event
    assert isinstance(event, AccountDetailsChanged)
    fold.at(item)
    try:
        validate_locale(event.account_id, event.locale)
    except InvalidEvent as exc:
        return fold.reject(item, exc.code, str(exc))
    if event.block_unchanged and (event.customer_name or event.billing_address or event.customer_tax_id):
        return fold.reject(item, "details_ambiguous", f"details {event.event_id}: a change of the language alone "
                                                      "carries no block (block_unchanged)")
    locale = event.locale or fold.state.locale
    if event.block_unchanged:
        fold.state = replace(fold.state, locale=locale)
    else:
        fold.state = replace(fold.state, customer_name=event.customer_name, billing_address=event.billing_address,
                             customer_tax_id=event.customer_tax_id, locale=locale)
    fold.books.state = fold.state
    fold.outcomes.append(Applied(item))


def _operator(fold: _Fold, item: Positioned) -> None:
    """R22-R27: suspend, resume, terminate, fraud holds."""
    books = fold.books
    fold.at(item)
    try:
        decisions = lc_rules.on_operator(books.lifecycle, books.context(), item.event, books.policy)
    except InvalidTransition as exc:
        return fold.reject(item, exc.code, str(exc))
    derived, changes = books.settle(decisions)
    fold.outcomes.append(Applied(item, derived=derived, notices=changes))


_PLAIN: dict[type, tuple[Callable[[_Fold, Positioned], None], bool]] = {
    PeriodTicked: (_tick, True),  # (handler, whether an event time past the log time is refused first)
    SubscriberErasureRequested: (_erasure, False),
    AccountDetailsChanged: (_details, True),
    RateCardAssigned: (_card_assigned, True),
    CreditLimitSet: (_credit_limit_set, True),
    **{kind: (_operator, True) for kind in lc_rules.OPERATOR_EVENTS},
}


def _same_currency(fold: _Fold, event: AccountEvent) -> None:
    if event.currency != fold.state.currency:  # R7: never add two currencies
        raise InvalidEvent("currency_mismatch", f"{type(event).__name__} in {event.currency} "
                                                f"for a {fold.state.currency} account")


def _valid_call(fold: _Fold, event: CallDetailRecord) -> None:
    validate_cdr(event)


def _valid_money(fold: _Fold, event: AccountEvent) -> None:
    validate_money(event)
    _same_currency(fold, event)


def _valid_plan_change(fold: _Fold, event: PlanChangeRequested) -> None:
    if fold.books.lifecycle.status is lc_rules.AccountStatus.TERMINATED:
        raise InvalidEvent("account_terminated", f"plan change {event.event_id}: the account is terminated")
    if not event.new_plan:
        raise InvalidEvent("bad_field", f"plan change {event.event_id} names no plan")


def _valid_adjustment(fold: _Fold, event: AdjustmentPosted) -> None:
    _same_currency(fold, event)
    if event.category not in ADJUSTMENT_CATEGORIES:
        raise InvalidEvent("unknown_category", f"adjustment {event.event_id}: category {event.category!r} "
                                               f"is not one of {', '.join(ADJUSTMENT_CATEGORIES)}")
    if event.amount_micros == 0:
        raise InvalidEvent("zero_amount", f"adjustment {event.event_id} has no amount")
    if event.category == "compensation" and event.amount_micros > 0:  # R29: the provider pays it
        raise InvalidEvent("compensation_not_a_credit", f"adjustment {event.event_id}: a compensation is a credit "
                                                        "(a negative amount)")


def _rate(fold: _Fold, item: Positioned, given_back_s: int = 0) -> tuple[RatedCall, str] | None:
    """R1-R5: the call rated with the card of its start and the included minutes left in its
    month (plus ``given_back_s``, a corrected call's earlier use); None when it is rejected."""
    event, state, settings = item.event, fold.state, fold.settings
    try:
        card = settings.card_for(fold.books.plan, state.currency, event.start_at_ms, deal_at(state, event.start_at_ms),
                                 state.time_zone)
        if event.direction is _INBOUND:  # billed to the rented number's owner
            plan = fold.books.plan
            rate = settings.inbound_rate(plan, state.currency, event.start_at_ms, state.time_zone)
            return rate_inbound(event, card, rate, plan), ""
        first, later = fold.allowance
        # The month is named only where minutes are counted (R4) or given back (a correction).
        period = period_of(event.start_at_ms, state.time_zone) if first or later or given_back_s else ""
        allowance_s = in_effect(first, later, period) if later else first
        remaining_s = max(0, allowance_s - fold.included_used.get(period, 0) + given_back_s) if allowance_s else 0
        rated = rate_call(event, card, on_net_prefixes=settings.on_net_prefixes, country_code=fold.country,
                          time_zone=state.time_zone, included_remaining_s=remaining_s, plan=fold.books.plan)
    except RatingError as exc:
        fold.reject(item, exc.code, str(exc))
        return None
    return rated, period


def _call(fold: _Fold, item: Positioned, event_ms: int) -> bool:
    """R1-R4, R9: rate the call, debit its charge, count included minutes."""
    event, books = item.event, fold.books
    rating = _rate(fold, item)
    if rating is None:
        return False
    rated, period = rating
    if rated.included_s:  # R4: unused minutes do not carry over: one count per period
        fold.included_used[period] = fold.included_used.get(period, 0) + rated.included_s
    books.balance -= rated.charge_micros  # R9: every charge debits the balance
    books.charged += rated.charge_micros
    if rated.charge_micros:
        books.charge_call(event.start_at_ms, rated, fold.country)
        fold.calls += 1
    books.note_activity(event.start_at_ms)
    fold.charges[fold.key_id] = (rated.charge_micros, rated.included_s, event.revision, event.parties_fingerprint())
    fold.outcomes.append(Applied(item, rated, entry_for_call(event, rated, fold.country),
                                 *books.interim(event.start_at_ms)))
    return True


def _revised(fold: _Fold, item: Positioned, key_id: int, fp: int, same: bool) -> None:
    """A call applied before: the same content (a duplicate, at whatever revision: a higher one
    is noted, so that an older revision arriving later is superseded by it), an older revision
    (superseded, counted like a duplicate), a correction (projections/corrections.py), or a
    conflict."""
    event = item.event
    prior = fold.charges.get(key_id)
    if same:
        if prior is not None and event.revision > prior[2]:
            fold.charges[key_id] = (prior[0], prior[1], event.revision, prior[3])
        return fold.outcomes.append(Duplicate(item, "c:" + event.call_key))
    try:
        verdict = judge(prior, event)
    except InvalidEvent as exc:
        return fold.reject(item, exc.code, str(exc))
    if verdict is not CORRECTION:
        return fold.outcomes.append(Duplicate(item, f"c:{event.call_key}@{event.revision} ({verdict})"))
    if _correction(fold, item, key_id):
        fold.recent[key_id] = (event.start_at_ms, fp)


def _correction(fold: _Fold, item: Positioned, key_id: int) -> bool:
    """Re-rate a corrected call and post the difference: a journal entry and an invoice line
    of the call's month, never a second charge."""
    event, books = item.event, fold.books
    charge, included_s, _, parties = fold.charges[key_id]
    rating = _rate(fold, item, given_back_s=included_s)
    if rating is None:
        return False
    rated, period = rating
    if included_s or rated.included_s:  # R4: the earlier revision's use is given back
        fold.included_used[period] = fold.included_used.get(period, 0) - included_s + rated.included_s
    difference = rated.charge_micros - charge
    books.balance -= difference
    books.charged += difference
    if difference:
        add_charge(books.billing.unbilled, period_of(event.start_at_ms, fold.state.time_zone), "usage:correction",
                   1, difference)
    fold.calls += (rated.charge_micros > 0) - (charge > 0)
    fold.charges[key_id] = (rated.charge_micros, rated.included_s, event.revision, parties)
    entry = entry_for_correction(event, rated, difference, fold.country)
    fold.outcomes.append(Applied(item, rated, entry, *books.interim(event.start_at_ms)))
    return True


def _payment(fold: _Fold, item: Positioned, event_ms: int) -> bool:
    """R9, R24, R27: a payment is credited, unless a fraud hold refuses it."""
    event, books = item.event, fold.books
    # A payment's time may have passed a deadline no tick has reached yet (R24).
    passed = lc_rules.before_funds(books.lifecycle, books.context(), event_ms, books.policy)
    if passed:
        fold.outcomes.append(Decided(item, *books.settle(passed)))
    refusal = lc_rules.payment_refusal(books.lifecycle)  # R27: no recharge on a fraud hold
    if refusal is not None:
        fold.reject(item, *refusal)
        return False
    books.balance += event.amount_micros  # R9: payments are credited
    books.paid += event.amount_micros
    books.billing = invoicing.with_payments(books.billing, books.billing.payments_since + event.amount_micros)
    books.note_activity(event_ms)
    derived, changes = books.settle(lc_rules.on_funds(books.lifecycle, books.context(), event_ms, books.policy))
    interim_entries, interim_notices = books.interim(event_ms)
    fold.outcomes.append(Applied(item, None, entry_for_payment(event), derived + interim_entries,
                                 changes + interim_notices))
    return True


def _refund(fold: _Fold, item: Positioned, event_ms: int) -> bool:
    """A refund or a chargeback takes funds back out. A refund is the provider's choice, and
    gives back only what is unused (R8, R27); a chargeback is the bank's, and is recorded as it comes."""
    event, books = item.event, fold.books
    refusal = _refund_refusal(books, event) if isinstance(event, PaymentRefunded) else None
    if refusal is not None:
        fold.reject(item, *refusal)
        return False
    books.balance -= event.amount_micros
    books.paid -= event.amount_micros
    books.billing = invoicing.with_payments(books.billing, books.billing.payments_since - event.amount_micros)
    entry = entry_for_refund(event) if isinstance(event, PaymentRefunded) else entry_for_chargeback(event)
    fold.outcomes.append(Applied(item, None, entry, *books.interim(event_ms)))
    return True


def _refund_refusal(books: _Books, event: PaymentRefunded) -> tuple[str, str] | None:
    """R8: what completed or interrupted calls (and fees) took is not given back, so a refund is
    at most the unused balance; a charge in question goes through a dispute (R19). R27: none on
    a fraud hold or after a termination for fraud."""
    refusal = lc_rules.refund_refusal(books.lifecycle)
    if refusal is not None:
        return refusal
    if event.amount_micros > max(0, books.balance):
        return "refund_exceeds_balance", (
            f"refund {event.event_id} of {event.amount_micros} micro-units is more than the unused balance "
            f"{max(0, books.balance)}: completed calls are not refunded (R8); dispute a charge instead (R19)")
    return None


def _plan_change(fold: _Fold, item: Positioned, event_ms: int) -> bool:
    """R21: takes effect at a period end."""
    fold.books.pending = (item.event.new_plan, effective_period(event_ms, fold.state.time_zone))
    fold.outcomes.append(Applied(item))
    return True


def _adjustment(fold: _Fold, item: Positioned, event_ms: int) -> bool:
    """R16: a one-off charge or credit, with its own invoice line."""
    event, books = item.event, fold.books
    books.balance -= event.amount_micros
    books.charged += event.amount_micros
    add_charge(books.billing.unbilled, period_of(event_ms, fold.state.time_zone), event.category, 1,
               event.amount_micros)
    fold.outcomes.append(Applied(item, None, entry_for_adjustment(event), *books.interim(event_ms)))
    return True


def _dispute_opened(fold: _Fold, item: Positioned, event_ms: int) -> bool:
    """R19."""
    opened = open_dispute(fold.books.billing, item.event)
    if isinstance(opened, Refused):
        fold.reject(item, opened.code, opened.reason)
        return False
    fold.books.billing = opened
    fold.outcomes.append(Applied(item))
    return True


def _dispute_resolved(fold: _Fold, item: Positioned, event_ms: int) -> bool:
    """R19: a win for the customer is a credit note."""
    state, books = fold.state, fold.books
    year = local_time(event_ms, state.time_zone).year
    # R17, R19: the credit note reverses the taxes at the rates its invoice charged (its period's)
    disputed = books.billing.open_disputes.get(item.event.dispute_event_id)
    taxes = fold.settings.taxes(state.tax_jurisdiction, state.currency, disputed[1] if disputed else "")
    resolved = resolve_dispute(books.billing, item.event, state.currency, year, fold.settings.invoice_issuer,
                               books.balance, taxes)
    if isinstance(resolved, Refused):
        fold.reject(item, resolved.code, resolved.reason)
        return False
    books.billing = resolved.billing
    books.balance += resolved.credit_micros
    books.charged -= resolved.credit_micros
    notes = (books.legal(resolved.credit_note),) if resolved.credit_note else ()
    interim_entries, interim_notices = books.interim(event_ms)
    fold.outcomes.append(Applied(item, None, resolved.entry, interim_entries, notes + interim_notices))
    return True


# (validate, apply) per kind of event with a dedup key; apply returns whether the key is kept.
_DEDUPED: dict[type, tuple[Callable[[_Fold, AccountEvent], None], Callable[[_Fold, Positioned, int], bool]]] = {
    CallDetailRecord: (_valid_call, _call),
    PaymentReceived: (_valid_money, _payment),
    PaymentRefunded: (_valid_money, _refund),
    ChargebackReceived: (_valid_money, _refund),
    PlanChangeRequested: (_valid_plan_change, _plan_change),
    AdjustmentPosted: (_valid_adjustment, _adjustment),
    DisputeOpened: (_same_currency, _dispute_opened),
    DisputeResolved: (_same_currency, _dispute_resolved),
}


def fold_all(items: list[Positioned], settings: FoldSettings) -> dict[str, AccountState]:
    """Fold a whole log from scratch: the oracle for rebuilds and tests."""
    by_account: dict[str, list[Positioned]] = {}
    for item in items:
        if isinstance(item.event, PeriodTicked):  # a tick reaches every account known so far
            for account_items in by_account.values():
                account_items.append(item)
            continue
        by_account.setdefault(item.event.account_id, []).append(item)
    states: dict[str, AccountState] = {}
    for account_id, account_items in by_account.items():
        state, _ = fold_batch(None, account_items, settings)
        if state is not None:
            states[account_id] = state
    return states

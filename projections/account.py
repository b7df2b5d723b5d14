"""The per-account fold: ``fold_batch(state, events) -> (state, outcomes)``, pure and idempotent.

One account's events arrive in log order, each with its position in the log. The fold:

- skips any event at or before the position it has already applied (a redelivery after a
  crash: the state record and its position are written together, so they never disagree);
- skips a call or payment whose dedup key it has already applied with the same content
  (a duplicate: counted, not charged twice), and rejects one whose content differs (a
  conflict goes to the dead-letter topic);
- rates calls, debits charges and credits payments (R1, R2, R3, R7, R9); refunds and
  chargebacks debit the funds again (``paid_micros`` is net of them);
- rejects, with the code ``unsupported_event``, account events it does not fold yet (the
  lifecycle, disputes and privacy requests): loud and counted, and still in the log for a
  rebuild once they are folded.

Dedup memory is bounded (TigerBeetle: a limit on everything). Keys are kept for a window of
event time (``dedup_window_ms``, default 7 days) behind the newest event of the account, and
at most ``dedup_max_keys`` per account. An event older than the window cannot be proven new,
so it is rejected (``outside_dedup_window``) rather than risk a double charge; a full key set
rejects (``dedup_capacity_exceeded``). Both are loud, counted and dead-lettered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property

from projections.events import (
    AccountEvent,
    AccountOpened,
    CallDetailRecord,
    ChargebackReceived,
    PaymentReceived,
    PaymentRefunded,
)
from projections.journal import (
    JournalEntry,
    entry_for_call,
    entry_for_chargeback,
    entry_for_payment,
    entry_for_refund,
)
from projections.periods import period_of
from projections.rating import RateCard, RatedCall, RatingError, rate_call, select_card
from projections.validation import (
    InvalidEvent,
    validate_account_opened,
    validate_cdr,
    validate_money,
)

DAY_MS = 86_400_000
MONEY_EVENTS = (PaymentReceived, PaymentRefunded, ChargebackReceived)
# Dedup key prefix of each money event: one namespace per kind, so ids of kinds never collide.
_MONEY_KEY_PREFIX = {PaymentReceived: "p:", PaymentRefunded: "r:", ChargebackReceived: "b:"}


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

    @cached_property
    def _allowance_s(self) -> dict[str, int]:
        return dict(self.included_seconds_by_plan)

    def included_seconds(self, plan: str) -> int:
        """R4: included seconds per calendar month of ``plan`` (0 when it includes none)."""
        return self._allowance_s.get(plan, 0)
    # An event time further ahead of the log's own timestamp than this is a bad clock.
    max_clock_skew_ms: int = 3_600_000


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
    # dedup key -> (event time ms, content fingerprint); bounded, see module docstring.
    recent_keys: dict[str, tuple[int, int]] = field(default_factory=dict)
    # R4: seconds of included minutes used per period ("YYYY-MM", the account's zone); periods
    # whose calls the dedup window would refuse anyway are dropped, so this stays bounded.
    included_used_s: dict[str, int] = field(default_factory=dict)


# --- outcomes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applied:
    item: Positioned
    rated: RatedCall | None = None  # set for calls
    entry: JournalEntry | None = None  # set for events that move money


@dataclass(frozen=True, slots=True)
class Duplicate:
    item: Positioned
    key: str


@dataclass(frozen=True, slots=True)
class Redelivered:
    item: Positioned


@dataclass(frozen=True, slots=True)
class Rejected:
    item: Positioned
    code: str
    reason: str


Outcome = Applied | Duplicate | Redelivered | Rejected


def fingerprint(*parts: object) -> int:
    """A stable 64-bit content hash (Python's ``hash`` is salted per process; this is not)."""
    raw = "\x1f".join(str(p) for p in parts).encode()
    # Signed, so it fits an Avro long in the state record.
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


def _dedup_identity(event: AccountEvent) -> tuple[str, int, int]:
    """(dedup key, event time, fingerprint) of a call or payment."""
    if isinstance(event, CallDetailRecord):
        fp = fingerprint(event.account_id, event.caller, event.callee, event.start_at_ms,
                         event.answer_at_ms, event.end_at_ms, event.disposition.value)
        return "c:" + event.call_key, event.start_at_ms, fp
    assert isinstance(event, MONEY_EVENTS)
    at_ms = event.received_at_ms if isinstance(event, PaymentReceived) else event.occurred_at_ms
    fp = fingerprint(event.account_id, event.amount_micros, event.currency, at_ms)
    return _MONEY_KEY_PREFIX[type(event)] + event.event_id, at_ms, fp


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
        time_zone=event.time_zone, opened_at_ms=event.occurred_at_ms,
        newest_event_ms=event.occurred_at_ms, positions={item.source: (item.offset, item.index)},
    )
    return state, Applied(item)


def fold_batch(
    state: AccountState | None, items: list[Positioned], settings: FoldSettings
) -> tuple[AccountState | None, list[Outcome]]:
    """Fold one account's events, in log order. Never raises on a bad event: it rejects it."""
    outcomes: list[Outcome] = []
    if not items:
        return state, outcomes
    # Work on private copies; the input state is never mutated.
    positions = dict(state.positions) if state else {}
    recent = dict(state.recent_keys) if state else {}
    balance = state.balance_micros if state else 0
    charged = state.charged_micros if state else 0
    paid = state.paid_micros if state else 0
    calls = state.calls_charged if state else 0
    newest = state.newest_event_ms if state else 0
    included_used = dict(state.included_used_s) if state else {}
    allowance_s = settings.included_seconds(state.plan) if state else 0

    for item in items:
        done = positions.get(item.source)
        if done is not None and (item.offset, item.index) <= done:
            outcomes.append(Redelivered(item))
            continue
        event = item.event
        if isinstance(event, AccountOpened):
            if state is None:
                state, outcome = _open(item)
                outcomes.append(outcome)
                if state is not None:
                    positions, recent, newest = dict(state.positions), {}, state.newest_event_ms
                    allowance_s = settings.included_seconds(state.plan)
                continue
            if event.event_id == state.opened_event_id:
                outcomes.append(Duplicate(item, "o:" + event.event_id))
            else:
                outcomes.append(Rejected(item, "account_already_open", f"account {event.account_id} is already open"))
            positions[item.source] = (item.offset, item.index)
            continue
        if state is None:
            outcomes.append(Rejected(item, "unknown_account", f"no AccountOpened for account {event.account_id}"))
            continue

        try:
            if isinstance(event, CallDetailRecord):
                validate_cdr(event)
            elif isinstance(event, MONEY_EVENTS):
                validate_money(event)
                if event.currency != state.currency:  # R7: never add two currencies
                    raise InvalidEvent("currency_mismatch", f"{type(event).__name__} in {event.currency} "
                                                            f"for a {state.currency} account")
            else:
                raise InvalidEvent("unsupported_event", f"{type(event).__name__} is not folded yet")
        except InvalidEvent as exc:
            outcomes.append(Rejected(item, exc.code, str(exc)))
            positions[item.source] = (item.offset, item.index)
            continue

        key, event_ms, fp = _dedup_identity(event)
        positions[item.source] = (item.offset, item.index)
        if event_ms > item.log_time_ms + settings.max_clock_skew_ms:
            outcomes.append(Rejected(item, "event_time_in_future", f"{key} is dated after it was logged"))
            continue
        seen = recent.get(key)
        if seen is not None:
            if seen[1] == fp:
                outcomes.append(Duplicate(item, key))
            else:
                outcomes.append(Rejected(item, "duplicate_conflict", f"{key} was already applied with other content"))
            continue
        if event_ms < newest - settings.dedup_window_ms:
            outcomes.append(Rejected(item, "outside_dedup_window", f"{key} is older than the dedup window"))
            continue
        if len(recent) >= settings.dedup_max_keys:
            outcomes.append(Rejected(item, "dedup_capacity_exceeded", f"account holds {len(recent)} dedup keys"))
            continue

        if isinstance(event, CallDetailRecord):
            try:
                card = select_card(settings.rate_cards, state.currency, event.start_at_ms)
                period = period_of(event.start_at_ms, state.time_zone) if allowance_s else ""
                remaining_s = max(0, allowance_s - included_used.get(period, 0)) if allowance_s else 0
                rated = rate_call(event, card, on_net_prefixes=settings.on_net_prefixes,
                                  country_code=settings.country_code, time_zone=state.time_zone,
                                  included_remaining_s=remaining_s)
            except RatingError as exc:
                outcomes.append(Rejected(item, exc.code, str(exc)))
                continue
            if rated.included_s:  # R4: unused minutes do not carry over: one count per period
                included_used[period] = included_used.get(period, 0) + rated.included_s
            balance -= rated.charge_micros  # R9: every charge debits the balance
            charged += rated.charge_micros
            calls += 1 if rated.charge_micros else 0
            outcomes.append(Applied(item, rated, entry_for_call(event, rated, settings.country_code)))
        elif isinstance(event, PaymentReceived):
            balance += event.amount_micros  # R9: payments are credited
            paid += event.amount_micros
            outcomes.append(Applied(item, None, entry_for_payment(event)))
        else:  # a refund or a chargeback takes funds back out
            balance -= event.amount_micros
            paid -= event.amount_micros
            entry = entry_for_refund(event) if isinstance(event, PaymentRefunded) else entry_for_chargeback(event)
            outcomes.append(Applied(item, None, entry))
        recent[key] = (event_ms, fp)
        if event_ms > newest:
            newest = event_ms

    if state is None:
        return None, outcomes
    horizon = newest - settings.dedup_window_ms
    if len(recent) and min(t for t, _ in recent.values()) < horizon:
        recent = {k: v for k, v in recent.items() if v[0] >= horizon}
    if included_used:
        oldest_kept = period_of(max(0, newest - settings.dedup_window_ms), state.time_zone)
        included_used = {p: s for p, s in included_used.items() if p >= oldest_kept}
    assert charged - paid == -balance, "balance must equal payments minus charges"
    new_state = replace(state, balance_micros=balance, charged_micros=charged, paid_micros=paid,
                        calls_charged=calls, newest_event_ms=newest, positions=positions,
                        recent_keys=recent, included_used_s=included_used)
    return new_state, outcomes


def fold_all(items: list[Positioned], settings: FoldSettings) -> dict[str, AccountState]:
    """Fold a whole log from scratch: the oracle for rebuilds and tests."""
    by_account: dict[str, list[Positioned]] = {}
    for item in items:
        by_account.setdefault(item.event.account_id, []).append(item)
    states: dict[str, AccountState] = {}
    for account_id, account_items in by_account.items():
        state, _ = fold_batch(None, account_items, settings)
        if state is not None:
            states[account_id] = state
    return states

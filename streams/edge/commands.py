"""Operators' commands as events (issue 19): open an account, record a payment, a refund or a
chargeback, post a one-off charge or credit, change a plan, suspend, resume or terminate an
account, place or release a fraud hold, open and resolve a dispute, set a postpaid account's
credit limit.

An operator or a CRM gives plain values; this module turns them into the account event, checks
it as the worker will (bounds, currency, billing mode, country, zone: ``projections/validation``),
and puts it on the events topic through the edge's producer (``streams/edge/publish.py``: the
account's partition, its numbers sealed with the subscriber's key, R32). Nobody writes Avro.

**Idempotency.** Every command has an idempotency key (``--idempotency-key``; by default the
account id for an opening, a fresh one printed back for a payment). The event id derives from
it, and once the broker has acknowledged the event it is kept in ``<data_dir>/commands/`` with
its answer (per events topic): the same key again sends nothing and gives the same answer; the same key with other
values is refused (``idempotency_key_reused``). A retry after a crash between the acknowledgement
and that record, or from another machine, sends the event again: the worker counts it a
duplicate (the event id is the fold's dedup key), or, with another time, dead-letters it as a
conflict; it is never credited twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

from projections.events import (
    ADJUSTMENT_CATEGORIES,
    PLAN_CREDIT_LIMIT,
    AccountDetailsChanged,
    AccountOpened,
    AccountResumed,
    AccountSuspended,
    AccountTerminated,
    AdjustmentPosted,
    ChargebackReceived,
    CreditLimitSet,
    DisputeOpened,
    DisputeOutcome,
    DisputeResolved,
    FraudHoldPlaced,
    FraudHoldReleased,
    PaymentReceived,
    PaymentRefunded,
    PlanChangeRequested,
    RateCardAssigned,
    SuspensionReason,
    TerminationReason,
)
from projections.money import SUPPORTED_CURRENCIES
from projections.validation import (
    TIME_MAX_MS,
    TIME_MIN_MS,
    InvalidEvent,
    check_bounds,
    validate_account_opened,
    validate_credit_limit,
    validate_locale,
    validate_money,
)
from streams.config import checks
from streams.config.settings import ConfigError, Settings
from streams.edge.publish import produce_events
from streams.kafka.partitioning import partition_for

KEY_CHARS_MAX = 200
DISPUTE_REASON_BYTES_MAX = 600  # sealed (R32), it must fit an event's text bound as the billing address does
# An account's id, as the API takes it: safe in a URL and in a read model's query. Checked when an
# account is opened, by the CLI as by the API, so that every new account can be reached by both;
# other commands take the ids already on the log as they are.
ACCOUNT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
PLAN_CHARS_MAX = checks.PLAN_NAME_MAX  # what a plan setting can name (streams/config/checks.py)


class CommandRefused(ConfigError):
    """A command whose values the worker would refuse; said in one line, exit 2."""


@dataclass(frozen=True)
class Answer:
    event_id: str
    account_id: str
    partition: int
    idempotency_key: str
    replayed: bool = False  # the same key was used before: the same event was sent again


def _event_id(kind: str, key: str) -> str:
    if not key or len(key) > KEY_CHARS_MAX:
        raise CommandRefused(f"--idempotency-key: 1 to {KEY_CHARS_MAX} characters")
    return f"{kind}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


@dataclass(frozen=True)
class Customer:
    """Who is invoiced: a name, a billing address (lines), a tax id, personal and sealed on the
    log; and the language their invoices and portal are in (not personal, in clear)."""

    name: str = ""
    address: str = ""  # lines separated by "\n"
    tax_id: str = ""
    locale: str = ""  # a CLDR locale (nl_BE); "": the deployment's invoice_locale

    def checked(self) -> Customer:
        """Sealed, each must fit an event's text bound: at most these many UTF-8 bytes in clear."""
        for field, value, limit in (("customer_name", self.name, 200), ("billing_address", self.address, 600),
                                    ("customer_tax_id", self.tax_id, 64)):
            if len(value.encode()) > limit or any(ord(c) < 32 and c != "\n" for c in value):
                raise CommandRefused(f"{field}: at most {limit} bytes of text (lines separated by newlines)")
        known_locale(self.locale)
        return self


def known_locale(locale: str) -> str:
    """A customer's language as the fold takes it (``fr``, ``nl_BE``) and one Babel can word and
    format their invoices in; "" for the deployment's. A language with no catalogue of words
    gets English words with its own dates and amounts, as ``invoice_locale`` does."""
    try:
        validate_locale("", locale)
        if locale:
            checks.locale(locale)
    except (InvalidEvent, checks.Invalid):
        raise CommandRefused(f"locale: {locale[:16]!r} is not a language such as fr, nl_BE or de_CH "
                             "(language, then an optional _REGION)") from None
    return locale


def sold(plan: str, plans: tuple[str, ...]) -> str:
    """``plan`` when the catalogue (the ``plans`` setting) sells it or is empty. An account on a
    misspelt plan would be billed without its fee and at the default cards, and nobody would
    see it; Lago and Kill Bill refuse an unknown plan code too."""
    if not checks.is_plan_name(plan):  # a plan no setting could ever name: no fee, no cards, ever
        raise CommandRefused(f"plan: 1 to {PLAN_CHARS_MAX} characters, none of them a space, a control character, "
                             "',', ':' or '|'")
    if plans and plan not in plans:
        raise CommandRefused(f"unknown_plan: {plan!r} is not a plan sold (plans: {', '.join(plans)})")
    return plan


def opening(account_id: str, currency: str, plan: str, mode: str, numbers: list[str], time_zone: str,
            country: str, tax_jurisdiction: str, key: str, at_ms: int | None = None,
            customer: Customer = Customer(), plans: tuple[str, ...] = ()) -> AccountOpened:
    """``plans``: the catalogue the plan must be in (empty: any)."""
    if not re.fullmatch(ACCOUNT_ID, account_id):
        raise CommandRefused(f"account: {account_id[:80]!r} must be 1 to 64 letters, digits, '.', '_', ':' or '-', "
                             "starting with a letter or digit")
    sold(plan, plans)
    who = customer.checked()
    event = AccountOpened(_event_id("open", key or account_id), account_id, at_ms or int(time.time() * 1000),
                          currency.upper(), plan, mode, tuple(numbers), time_zone, tax_jurisdiction, country.upper(),
                          who.name, who.address, who.tax_id, who.locale)
    _checked(event, validate_account_opened)
    return event


def details(account_id: str, customer: Customer, key: str, at_ms: int | None = None) -> AccountDetailsChanged:
    """The customer block of the account's next invoices (issued ones keep theirs)."""
    who = customer.checked()
    event = AccountDetailsChanged(_event_id("details", key), account_id, at_ms or _now_ms(), who.name, who.address,
                                  who.tax_id, who.locale)
    _checked(event, lambda _: None)
    return event


def language(account_id: str, locale: str, key: str, at_ms: int | None = None) -> AccountDetailsChanged:
    """The customer's language alone (their own choice on the portal, or an operator's): the
    block (sealed) stays as it is."""
    event = AccountDetailsChanged(_event_id("language", key), account_id, at_ms or _now_ms(), "", "", "",
                                  known_locale(locale) or _refused_empty(), block_unchanged=True)
    _checked(event, lambda _: None)
    return event


def _refused_empty() -> str:
    raise CommandRefused("locale: name the language, such as fr, nl_BE or de_CH")


def payment(account_id: str, amount_micros: int, currency: str, reference: str, key: str,
            at_ms: int | None = None) -> PaymentReceived:
    event = PaymentReceived(_event_id("pay", key), account_id, at_ms or int(time.time() * 1000), amount_micros,
                            currency.upper(), reference)
    _checked(event, validate_money)
    return event


def refund(account_id: str, amount_micros: int, currency: str, payment_event_id: str, reason: str, key: str,
           at_ms: int | None = None) -> PaymentRefunded:
    """Money going back to the customer (a refund of a payment, or of an unused balance)."""
    event = PaymentRefunded(_event_id("refund", key), account_id, at_ms or int(time.time() * 1000), amount_micros,
                            currency.upper(), payment_event_id, reason)
    _checked(event, validate_money)
    return event


def adjustment(account_id: str, amount_micros: int, currency: str, category: str, reason: str, key: str,
               at_ms: int | None = None) -> AdjustmentPosted:
    """R16: a one-off charge (activation, feature, equipment, shipping: a number change is a
    feature) or, negative, a credit (goodwill, correction), invoiced as its own line."""
    if category == "compensation":  # only with its cap checked (R29)
        raise CommandRefused("compensation_needs_its_malfunction: a compensation is posted as one, with the time of "
                             "the malfunction (voiceledger compensate, POST .../compensations; R29)")
    event = AdjustmentPosted(_event_id("adjust", key), account_id, at_ms or int(time.time() * 1000), amount_micros,
                             currency.upper(), category, reason)
    _checked(event, _valid_adjustment)
    return event


def compensation(account_id: str, amount_micros: int, currency: str, malfunction_at_ms: int,
                 balance_at: Callable[[int], int], reason: str, key: str, at_ms: int | None = None,
                 retry: bool = False) -> AdjustmentPosted:
    """R29: a credit for a provider malfunction, at most what the account held when it happened
    (``balance_at(malfunction_at_ms)``: the caller reads the journal, as the fold keeps no history
    of balances). Posted as an adjustment of category ``compensation`` with the malfunction's time
    in its reason. Not the balance read: a retry under the same key must be the same event
    (``submit``), and the journal gives that balance again at any time. ``retry``: the key was
    sent before (``sent_before``); the cap was checked then, and is not again, so a late CDR dated
    before the malfunction cannot turn a retry into a refusal. ``submit`` still refuses the key
    for other values."""
    at_ms = at_ms or _now_ms()
    if not TIME_MIN_MS <= malfunction_at_ms < TIME_MAX_MS:  # checked before it is read with
        raise CommandRefused("malfunction_at: between 2000 and 2100")
    if at_ms < malfunction_at_ms:
        raise CommandRefused("malfunction_at: a compensation is credited after the malfunction it makes good")
    if amount_micros <= 0:
        raise CommandRefused("amount: a compensation is a positive amount, credited to the account")
    held = amount_micros if retry else max(0, balance_at(malfunction_at_ms))
    if amount_micros > held:
        raise CommandRefused(f"compensation_exceeds_balance: a compensation of {amount_micros} micro-units is more than "
                             f"the {held} the account held at the malfunction, {_iso(malfunction_at_ms)} (R29)")
    said = f"malfunction at {_iso(malfunction_at_ms)}"
    event = AdjustmentPosted(_event_id("compensate", key), account_id, at_ms, -amount_micros,
                             currency.upper(), "compensation", f"{reason}; {said}" if reason else said)
    _checked(event, _valid_adjustment)
    return event


def sent_before(settings: Settings, kind: str, key: str) -> bool:
    """Whether a command of ``kind`` (``_event_id``'s) was sent under ``key`` already."""
    return _record_path(settings, _event_id(kind, key)).exists()


def _iso(at_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_ms // 1000))


def _valid_adjustment(event: AdjustmentPosted) -> None:
    if event.currency not in SUPPORTED_CURRENCIES:
        raise InvalidEvent("unknown_currency", f"currency {event.currency[:8]!r}")
    if event.category not in ADJUSTMENT_CATEGORIES:
        raise InvalidEvent("unknown_category", f"category {event.category[:40]!r} is not one of "
                                               f"{', '.join(ADJUSTMENT_CATEGORIES)}")
    if event.amount_micros == 0:
        raise InvalidEvent("zero_amount", "an adjustment needs an amount")


def chargeback(account_id: str, amount_micros: int, currency: str, payment_event_id: str, reason_code: str,
               key: str, at_ms: int | None = None) -> ChargebackReceived:
    """The card holder's bank took a payment back: the funds are debited again."""
    event = ChargebackReceived(_event_id("chargeback", key), account_id, at_ms or _now_ms(), amount_micros,
                               currency.upper(), payment_event_id, reason_code)
    _checked(event, validate_money)
    return event


def plan_change(account_id: str, new_plan: str, key: str, at_ms: int | None = None,
                plans: tuple[str, ...] = ()) -> PlanChangeRequested:
    """R21: the new plan applies from the next period; the worker decides when. ``plans``: the
    catalogue it must be in (empty: any)."""
    sold(new_plan, plans)
    event = PlanChangeRequested(_event_id("plan", key), account_id, at_ms or _now_ms(), new_plan)
    _checked(event, lambda _: None)
    return event


def dispute(account_id: str, invoice_reference: str, amount_micros: int, currency: str, reason: str, key: str,
            at_ms: int | None = None) -> DisputeOpened:
    """R19: a dispute of an issued invoice (its reference; the API finds it by its legal number
    too). The worker refuses one opened more than 30 days after the invoice. The reason is the
    customer's own words, sealed on the log like their name (R32), so it is bounded in bytes."""
    if len(reason.encode()) > DISPUTE_REASON_BYTES_MAX or any(ord(c) < 32 and c != "\n" for c in reason):
        raise CommandRefused(f"reason: at most {DISPUTE_REASON_BYTES_MAX} bytes of text (lines separated by newlines)")
    event = DisputeOpened(_event_id("dispute", key), account_id, at_ms or _now_ms(), invoice_reference,
                          amount_micros, currency.upper(), reason)
    _checked(event, validate_money)
    return event


def dispute_resolution(account_id: str, dispute_event_id: str, outcome: str, credit_micros: int, currency: str,
                       key: str, at_ms: int | None = None) -> DisputeResolved:
    """R19: for the customer, a credit note of ``credit_micros``; for the provider, nothing moves."""
    try:
        decided = DisputeOutcome(outcome.upper())
    except ValueError:
        raise CommandRefused(f"outcome: one of {', '.join(o.value for o in DisputeOutcome)}") from None
    if (decided is DisputeOutcome.CUSTOMER_FAVOUR) != (credit_micros > 0):
        raise CommandRefused("credit: positive for CUSTOMER_FAVOUR, zero for PROVIDER_FAVOUR")
    event = DisputeResolved(_event_id("resolve", key), account_id, at_ms or _now_ms(), dispute_event_id, decided,
                            credit_micros, currency.upper())
    _checked(event, lambda _: None)
    return event


def deal(account_id: str, card: str, key: str, at_ms: int | None = None,
         kept: frozenset[str] | None = None) -> RateCardAssigned:
    """An account's own card (a negotiated deal) from now on, before its plan's; "" ends it.
    ``kept``: the cards a deal may name (``deal_cards`` and the plans' cards); None: any. A card
    kept by no deal or plan already prices every account's calls, and a misspelt one would
    leave the account on its plan's cards unnoticed."""
    if card and (not checks.is_plan_name(card) or "@" in card):  # as plan_cards and deal_cards name cards
        raise CommandRefused("card: a card's name (its id before @), at most 64 characters")
    if card and kept is not None and card not in kept:
        raise CommandRefused(f"unknown_deal_card: {card!r} is not a card kept for deals or plans "
                             f"({', '.join(sorted(kept)) or 'none: set deal_cards'})")
    event = RateCardAssigned(_event_id("deal", key), account_id, at_ms or _now_ms(), card)
    _checked(event, lambda _: None)
    return event


def credit_limit(account_id: str, limit_micros: int | None, currency: str, reason: str, key: str,
                 at_ms: int | None = None, billing_mode: str | None = None) -> CreditLimitSet:
    """R10: what a postpaid account may owe from now on (None: its plan's limit again). The
    worker refuses it for a prepaid account, and in another currency than the account's;
    ``billing_mode``, when the caller could read it, refuses a prepaid account here already."""
    if billing_mode == "prepaid":
        raise CommandRefused(f"not_postpaid: account {account_id} is prepaid; R10 lets it spend its balance only")
    limit = PLAN_CREDIT_LIMIT if limit_micros is None else limit_micros
    if limit_micros is not None and limit_micros < 0:
        raise CommandRefused("limit: 0 or more (what the account may owe); leave it out for its plan's limit")
    event = CreditLimitSet(_event_id("credit-limit", key), account_id, at_ms or _now_ms(), currency.upper(), limit,
                           reason)
    _checked(event, validate_credit_limit)
    return event


def kept_cards(settings: Settings) -> frozenset[str]:
    """The cards an account's deal may name: those kept for deals and the plans' own."""
    return frozenset(settings.deal_cards) | settings.plan_card_names()


def _now_ms() -> int:
    return int(time.time() * 1000)


STATUS_ACTIONS = ("suspend", "resume", "hold", "release", "terminate")
# R25-R27: the reasons an operator terminates for (non-payment and inactivity are the lifecycle's own)
TERMINATION_REASONS = ("CUSTOMER_REQUEST", "PROVIDER_WITHOUT_REASON", "BREACH", "FRAUD")


def status_change(action: str, account_id: str, case_ref: str, key: str, at_ms: int | None = None,  # noqa: ANN201
                  reason: str = ""):
    """R22-R27: an operator suspends, resumes or terminates an account (``reason``: one of
    ``TERMINATION_REASONS``), or places or releases a fraud hold (``case_ref``: the fraud case).
    The worker's lifecycle decides whether the move is allowed."""
    at, event_id = at_ms or _now_ms(), _event_id(action, key)
    if action == "terminate":
        if reason.upper() not in TERMINATION_REASONS:
            raise CommandRefused(f"reason: a termination gives one of {', '.join(TERMINATION_REASONS)}")
        event = AccountTerminated(event_id, account_id, at, TerminationReason(reason.upper()), at)
    elif action == "suspend":
        event = AccountSuspended(event_id, account_id, at, SuspensionReason.OPERATOR)
    elif action == "resume":
        event = AccountResumed(event_id, account_id, at)
    elif action in ("hold", "release"):
        if not case_ref:
            raise CommandRefused("case_ref: a fraud hold names its case")
        event = (FraudHoldPlaced if action == "hold" else FraudHoldReleased)(event_id, account_id, at, case_ref)
    else:
        raise CommandRefused(f"action: one of {', '.join(STATUS_ACTIONS)}")
    _checked(event, lambda _: None)
    return event


def _checked(event: object, validate) -> None:  # noqa: ANN001 - a validation function
    if not getattr(event, "account_id", ""):
        raise CommandRefused("account: an account id is required")
    try:
        check_bounds(event)
        validate(event)
    except InvalidEvent as exc:
        raise CommandRefused(f"{exc.code}: {exc}") from None


def _record_path(settings: Settings, event_id: str) -> Path:
    """Where the event sent under a key is kept: per events topic (a key means one command on
    one log, not on another deployment's)."""
    topic = settings.events_topic.replace("/", "_")
    return Path(settings.data_dir) / "commands" / topic / f"{event_id.replace(':', '-')}.json"


def submit(settings: Settings, event, key: str, send=None) -> Answer:  # noqa: ANN001 - one of the events above
    """The event on the log once. A key seen before sends nothing and gives the first answer
    (its event was acknowledged before the record of it was written). ``send(events)``: how the
    event reaches the log (the API's long-lived producer); by default a producer of its own."""
    record = _record_path(settings, event.event_id)
    first = json.loads(record.read_text()) if record.exists() else None
    if first is not None:
        if _untimed(first["event"]) != _untimed(_plain(event)):
            raise CommandRefused("idempotency_key_reused: this key was used for another command; use a new key")
        return Answer(**{**first["answer"], "replayed": True})
    if send is None:
        asyncio.run(produce_events(settings, [event]))
    else:
        send([event])
    answer = Answer(event.event_id, event.account_id, partition_for(event.account_id, settings.partitions), key)
    record.parent.mkdir(parents=True, exist_ok=True)
    temporary = record.with_suffix(".tmp")
    temporary.write_text(json.dumps({"event": _plain(event), "answer": asdict(answer)}))
    os.replace(temporary, record)
    return answer


_TIMES = ("occurred_at_ms", "received_at_ms")  # from the clock: a retry keeps the first one's


def _plain(event: object) -> dict:
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(event).items()}
    return {"kind": type(event).__name__, **{k: v.value if isinstance(v, Enum) else v for k, v in plain.items()}}


def _untimed(values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in _TIMES}


def new_key() -> str:
    return uuid.uuid4().hex

"""Validation of incoming events: what makes an event invalid, with a stable reason code.

An invalid event is never folded; the stream layer sends it to the dead-letter topic with
the code and message from ``InvalidEvent``.

``check_bounds`` comes first, for every event from outside: every time, amount, text and list
within a named bound (TigerBeetle: a limit on everything), so that no later step (a zone
lookup, a date conversion, a state record's Avro long, a ClickHouse DateTime) meets a value it
cannot hold.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Callable

from projections.events import (
    PLAN_CREDIT_LIMIT,
    AccountOpened,
    CallDetailRecord,
    ChargebackReceived,
    CreditLimitSet,
    Disposition,
    PaymentReceived,
    PaymentRefunded,
)
from projections.dialling import calling_code
from projections.money import SUPPORTED_CURRENCIES
from projections.periods import is_time_zone

try:  # the bounds checked in C (projections/slots_kernel.pyx, built by setup.py); optional
    from projections.slots_kernel import bounds_clear
except ImportError:  # pragma: no cover - a build without the kernel: the walk alone, slower
    bounds_clear = None

# Hot (once per call): a module global, not the enum's class attribute (projections/rating.py).
_ANSWERED = Disposition.ANSWERED

BILLING_MODES = frozenset({"prepaid", "postpaid"})
MAX_CALL_DURATION_MS = 48 * 3600 * 1000  # a longer "call" is a switch fault, not usage


# Event times: nothing billed here happened before 2000, and ClickHouse's DateTime ends in 2106.
TIME_MIN_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
TIME_MAX_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
AMOUNT_MAX_MICROS = 10**15  # a billion units of any currency in one event
TEXT_CHARS_MAX = 1_024  # any text field of an event
LIST_ITEMS_MAX = 100  # any list field (an account's numbers)


class InvalidEvent(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _kinds(event_type: type) -> tuple[tuple[str, str], ...]:
    """(field, kind) of an event type, kind from the field's name and type: "time" (``*_ms``),
    "amount" (``*_micros``), "zone", "text", "list", or "" (bounded by its type: enums)."""
    out = []
    for f in fields(event_type):
        annotation = str(f.type)
        if f.name.endswith("_ms"):
            out.append((f.name, "time"))
        elif f.name.endswith("_micros"):
            out.append((f.name, "amount"))
        elif f.name == "time_zone":
            out.append((f.name, "zone"))
        elif annotation.startswith("tuple"):
            out.append((f.name, "list"))
        elif annotation == "str":
            out.append((f.name, "text"))
        else:
            out.append((f.name, ""))
    return tuple(out)


_KINDS: dict[type, tuple[tuple[str, str], ...]] = {}
_CLEARS: dict[type, Callable[[object], bool] | None] = {}


def _clear_of(event_type: type) -> Callable[[object], bool] | None:
    """The compiled check that an event of ``event_type`` is surely within its bounds; None
    without the kernel, or for a type it cannot judge (a time zone, a field not in a slot)."""
    if bounds_clear is None:
        return None
    kinds = _kinds(event_type)
    try:
        return bounds_clear(event_type, tuple(n for n, _ in kinds), tuple(k for _, k in kinds), TIME_MIN_MS,
                            TIME_MAX_MS, AMOUNT_MAX_MICROS, TEXT_CHARS_MAX, LIST_ITEMS_MAX)
    except (KeyError, TypeError):
        return None


def check_bounds(event: object) -> None:
    """Raise ``InvalidEvent`` for a time, amount, text or list of ``event`` outside its bound.

    Every event from outside passes here (~1.3 us a CDR walked in Python, ~0.2 in C). The
    compiled check only says "surely within": anything else, and every type it cannot judge,
    goes to ``walk_bounds``, the reference, which names what is wrong."""
    kind = type(event)
    clear = _CLEARS.get(kind, _clear_of)
    if clear is _clear_of:
        clear = _CLEARS[kind] = _clear_of(kind)
    if clear is None or not clear(event):
        walk_bounds(event)


def walk_bounds(event: object) -> None:
    """``check_bounds`` field by field, in Python: the reference the compiled check is tested against."""
    kinds = _KINDS.get(type(event))
    if kinds is None:
        kinds = _KINDS[type(event)] = _kinds(type(event))
    for name, kind in kinds:
        value = getattr(event, name)
        if kind == "time":
            if value is not None and not TIME_MIN_MS <= value < TIME_MAX_MS:
                raise InvalidEvent("time_out_of_range", f"{type(event).__name__}.{name} = {value} is not between "
                                                        "2000 and 2100")
        elif kind == "amount":
            if not -AMOUNT_MAX_MICROS <= value <= AMOUNT_MAX_MICROS:
                raise InvalidEvent("amount_out_of_range", f"{type(event).__name__}.{name} = {value}: at most "
                                                          f"{AMOUNT_MAX_MICROS} micro-units either way")
        elif kind == "zone":
            if not is_time_zone(value):
                raise InvalidEvent("unknown_time_zone", f"{type(event).__name__}: time zone {value[:80]!r} is not "
                                                        "an IANA zone")
        elif kind == "text":
            if len(value) > TEXT_CHARS_MAX:
                raise InvalidEvent("field_too_long", f"{type(event).__name__}.{name} has {len(value)} characters")
        elif kind == "list":
            if len(value) > LIST_ITEMS_MAX or any(len(v) > TEXT_CHARS_MAX for v in value):
                raise InvalidEvent("field_too_long", f"{type(event).__name__}.{name}: at most {LIST_ITEMS_MAX} "
                                                     f"items of {TEXT_CHARS_MAX} characters")


def validate_cdr(cdr: CallDetailRecord) -> None:
    if not cdr.carrier_id or not cdr.call_id:
        raise InvalidEvent("missing_call_key", "CDR has no carrier_id or call_id")
    if not cdr.account_id:
        raise InvalidEvent("missing_account", "CDR has no account_id")
    if cdr.revision < 0:
        raise InvalidEvent("bad_field", f"CDR {cdr.call_key} has a negative revision")
    if cdr.end_at_ms < cdr.start_at_ms:
        raise InvalidEvent("negative_duration", f"CDR {cdr.call_key} ends before it starts")
    if cdr.end_at_ms - cdr.start_at_ms > MAX_CALL_DURATION_MS:
        raise InvalidEvent("duration_too_long", f"CDR {cdr.call_key} lasts over 48 h")
    if cdr.disposition is _ANSWERED:
        if cdr.answer_at_ms is None:
            raise InvalidEvent("answered_without_answer_time", f"CDR {cdr.call_key} is ANSWERED with no answer time")
        if cdr.answer_at_ms < cdr.start_at_ms:
            raise InvalidEvent("answer_before_start", f"CDR {cdr.call_key} is answered before it starts")
        if cdr.answer_at_ms > cdr.end_at_ms:
            raise InvalidEvent("answer_after_end", f"CDR {cdr.call_key} is answered after it ends")
    elif cdr.answer_at_ms is not None:
        raise InvalidEvent("unanswered_with_answer_time", f"CDR {cdr.call_key} is {cdr.disposition.value} but has an answer time")


def validate_money(event: PaymentReceived | PaymentRefunded | ChargebackReceived) -> None:
    """A payment, refund or chargeback: a known currency and a positive amount."""
    kind = type(event).__name__
    if event.currency not in SUPPORTED_CURRENCIES:
        raise InvalidEvent("unknown_currency", f"{kind} {event.event_id} is in unknown currency {event.currency!r}")
    if event.amount_micros <= 0:
        raise InvalidEvent("non_positive_amount", f"{kind} {event.event_id} amount must be positive")


def validate_credit_limit(event: CreditLimitSet) -> None:
    """R10: a known currency, and a limit of 0 or more (-1: the plan's)."""
    if event.currency not in SUPPORTED_CURRENCIES:
        raise InvalidEvent("unknown_currency", f"credit limit {event.event_id} is in unknown currency "
                                               f"{event.currency[:8]!r}")
    if event.limit_micros < PLAN_CREDIT_LIMIT:
        raise InvalidEvent("negative_credit_limit", f"credit limit {event.event_id}: {event.limit_micros} micro-units "
                                                    f"(0 or more, or {PLAN_CREDIT_LIMIT} for the plan's limit)")


_LOCALE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")


def validate_locale(account_id: str, locale: str) -> None:
    """A customer's language: "" (the deployment's) or a CLDR locale's shape (``fr``, ``nl_BE``).
    Only its shape: which languages have words is the edge's to say (``streams/edge/commands.py``),
    and a fold must judge an event the same in every release."""
    if locale and not _LOCALE.fullmatch(locale):
        raise InvalidEvent("unknown_locale", f"account {account_id}: language {locale[:16]!r} is not a locale "
                                             "such as fr or nl_BE")


def validate_account_opened(event: AccountOpened) -> None:
    validate_locale(event.account_id, event.locale)
    if event.country and not calling_code(event.country):
        raise InvalidEvent("unknown_country", f"account {event.account_id}: country {event.country[:8]!r} is not an "
                                              "ISO 3166 alpha-2 region with a calling code")
    if event.currency not in SUPPORTED_CURRENCIES:
        raise InvalidEvent("unknown_currency", f"account {event.account_id} opened in unknown currency {event.currency!r}")
    if event.billing_mode not in BILLING_MODES:
        raise InvalidEvent("unknown_billing_mode", f"account {event.account_id}: billing mode {event.billing_mode!r}")
    if not is_time_zone(event.time_zone):  # time bands and periods are local to the account (R13)
        raise InvalidEvent("unknown_time_zone", f"account {event.account_id}: time zone {event.time_zone!r} "
                                                "is not an IANA zone")

"""Validation of incoming events: what makes an event invalid, with a stable reason code.

An invalid event is never folded; the stream layer sends it to the dead-letter topic with
the code and message from ``InvalidEvent``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from projections.events import (
    AccountOpened,
    CallDetailRecord,
    ChargebackReceived,
    Disposition,
    PaymentReceived,
    PaymentRefunded,
)
from projections.money import SUPPORTED_CURRENCIES

BILLING_MODES = frozenset({"prepaid", "postpaid"})
MAX_CALL_DURATION_MS = 48 * 3600 * 1000  # a longer "call" is a switch fault, not usage


class InvalidEvent(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def validate_cdr(cdr: CallDetailRecord) -> None:
    if not cdr.carrier_id or not cdr.call_id:
        raise InvalidEvent("missing_call_key", "CDR has no carrier_id or call_id")
    if not cdr.account_id:
        raise InvalidEvent("missing_account", "CDR has no account_id")
    if cdr.end_at_ms < cdr.start_at_ms:
        raise InvalidEvent("negative_duration", f"CDR {cdr.call_key} ends before it starts")
    if cdr.end_at_ms - cdr.start_at_ms > MAX_CALL_DURATION_MS:
        raise InvalidEvent("duration_too_long", f"CDR {cdr.call_key} lasts over 48 h")
    if cdr.disposition is Disposition.ANSWERED:
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




def validate_account_opened(event: AccountOpened) -> None:
    if event.currency not in SUPPORTED_CURRENCIES:
        raise InvalidEvent("unknown_currency", f"account {event.account_id} opened in unknown currency {event.currency!r}")
    if event.billing_mode not in BILLING_MODES:
        raise InvalidEvent("unknown_billing_mode", f"account {event.account_id}: billing mode {event.billing_mode!r}")
    try:  # time bands and periods are local to the account (R13), so its zone must be real
        ZoneInfo(event.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidEvent("unknown_time_zone", f"account {event.account_id}: time zone {event.time_zone!r} "
                                                "is not an IANA zone") from None

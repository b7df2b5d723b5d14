"""Domain events as frozen dataclasses: the facts the ledger folds.

These are plain data with no I/O. The Avro codec in ``schemas/`` turns them into bytes and
back. Times are epoch milliseconds in UTC, taken from the event, never from the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Disposition(str, Enum):
    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO_ANSWER"
    BUSY = "BUSY"
    FAILED = "FAILED"


class Direction(str, Enum):
    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"


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

    @property
    def call_key(self) -> str:
        """The dedup identity of a call: the carrier's own unique id, scoped by carrier."""
        return f"{self.carrier_id}/{self.call_id}"


@dataclass(frozen=True, slots=True)
class PaymentReceived:
    """Funds received for an account (R9, R11: the moment of payment is receipt)."""

    event_id: str
    account_id: str
    received_at_ms: int
    amount_micros: int
    currency: str
    payment_ref: str = ""


AccountEvent = AccountOpened | CallDetailRecord | PaymentReceived

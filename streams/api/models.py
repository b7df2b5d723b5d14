"""The API's request and response models: typed once, they give the OpenAPI 3.1 document."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ACCOUNT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"  # safe in a URL and in a read model's query
AMOUNT = r"^[0-9]{1,9}(\.[0-9]{1,6})?$"  # a positive decimal, at most micro-units


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountOpening(_Strict):
    account_id: str = Field(pattern=ACCOUNT_ID)
    currency: Literal["USD", "EUR"]
    plan: str = Field(min_length=1, max_length=64)
    billing_mode: Literal["prepaid", "postpaid"]
    numbers: list[str] = Field(default_factory=list, max_length=100)
    time_zone: str = Field(default="UTC", min_length=1, max_length=64)
    country: str = Field(default="", pattern=r"^([A-Za-z]{2})?$", description="ISO 3166 alpha-2")
    tax_jurisdiction: str = Field(default="", max_length=16)
    opened_at: AwareDatetime | None = Field(default=None, description="default: now; earlier for a migrated customer")


class PaymentRecording(_Strict):
    amount: str = Field(pattern=AMOUNT, description="in the account's currency, e.g. 25.00")
    currency: Literal["USD", "EUR"]
    reference: str = Field(default="", max_length=128)
    received_at: AwareDatetime | None = Field(default=None, description="when the payment was received; default: now")


class RefundRecording(_Strict):
    amount: str = Field(pattern=AMOUNT)
    currency: Literal["USD", "EUR"]
    payment_event_id: str = Field(default="", max_length=128, description="the payment it refunds, if one")
    reason: str = Field(default="", max_length=256)
    occurred_at: AwareDatetime | None = None


class AdjustmentPosting(_Strict):
    """R16: a one-off charge (activation, feature, equipment, shipping) or a credit (goodwill,
    correction: a negative amount), on the next invoice as its own line."""

    amount: str = Field(pattern=r"^-?[0-9]{1,9}(\.[0-9]{1,6})?$", description="negative: a credit")
    currency: Literal["USD", "EUR"]
    category: Literal["activation", "feature", "equipment", "shipping", "goodwill", "correction"]
    reason: str = Field(default="", max_length=256)
    occurred_at: AwareDatetime | None = None


class StatusChange(_Strict):
    """R22-R27: the worker's lifecycle decides whether the move is allowed (a refused one is a
    dead letter with its reason)."""

    action: Literal["suspend", "resume", "hold", "release"]
    case_ref: str = Field(default="", max_length=128, description="the fraud case: required to hold or release")


class Accepted(BaseModel):
    """A command on the events topic: the worker folds it."""

    event_id: str
    account_id: str
    partition: int
    idempotency_key: str
    replayed: bool = Field(description="true when this key was used before: nothing was sent again")


class Balance(BaseModel):
    """An account's balance as its journal postings in ClickHouse give it (the worker writes them)."""

    account_id: str
    currency: str
    balance_micros: int = Field(description="payments minus charges, in micro-units")
    postings: int


class CallRecord(BaseModel):
    """One call as the call log keeps it (R33: the subscriber's own records)."""

    call_key: str
    start_at: str = Field(description="ISO 8601, UTC")
    answer_at: str | None
    end_at: str
    direction: str
    caller: str
    callee: str
    destination: str
    billed_s: int
    charge_micros: int
    currency: str
    revision: int = Field(description="> 0: a carrier's correction replaced the first record")


class CallPage(BaseModel):
    account_id: str
    calls: list[CallRecord]
    next_offset: int | None = Field(description="the offset of the next page; null on the last")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: ``type`` is stable, ``detail`` is for people."""

    type: str
    title: str
    status: int
    detail: str

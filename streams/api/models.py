"""The API's request and response models: typed once, they give the OpenAPI 3.1 document."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from streams.edge.commands import ACCOUNT_ID, PLAN_CHARS_MAX

AMOUNT = r"^[0-9]{1,9}(\.[0-9]{1,6})?$"  # a positive decimal, at most micro-units
INVOICE_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
CURRENCY = r"^[A-Z]{3}$"  # ISO 4217; one the ledger knows (projections/money.py), else a 422
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
# A month whose calls may be asked for: one a calendar can name (1970-2199), so that its bounds exist.
CALL_MONTH = r"^(19[7-9][0-9]|2[01][0-9]{2})-(0[1-9]|1[0-2])$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountOpening(_Strict):
    account_id: str = Field(pattern=ACCOUNT_ID)
    currency: str = Field(pattern=CURRENCY, description="ISO 4217")
    plan: str = Field(min_length=1, max_length=PLAN_CHARS_MAX)
    billing_mode: Literal["prepaid", "postpaid"]
    numbers: list[str] = Field(default_factory=list, max_length=100)
    time_zone: str = Field(default="UTC", min_length=1, max_length=64)
    country: str = Field(default="", pattern=r"^([A-Za-z]{2})?$", description="ISO 3166 alpha-2")
    tax_jurisdiction: str = Field(default="", max_length=16)
    opened_at: AwareDatetime | None = Field(default=None, description="default: now; earlier for a migrated customer")
    customer_name: str = Field(default="", max_length=200, description="who is invoiced (sealed on the log, R32)")
    billing_address: str = Field(default="", max_length=600, description="lines separated by newlines")
    customer_tax_id: str = Field(default="", max_length=64, description="a business customer's VAT or tax id")
    locale: str = Field(default="", max_length=16, description="the customer's language, a CLDR locale such as "
                        "fr, nl_BE or de_CH: their invoices and portal pages are worded and formatted in it; '': the "
                        "deployment's invoice_locale")


class CustomerDetails(_Strict):
    """The customer block of the account's next invoices: the whole block, as it now is (a field
    left out is emptied), and the customer's language if it changes (left out: unchanged)."""

    customer_name: str = Field(max_length=200)
    billing_address: str = Field(default="", max_length=600, description="lines separated by newlines")
    customer_tax_id: str = Field(default="", max_length=64)
    locale: str = Field(default="", max_length=16, description="the customer's language, a CLDR locale such as "
                        "fr, nl_BE or de_CH: their invoices and portal pages are worded and formatted in it; '': the "
                        "deployment's invoice_locale")


class LanguageChoice(_Strict):
    """The customer's language alone: their invoices from now on and their portal pages."""

    locale: str = Field(min_length=2, max_length=16, description="a CLDR locale such as fr, nl_BE or de_CH")


class PaymentRecording(_Strict):
    amount: str = Field(pattern=AMOUNT, description="in the account's currency, e.g. 25.00")
    currency: str = Field(pattern=CURRENCY, description="ISO 4217")
    reference: str = Field(default="", max_length=128)
    received_at: AwareDatetime | None = Field(default=None, description="when the payment was received; default: now")


class RefundRecording(_Strict):
    """Money going back to the customer: at most the unused balance when the worker folds it;
    completed calls are not refunded (R8, a dead letter ``refund_exceeds_balance``), nor a fraud
    case (R27, ``refund_blocked``). A charge in question goes through a dispute (R19)."""

    amount: str = Field(pattern=AMOUNT)
    currency: str = Field(pattern=CURRENCY, description="ISO 4217")
    payment_event_id: str = Field(default="", max_length=128, description="the payment it refunds, if one")
    reason: str = Field(default="", max_length=256)
    occurred_at: AwareDatetime | None = None


class AdjustmentPosting(_Strict):
    """R16: a one-off charge (activation, feature, equipment, shipping) or a credit (goodwill,
    correction: a negative amount), on the next invoice as its own line."""

    amount: str = Field(pattern=r"^-?[0-9]{1,9}(\.[0-9]{1,6})?$", description="negative: a credit")
    currency: str = Field(pattern=CURRENCY, description="ISO 4217")
    category: Literal["activation", "feature", "equipment", "shipping", "goodwill", "correction"]
    reason: str = Field(default="", max_length=256)
    occurred_at: AwareDatetime | None = None


class Compensation(_Strict):
    """R29: a credit for a provider malfunction, at most what the account held when it happened
    (read from the journal), on the next invoice as its own line."""

    amount: str = Field(pattern=AMOUNT, description="positive: credited to the account")
    currency: str = Field(pattern=CURRENCY, description="ISO 4217")
    malfunction_at: AwareDatetime = Field(description="when the malfunction happened: the balance then is the cap")
    reason: str = Field(min_length=1, max_length=256, description="the malfunction and the evidence of the loss")
    occurred_at: AwareDatetime | None = Field(default=None, description="when it is credited (default: now)")


class StatusChange(_Strict):
    """R22-R27: the worker's lifecycle decides whether the move is allowed (a refused one is a
    dead letter with its reason)."""

    action: Literal["suspend", "resume", "hold", "release", "terminate"]
    case_ref: str = Field(default="", max_length=128, description="the fraud case: required to hold or release")
    reason: Literal["", "CUSTOMER_REQUEST", "PROVIDER_WITHOUT_REASON", "BREACH", "FRAUD"] = Field(
        default="", description="required to terminate (R25-R27)")


class ChargebackRecording(_Strict):
    amount: str = Field(pattern=AMOUNT)
    currency: str = Field(pattern=CURRENCY, description="ISO 4217")
    payment_event_id: str = Field(default="", max_length=128, description="the payment the bank took back")
    reason_code: str = Field(default="", max_length=64, description="the card scheme's reason code")
    occurred_at: AwareDatetime | None = None


class PlanChange(_Strict):
    """R21: the new plan applies from the next billing period."""

    plan: str = Field(min_length=1, max_length=PLAN_CHARS_MAX)


class Deal(_Strict):
    """An account's own rate card (a negotiated deal) from now on, before its plan's cards."""

    card: str = Field(pattern=r"^[^\s,:|@]{0,64}$", description="a card's name (its id before @); empty ends the deal")


class CreditLimit(_Strict):
    """R10: what a postpaid account may owe from now on, in place of its plan's credit limit."""

    limit: str | None = Field(pattern=AMOUNT, description="what the account may owe, e.g. 500.00 (0: nothing "
                                                          "beyond its balance); null: its plan's limit again")
    currency: str = Field(pattern=CURRENCY, description="ISO 4217: the account's currency (another is refused)")
    reason: str = Field(default="", max_length=256, description="why, for the audit trail (a credit check, a deposit)")


class DisputeOpening(_Strict):
    """R19: a dispute of an invoice, named by its legal number (or its reference), within 30 days
    of its issue."""

    invoice_number: str = Field(pattern=INVOICE_NUMBER)
    amount: str = Field(pattern=AMOUNT, description="the amount disputed, at most the invoice's total")
    currency: str = Field(pattern=CURRENCY, description="ISO 4217")
    reason: str = Field(default="", max_length=512, description="the customer's words: at most 600 bytes in UTF-8, "
                        "sealed on the log and emptied by an erasure (R32)")


class DisputeResolution(_Strict):
    outcome: Literal["CUSTOMER_FAVOUR", "PROVIDER_FAVOUR"]
    credit: str = Field(default="0", pattern=AMOUNT, description="the credit note's amount (CUSTOMER_FAVOUR)")
    currency: str = Field(pattern=CURRENCY, description="ISO 4217")


class Dispute(BaseModel):
    """R19: a dispute a customer opened, and how it was decided."""

    account_id: str
    dispute_id: str = Field(description="what a resolution names (POST .../disputes/{dispute_id}/resolution)")
    invoice_reference: str
    invoice_number: str = Field(description="the disputed invoice's legal number; empty until it has one")
    amount_micros: int
    currency: str
    reason: str = Field(description="the customer's words")
    opened_at: str = Field(description="ISO 8601, UTC")
    status: Literal["open", "CUSTOMER_FAVOUR", "PROVIDER_FAVOUR"]
    credit_micros: int = Field(description="the credit note's amount (CUSTOMER_FAVOUR), else 0")
    resolved_at: str | None = Field(description="ISO 8601, UTC; null while open")


class PortalLinkRequest(_Strict):
    account_id: str = Field(pattern=ACCOUNT_ID)
    days: int = Field(default=7, ge=1, le=90)


class PortalLink(BaseModel):
    account_id: str
    url: str
    expires_at: str = Field(description="ISO 8601, UTC")


class Accepted(BaseModel):
    """A command on the events topic: the worker folds it."""

    event_id: str
    account_id: str
    partition: int
    idempotency_key: str
    replayed: bool = Field(description="true when this key was used before: nothing was sent again")


class Balance(BaseModel):
    """An account's balance as its journal postings in ClickHouse give it (the worker writes
    them), with what authorizations hold on the worker that owns it."""

    account_id: str
    currency: str
    balance_micros: int = Field(description="payments minus charges, in micro-units")
    held_micros: int | None = Field(description="held by calls in progress (R10); null: the worker did not answer")
    available_micros: int | None = Field(description="balance minus held")
    postings: int


class Account(BaseModel):
    account_id: str
    currency: str
    plan: str
    pending_plan: str = Field(description="R21: the plan from the next period, if one was asked for")
    billing_mode: str
    status: str
    status_reason: str
    status_since: str
    time_zone: str
    country_code: str
    tax_jurisdiction: str
    opened_at: str
    balance_micros: int
    paid_micros: int
    charged_micros: int
    calls_charged: int
    open_disputes: int
    credit_limit_micros: int | None = Field(description="R10: this postpaid account's own credit limit (POST "
                                                        ".../credit-limit); null: its plan's (GET /v1/plans)")
    locale: str = Field(description="the customer's language ('': the deployment's invoice_locale)")


class AccountList(BaseModel):
    accounts: list[Account]
    next_after: str | None = Field(description="the page's last account id when more follow: ask again with "
                                               "after=<it>; null: this was the last page")


class MovementLine(BaseModel):
    kind: str
    count: int
    amount_micros: int = Field(description="+ raised the balance (payments, credits), - lowered it (charges)")


class PaymentLine(BaseModel):
    entry_id: str
    kind: str
    at: str
    amount_micros: int


class InvoiceSummary(BaseModel):
    reference: str
    legal_number: str | None = Field(description="null until the numbering stage has given it")
    kind: str
    period: str
    issued_at: str
    currency: str
    total_micros: int
    payments_micros: int
    balance_micros: int
    due_at: str | None = Field(description="when payment is due; null for a credit note")
    disputable_until: str = Field(description="R19: the last moment a dispute of it is accepted")
    status: str = Field(description="R11, the account's money spent on its invoices first due first: paid, "
                                    "partly_paid, open, overdue (open or partly paid past its due date), or credit "
                                    "(a credit note)")
    paid_micros: int = Field(description="what the account's money has paid of it (R11)")
    outstanding_micros: int = Field(description="what is left to pay of it")
    paid_at: str | None = Field(description="R11: when the funds that paid it whole were received; null while open")


class InvoiceLineOut(BaseModel):
    category: str
    description: str
    quantity: int
    amount_micros: int


class InvoiceDocument(InvoiceSummary):
    customer_name: str = Field(description="as issued; '(erased)' once the subscriber's key is deleted (R32)")
    billing_address: str
    customer_tax_id: str
    corrects: str | None = Field(description="a credit note: the legal number of the invoice it corrects")
    locale: str = Field(description="the language it was issued in, and is printed in")
    lines: list[InvoiceLineOut]


class InvoiceList(BaseModel):
    account_id: str
    invoices: list[InvoiceSummary]


class Statement(BaseModel):
    """R20: one month of an account, in its time zone: the opening balance, what was paid, what
    was charged, the closing balance (the balance now, for the current month)."""

    account_id: str
    month: str
    currency: str
    time_zone: str
    opening_balance_micros: int
    payments_micros: int
    charges_micros: int = Field(description="net of credits: what lowered the balance")
    closing_balance_micros: int
    movements: list[MovementLine]
    payments: list[PaymentLine]
    invoices: list[InvoiceSummary]
    available_months: list[str]


class DeadLetterOut(BaseModel):
    source: str = Field(description="topic/partition/offset/index")
    reason_code: str
    reason: str
    logged_at: str


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
    month: str | None = Field(None, description="the month asked for (YYYY-MM, the account's zone); null for all")
    month_calls: int | None = Field(None, description="the month's calls, every page")
    month_charge_micros: int | None = Field(None, description="the month's charges, every page")


class AgedAccount(BaseModel):
    account_id: str
    currency: str
    not_due_micros: int
    days_1_30_micros: int
    days_31_60_micros: int
    days_61_90_micros: int
    over_90_micros: int
    total_micros: int


class Receivables(BaseModel):
    """R11: what accounts owe on their invoices as of the end of a day (UTC), first due first
    paid, by days past due (``voiceledger receivables``)."""

    as_of: str
    accounts: list[AgedAccount]


class LedgerAccountLine(BaseModel):
    currency: str
    ledger_account: str = Field(description="the chart of accounts' name; the customers' own accounts rolled into "
                                            "'customer'")
    opening_micros: int = Field(description="the balance before the month, debit positive")
    debit_micros: int = Field(description="the month's debits")
    credit_micros: int = Field(description="the month's credits, as a positive amount")
    closing_micros: int = Field(description="opening + debits - credits")


class TrialBalance(BaseModel):
    """A month's trial balance by ledger account (``voiceledger trial-balance``)."""

    month: str
    time_zone: str = Field(description="the books' zone (books_time_zone) the month is taken in")
    lines: list[LedgerAccountLine]
    unbalanced: list[str] = Field(description="currencies whose openings or closings do not sum to zero, or whose "
                                              "debits differ from their credits: empty for a sound journal")


class PlanPrice(BaseModel):
    currency: str = Field(description="ISO 4217; empty: every currency without a price of its own")
    amount_micros: int
    from_month: str = Field(default="", description="a price change: the first month (YYYY-MM) charged at it; "
                                                    "empty: the price before any change")


class IncludedMinutes(BaseModel):
    minutes: int
    from_month: str = Field(description="the first month (YYYY-MM) they are included in")


class PlanCards(BaseModel):
    rate_cards: list[str]
    from_month: str = Field(description="the first month (YYYY-MM) of calls priced with them")


class PaymentTerm(BaseModel):
    days: int
    from_month: str = Field(description="the first period (YYYY-MM) whose invoices are due after these days")


class Plan(BaseModel):
    """A plan as the settings price it."""

    plan: str
    sold: bool = Field(description="accounts may be opened on it and moved to it (false: retired)")
    monthly_fees: list[PlanPrice] = Field(description="R14, charged in advance, with the price changes dated; none: "
                                                      "no fee")
    connection_fees: list[PlanPrice] = Field(description="R21: charged when an account moves to the plan, with the "
                                                         "changes dated")
    inbound_per_minute: list[PlanPrice] = Field(description="calls received on a rented number, with the changes "
                                                            "dated; none: free")
    credit_limits: list[PlanPrice] = Field(default_factory=list, description="R10: what a postpaid account may owe "
                                                                             "before calls are refused; none: no limit")
    included_minutes: int = Field(description="R4: domestic minutes included per calendar month, before any change")
    included_minutes_changes: list[IncludedMinutes] = Field(default_factory=list,
                                                            description="R4: changes of the minutes, dated")
    rate_cards: list[str] = Field(description="the names of its cards before any change; empty: the cards no plan "
                                              "names")
    rate_card_changes: list[PlanCards] = Field(default_factory=list, description="the plan moved to other cards, dated")
    payment_terms_days: int = Field(description="days an invoice is due after its issue, before any change")
    payment_terms_changes: list[PaymentTerm] = Field(default_factory=list, description="changes of the term, dated")
    residential: bool = Field(description="R36: watched by the business-on-residential report")


class PlanCatalogue(BaseModel):
    """The plans (``plans``, ``retired_plans`` and the plan settings)."""

    catalogue: bool = Field(description="false: no catalogue is set, so any plan name is taken; listed are the plans "
                                        "the settings name")
    plans: list[Plan]


class SettingsTerm(BaseModel):
    name: str = Field(description="what the fold prices by, e.g. monthly_fee_changes[basic@2027-03]")
    starts_at: str | None = Field(description="from when it prices (ISO 8601, UTC); null: always")
    value: str


class SettingsVersion(BaseModel):
    """One version of the fold's settings, as recorded on the settings topic (``voiceledger
    settings history``): what a rebuild must fold with, and each change accepted in force."""

    digest: str
    recorded_at: str
    recorded_by: str
    reason: str
    changed_in_force: list[str] = Field(description="terms already in force that this version changed, "
                                                    "accepted on purpose: a rebuild with today's settings differs "
                                                    "from live for what was folded before it")
    plans: list[str]
    terms: list[SettingsTerm]


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: ``type`` is stable, ``detail`` is for people."""

    type: str
    title: str
    status: int
    detail: str


class AuthorizationRequest(_Strict):
    callee: str = Field(min_length=1, max_length=64, description="the number called")
    call: str = Field(pattern=r"^[^/\s]{1,64}/[^\s]{1,128}$", description="carrier/call_id, as its CDR will say")
    at: int | None = Field(default=None, ge=0, le=32_503_680_000_000, description="epoch ms; default now")
    quota_s: int | None = Field(default=None, ge=1, le=4 * 3600)


class AuthorizationAnswer(BaseModel):
    allowed: bool
    max_duration_s: int
    reason: str
    held_micros: int
    destination: str | None = None
    rate_micros_per_minute: int | None = None
    available_micros: int | None = None
    held_included_s: int = Field(default=0, description="R4: the included seconds held for the call")


class Erasure(BaseModel):
    """R32: what an erasure did."""

    account_id: str
    call_log_rows_anonymised: int
    erasure_event: str
    subscriber_key_deleted: bool


class ErasureAnswerBody(_Strict):
    """An operator's answer to an erasure request (R32)."""

    outcome: Literal["ERASED", "DECLINED"]
    reason: str = Field(default="", max_length=500, description="DECLINED: why, as the customer is told it")


class ErasureRequestView(BaseModel):
    """A subscriber's request to erase their personal data, and its answer once given (R32: due
    within 30 days)."""

    request_id: str
    account_id: str
    requested_at: str
    due_at: str
    via: str
    reference: str
    overdue: bool = Field(description="unanswered at its due moment")
    outcome: Literal["ERASED", "DECLINED"] | None = None
    answered_at: str | None = None
    answered_by: str | None = None
    reason: str | None = None
    erasure: Erasure | None = Field(default=None, description="what the erasure did, in the answer that ran it")

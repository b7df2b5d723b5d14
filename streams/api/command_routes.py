"""The API's commands: each becomes one account event on the events topic
(``streams/edge/commands.py``: validated, sealed, partitioned), idempotent by the
``Idempotency-Key`` header. A command is answered ``202 Accepted``: the worker folds it, and a
move its lifecycle refuses (a resume of a terminated account, say) is a dead letter with the
reason, which the console shows.

Commands go to the log, never to a database: the log stays the one source of truth.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Path

from projections.money import parse_decimal_micros
from streams.api import access, read_model, statements
from streams.api.context import Context, caller, command, context, ms, must
from streams.api.problems import Problem
from streams.api.models import (
    ACCOUNT_ID,
    Accepted,
    AccountOpening,
    AdjustmentPosting,
    ChargebackRecording,
    Compensation,
    CreditLimit,
    CustomerDetails,
    Deal,
    DisputeOpening,
    DisputeResolution,
    Erasure,
    LanguageChoice,
    PaymentRecording,
    PlanChange,
    ProblemDetails,
    RefundRecording,
    StatusChange,
)
from streams.edge import commands

KEY = Header(alias="Idempotency-Key", min_length=1, max_length=200, description="the same key, the same event once")
ERRORS = {status: {"model": ProblemDetails, "content": {"application/problem+json": {}}}
          for status in (400, 401, 403, 404, 409, 413, 422, 503)}
ACCOUNT = Path(pattern=ACCOUNT_ID)
DISPUTE_ID = Path(pattern=r"^dispute:[0-9a-f]{32}$")

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["commands"])


def _accept(ctx: Context, who: str, step, key: str, account_id: str | None = None) -> Accepted:  # noqa: ANN001
    """Operator commands; ``account_id`` given: the account's own portal may send it too."""
    must(access.may_command(who) or (account_id is not None and who == access.PORTAL + account_id))
    event = command(step)
    return Accepted(**vars(ctx.submit(event, key)))


@router.post("/accounts", status_code=202, response_model=Accepted)
def open_account(body: AccountOpening, key: str = KEY, who: str = Depends(caller),
                 ctx: Context = Depends(context)) -> Accepted:
    customer = commands.Customer(body.customer_name, body.billing_address, body.customer_tax_id, body.locale)
    return _accept(ctx, who, lambda: commands.opening(
        body.account_id, body.currency, body.plan, body.billing_mode, body.numbers, body.time_zone, body.country,
        body.tax_jurisdiction, key, ms(body.opened_at), customer, ctx.settings.plans), key)


@router.post("/accounts/{account_id}/details", status_code=202, response_model=Accepted)
def change_details(body: CustomerDetails, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
                   ctx: Context = Depends(context)) -> Accepted:
    """The customer's name, billing address, tax id and language on the account's next invoices."""
    customer = commands.Customer(body.customer_name, body.billing_address, body.customer_tax_id, body.locale)
    return _accept(ctx, who, lambda: commands.details(account_id, customer, key), key)


@router.post("/accounts/{account_id}/language", status_code=202, response_model=Accepted)
def change_language(body: LanguageChoice, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
                    ctx: Context = Depends(context)) -> Accepted:
    """The customer's language alone (the sealed block stays): an operator, or the customer's own portal."""
    return _accept(ctx, who, lambda: commands.language(account_id, body.locale, key), key, account_id)


@router.post("/accounts/{account_id}/payments", status_code=202, response_model=Accepted)
def record_payment(body: PaymentRecording, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
                   ctx: Context = Depends(context)) -> Accepted:
    return _accept(ctx, who, lambda: commands.payment(account_id, parse_decimal_micros(body.amount), body.currency,
                                                      body.reference, key, ms(body.received_at)), key)


@router.post("/accounts/{account_id}/refunds", status_code=202, response_model=Accepted)
def refund(body: RefundRecording, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
           ctx: Context = Depends(context)) -> Accepted:
    return _accept(ctx, who, lambda: commands.refund(account_id, parse_decimal_micros(body.amount), body.currency,
                                                     body.payment_event_id, body.reason, key, ms(body.occurred_at)), key)


@router.post("/accounts/{account_id}/chargebacks", status_code=202, response_model=Accepted)
def chargeback(body: ChargebackRecording, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
               ctx: Context = Depends(context)) -> Accepted:
    return _accept(ctx, who, lambda: commands.chargeback(
        account_id, parse_decimal_micros(body.amount), body.currency, body.payment_event_id, body.reason_code, key,
        ms(body.occurred_at)), key)


@router.post("/accounts/{account_id}/adjustments", status_code=202, response_model=Accepted)
def adjust(body: AdjustmentPosting, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
           ctx: Context = Depends(context)) -> Accepted:
    """R16: one-off charges (a number change is a ``feature``, a package change too) and credits."""
    micros = parse_decimal_micros(body.amount)  # a leading minus is a credit
    return _accept(ctx, who, lambda: commands.adjustment(account_id, micros, body.currency, body.category,
                                                         body.reason, key, ms(body.occurred_at)), key)


@router.post("/accounts/{account_id}/compensations", status_code=202, response_model=Accepted)
def compensate(body: Compensation, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
               ctx: Context = Depends(context)) -> Accepted:
    """R29: a credit for a provider malfunction, refused above the balance at its time
    (``compensation-exceeds-balance``, naming that balance)."""
    def balance_at(at_ms: int) -> int:
        return read_model.balance_before(ctx.reader, account_id, at_ms // 1000)

    retry = commands.sent_before(ctx.settings, "compensate", key)
    return _accept(ctx, who, lambda: commands.compensation(account_id, parse_decimal_micros(body.amount), body.currency,
                                                           ms(body.malfunction_at), balance_at, body.reason, key,
                                                           ms(body.occurred_at), retry), key)


@router.post("/accounts/{account_id}/status", status_code=202, response_model=Accepted)
def change_status(body: StatusChange, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
                  ctx: Context = Depends(context)) -> Accepted:
    return _accept(ctx, who, lambda: commands.status_change(body.action, account_id, body.case_ref, key,
                                                            reason=body.reason), key)


@router.post("/accounts/{account_id}/plan", status_code=202, response_model=Accepted)
def change_plan(body: PlanChange, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
                ctx: Context = Depends(context)) -> Accepted:
    return _accept(ctx, who, lambda: commands.plan_change(account_id, body.plan, key, plans=ctx.settings.plans), key)


@router.post("/accounts/{account_id}/deal", status_code=202, response_model=Accepted)
def assign_deal(body: Deal, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
                ctx: Context = Depends(context)) -> Accepted:
    """R2, R5: the account's calls from now on are priced with this card before its plan's."""
    return _accept(ctx, who, lambda: commands.deal(account_id, body.card, key, kept=commands.kept_cards(ctx.settings)),
                   key)


@router.post("/accounts/{account_id}/credit-limit", status_code=202, response_model=Accepted)
def set_credit_limit(body: CreditLimit, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
                     ctx: Context = Depends(context)) -> Accepted:
    """R10: authorization allows this postpaid account's calls while it owes at most this; the
    worker refuses it for a prepaid account and in another currency (dead letters)."""
    limit = None if body.limit is None else parse_decimal_micros(body.limit)
    return _accept(ctx, who, lambda: commands.credit_limit(account_id, limit, body.currency, body.reason, key,
                                                           billing_mode=_billing_mode(ctx, account_id)), key)


def _billing_mode(ctx: Context, account_id: str) -> str | None:
    """The account's billing mode from the read model; None when it cannot say (not folded yet,
    ClickHouse away): the command is sent, and the worker decides."""
    try:
        return read_model.account(ctx.reader, account_id).billing_mode
    except Problem:
        return None


@router.post("/accounts/{account_id}/disputes", status_code=202, response_model=Accepted)
def open_dispute(body: DisputeOpening, account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
                 ctx: Context = Depends(context)) -> Accepted:
    """R19: the customer's own portal may open one too. The invoice is found by its legal number
    (or reference); one issued more than 30 days ago is refused here (and by the worker)."""
    must(access.may_command(who) or who == access.PORTAL + account_id)
    row = read_model.invoice(ctx.reader, account_id, body.invoice_number)
    amount = parse_decimal_micros(body.amount)
    statements.check_dispute(row, amount)
    return _accept(ctx, who, lambda: commands.dispute(account_id, row.reference, amount, body.currency, body.reason,
                                                      key), key, account_id)


@router.post("/accounts/{account_id}/disputes/{dispute_id}/resolution", status_code=202, response_model=Accepted)
def resolve_dispute(body: DisputeResolution, account_id: str = ACCOUNT, dispute_id: str = DISPUTE_ID,
                    key: str = KEY, who: str = Depends(caller), ctx: Context = Depends(context)) -> Accepted:
    return _accept(ctx, who, lambda: commands.dispute_resolution(
        account_id, dispute_id, body.outcome, parse_decimal_micros(body.credit), body.currency, key), key)


@router.post("/accounts/{account_id}/erasure", response_model=Erasure)
def erase(account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
          ctx: Context = Depends(context)) -> Erasure:
    """R32: the subscriber's key deleted (their sealed numbers in the log become unreadable), their
    numbers anonymised in ClickHouse, the erasure logged for the worker; amounts stay. Idempotent:
    the same request again (it may have stopped half-way) finishes it. The key is the request's
    reference (the privacy ticket)."""
    must(access.may_command(who))
    return erase_now(ctx, account_id, key, f"api:{who}")


def erase_now(ctx: Context, account_id: str, reference: str, by: str) -> Erasure:
    """The erasure an operator or the customer asked for (``reference``: the request's own); any
    erasure request of the account still open is answered by it (R32)."""
    from streams.ledger.erasure_queue import close_open_requests
    from streams.ledger.privacy import erase_subscriber

    done = command(lambda: erase_subscriber(ctx.settings, account_id, reference))
    ctx.opener.forget(account_id)  # this process read the key before: it must not print the name again
    close_open_requests(ctx.settings, account_id, by)
    return Erasure(account_id=done.account, call_log_rows_anonymised=done.call_log_rows_anonymised,
                   erasure_event=done.erasure_event, subscriber_key_deleted=done.subscriber_key_deleted)

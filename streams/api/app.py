"""The API's routes (issue 19, first part): open an account, record a payment or a refund, post
a one-off charge or credit, change an account's status (suspend, resume, fraud hold) as commands
(``streams/edge/commands.py``: validated, sealed, partitioned, idempotent by the
``Idempotency-Key`` header), and an account's balance and call records (R33) from ClickHouse.

Commands go to the log, never to a database: the worker folds them like any event, so the
log stays the one source of truth. Reads come from ClickHouse, which the worker writes: any
number of stateless API processes can answer them without asking the worker that owns the
account (the authorization API, which places holds, stays on that worker).
"""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from projections.money import parse_decimal_micros
from streams.api import access, problems
from streams.api.models import (
    ACCOUNT_ID,
    Accepted,
    AccountOpening,
    AdjustmentPosting,
    Balance,
    CallPage,
    CallRecord,
    PaymentRecording,
    ProblemDetails,
    RefundRecording,
    StatusChange,
)
from streams.api.problems import Problem
from streams.config.settings import Settings
from streams.edge import commands

BODY_BYTES_MAX = 64 * 1024  # a command is a few hundred bytes
KEY = Header(alias="Idempotency-Key", min_length=1, max_length=200, description="the same key, the same event once")
ERRORS = {status: {"model": ProblemDetails, "content": {"application/problem+json": {}}}
          for status in (400, 401, 403, 409, 413, 422, 503)}


def build_app(settings: Settings, tokens: dict[str, str]) -> FastAPI:
    app = FastAPI(title="voiceledger", version="1", openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None)
    problems.install(app)

    @app.middleware("http")
    async def bounded(request: Request, call_next):  # noqa: ANN001, ANN202 - Starlette's middleware shape
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > BODY_BYTES_MAX:
            return problems.problem(413, "too-large", f"a request body is at most {BODY_BYTES_MAX} bytes")
        return await call_next(request)

    def scope(request: Request) -> str:
        found = access.scope_of(tokens, request.headers.get("Authorization"))
        if found is None:
            raise Problem(401, "unauthorized", "a valid bearer token is required")
        return found

    @app.post("/v1/accounts", status_code=202, response_model=Accepted, responses=ERRORS)
    def open_account(body: AccountOpening, key: str = KEY, who: str = Depends(scope)) -> Accepted:
        _must(access.may_command(who))
        event = _command(lambda: commands.opening(body.account_id, body.currency, body.plan, body.billing_mode,
                                                  body.numbers, body.time_zone, body.country, body.tax_jurisdiction,
                                                  key, _ms(body.opened_at)))
        return Accepted(**vars(_command(lambda: commands.submit(settings, event, key))))

    @app.post("/v1/accounts/{account_id}/payments", status_code=202, response_model=Accepted, responses=ERRORS)
    def record_payment(body: PaymentRecording, account_id: str = Path(pattern=ACCOUNT_ID), key: str = KEY,
                       who: str = Depends(scope)) -> Accepted:
        _must(access.may_command(who))
        event = _command(lambda: commands.payment(account_id, parse_decimal_micros(body.amount), body.currency,
                                                  body.reference, key, _ms(body.received_at)))
        return Accepted(**vars(_command(lambda: commands.submit(settings, event, key))))

    _more_commands(app, settings, scope)

    @app.get("/v1/accounts/{account_id}/balance", response_model=Balance, responses={**ERRORS, 404: ERRORS[401]})
    async def balance(account_id: str = Path(pattern=ACCOUNT_ID), who: str = Depends(scope)) -> Balance:
        _must(access.may_read(who, account_id))
        return await run_in_threadpool(_balance, settings.clickhouse_url, account_id)

    @app.get("/v1/accounts/{account_id}/calls", response_model=CallPage, responses=ERRORS)
    async def calls(account_id: str = Path(pattern=ACCOUNT_ID), limit: int = Query(100, ge=1, le=500),
                    offset: int = Query(0, ge=0, le=1_000_000), who: str = Depends(scope)) -> CallPage:
        _must(access.may_read(who, account_id))
        return await run_in_threadpool(_calls, settings.clickhouse_url, account_id, limit, offset)

    return app


def _more_commands(app: FastAPI, settings: Settings, scope) -> None:  # noqa: ANN001 - the scope dependency
    """Refunds, one-off charges and credits, status changes: each a command like a payment."""

    def accept(who: str, step, key: str) -> Accepted:  # noqa: ANN001 - a command's constructor
        _must(access.may_command(who))
        event = _command(step)
        return Accepted(**vars(_command(lambda: commands.submit(settings, event, key))))

    @app.post("/v1/accounts/{account_id}/refunds", status_code=202, response_model=Accepted, responses=ERRORS)
    def refund(body: RefundRecording, account_id: str = Path(pattern=ACCOUNT_ID), key: str = KEY,
               who: str = Depends(scope)) -> Accepted:
        return accept(who, lambda: commands.refund(account_id, parse_decimal_micros(body.amount), body.currency,
                                                   body.payment_event_id, body.reason, key, _ms(body.occurred_at)), key)

    @app.post("/v1/accounts/{account_id}/adjustments", status_code=202, response_model=Accepted, responses=ERRORS)
    def adjust(body: AdjustmentPosting, account_id: str = Path(pattern=ACCOUNT_ID), key: str = KEY,
               who: str = Depends(scope)) -> Accepted:
        negative = body.amount.startswith("-")
        micros = parse_decimal_micros(body.amount.lstrip("-")) * (-1 if negative else 1)
        return accept(who, lambda: commands.adjustment(account_id, micros, body.currency, body.category, body.reason,
                                                       key, _ms(body.occurred_at)), key)

    @app.post("/v1/accounts/{account_id}/status", status_code=202, response_model=Accepted, responses=ERRORS)
    def change_status(body: StatusChange, account_id: str = Path(pattern=ACCOUNT_ID), key: str = KEY,
                      who: str = Depends(scope)) -> Accepted:
        return accept(who, lambda: commands.status_change(body.action, account_id, body.case_ref, key), key)


def _ms(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


def _must(allowed: bool) -> None:
    if not allowed:
        raise Problem(403, "forbidden", "this token's scope does not cover this request")


def _command(step):  # noqa: ANN001, ANN202 - a step of streams/edge/commands.py
    """A command's step, its refusals as problems: a value the worker would refuse is a 422, a
    reused idempotency key a 409, a broker that does not take the event a 503."""
    try:
        return step()
    except commands.CommandRefused as exc:
        text = str(exc)
        kind = text.split(":", 1)[0] if ":" in text else "invalid-command"
        raise Problem(409 if kind == "idempotency_key_reused" else 422, kind.replace("_", "-"), text) from None
    except ValueError as exc:
        raise Problem(422, "invalid-command", str(exc)) from None
    except (OSError, TimeoutError, RuntimeError) as exc:  # the broker is down or too slow
        raise Problem(503, "log-unavailable", f"the events topic did not take the command: {exc}") from None


def _read(clickhouse_url: str, sql: str) -> list[tuple]:
    """One read-model query; ClickHouse down (or its tables not made yet) is a 503. Account ids in
    ``sql`` passed ``ACCOUNT_ID``'s pattern: letters, digits and ``._:-`` only."""
    from streams.clickhouse.client import connect

    try:
        ch = connect(clickhouse_url)
        try:
            return ch.query(sql)
        finally:
            ch.close()
    except Exception as exc:  # the read model is not there (yet) or ClickHouse is down
        raise Problem(503, "read-model-unavailable", f"ClickHouse could not answer: {type(exc).__name__}") from None


def _calls(clickhouse_url: str, account_id: str, limit: int, offset: int) -> CallPage:
    """R33: the account's call records, newest first, a page at a time."""
    rows = _read(clickhouse_url,
                 "SELECT call_key, toUnixTimestamp(start_at), toUnixTimestamp(answer_at), toUnixTimestamp(end_at), "
                 "direction, caller, callee, destination_name, billed_s, charge_micros, currency, revision "
                 f"FROM call_log FINAL WHERE account_id = '{account_id}' ORDER BY start_at DESC, call_key "
                 f"LIMIT {limit + 1} OFFSET {offset}")
    records = [CallRecord(call_key=r[0], start_at=_iso(r[1]), answer_at=None if r[2] is None else _iso(r[2]),
                          end_at=_iso(r[3]), direction=r[4], caller=r[5], callee=r[6], destination=r[7],
                          billed_s=int(r[8]), charge_micros=int(r[9]), currency=r[10], revision=int(r[11]))
               for r in rows[:limit]]
    return CallPage(account_id=account_id, calls=records, next_offset=offset + limit if len(rows) > limit else None)


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(int(epoch_s), timezone.utc).isoformat().replace("+00:00", "Z")


def _balance(clickhouse_url: str, account_id: str) -> Balance:
    rows = _read(clickhouse_url, "SELECT currency, toInt64(-sum(amount_micros)), count() FROM journal FINAL "
                                 f"WHERE account_id = '{account_id}' AND ledger_account = 'customer:{account_id}' "
                                 "GROUP BY currency")
    if not rows:
        raise Problem(404, "unknown-account", f"no postings for account {account_id} (yet)")
    currency, total, count = rows[0]
    return Balance(account_id=account_id, currency=currency, balance_micros=int(total), postings=int(count))

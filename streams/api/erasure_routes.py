"""The API's erasure requests (R32): a subscriber's request to erase their personal data, which an
operator answers, erased or declined with a reason, within 30 days.

The steps and the records are ``streams/ledger/erasure_queue.py``; this checks who may ask and
answer, and turns refusals into problems. The operator's ``POST /v1/accounts/{id}/erasure``
(``command_routes.py``) still erases at once, without a request.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from projections.erasure_requests import Status
from streams.api import access, statements
from streams.api.command_routes import ACCOUNT, ERRORS, KEY
from streams.api.context import Context, caller, context, must
from streams.api.models import Erasure, ErasureAnswerBody, ErasureRequestView
from streams.api.problems import Problem
from streams.ledger import erasure_queue
from streams.ledger.privacy import Erasure as Done

REQUEST_ID = Path(pattern=r"^er-[0-9a-f]{16}$")
STATUS = {"unknown-request": 404, "already-answered": 409}
T = TypeVar("T")

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["erasure requests"])


@router.get("/erasure-requests", response_model=list[ErasureRequestView])
async def requests(state: str = Query("open", pattern="^(open|all)$"), who: str = Depends(caller),
                   ctx: Context = Depends(context)) -> list[ErasureRequestView]:
    """Operators and finance: the requests waiting for an answer, the one due first first
    (``state=all``: every request, newest first)."""
    must(who in (access.OPERATOR, access.FINANCE))
    found = await queue_of(ctx)
    now_ms = int(time.time() * 1000)
    chosen = (sorted(found.values(), key=lambda s: -s.request.requested_at_ms) if state == "all"
              else [s for s in sorted(found.values(), key=lambda s: s.request.due_at_ms) if s.is_open])
    return [view(s, now_ms) for s in chosen]


@router.post("/accounts/{account_id}/erasure-requests", status_code=202, response_model=ErasureRequestView)
async def ask(account_id: str = ACCOUNT, key: str = KEY, who: str = Depends(caller),
              ctx: Context = Depends(context)) -> ErasureRequestView:
    """The subscriber (their portal token) or an operator asks for the erasure; the
    ``Idempotency-Key`` is the request's reference, so a retry is the same request. An account
    whose request is still open gets that one back."""
    must(access.may_command(who) or who == access.PORTAL + account_id)
    status, _ = await run_in_threadpool(refused_as_problems, lambda: erasure_queue.ask(
        ctx.settings, account_id, "api", key))
    return view(status, int(time.time() * 1000))


@router.post("/erasure-requests/{request_id}/answer", response_model=ErasureRequestView)
async def answer(body: ErasureAnswerBody, request_id: str = REQUEST_ID, who: str = Depends(caller),
                 ctx: Context = Depends(context)) -> ErasureRequestView:
    """An operator answers: ``ERASED`` runs the erasure (as ``POST /v1/accounts/{id}/erasure``
    does) and then logs the answer; ``DECLINED`` logs it with the reason the customer reads."""
    must(access.may_command(who))
    done = await run_in_threadpool(refused_as_problems, lambda: erasure_queue.answer(
        ctx.settings, request_id, body.outcome, body.reason, f"api:{who}"))
    forget_key(ctx, done)
    return view(done.status, int(time.time() * 1000), done.erasure)


def forget_key(ctx: Context, done: erasure_queue.Answered) -> None:
    """After an erasure this process must not print the customer's name from a key it read
    before (its invoices' customer block), as ``erase_now`` makes sure too."""
    if done.erasure is not None:
        ctx.opener.forget(done.erasure.account)


async def queue_of(ctx: Context) -> dict[str, Status]:
    """The requests as logged; 503 when the broker cannot be read."""
    try:
        return await erasure_queue.read_queue(ctx.settings)
    except Exception as exc:  # noqa: BLE001 - aiokafka's errors, a timeout: the broker is down or too slow
        raise Problem(503, "log-unavailable", f"the erasure requests could not be read: {type(exc).__name__}") from None


def refused_as_problems(step: Callable[[], T]) -> T:
    """A step of ``erasure_queue``, its refusals as 404, 409 or 422, the broker's and
    ClickHouse's failures as a 503 (the request stays open: answer it again)."""
    try:
        return step()
    except erasure_queue.RequestRefused as exc:
        raise Problem(STATUS.get(exc.kind, 422), exc.kind, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the broker or ClickHouse is down or too slow
        raise Problem(503, "unavailable", f"the erasure request could not be logged or run: "
                                          f"{type(exc).__name__}") from None


def view(status: Status, now_ms: int, done: Done | None = None) -> ErasureRequestView:
    r, a = status.request, status.answer
    return ErasureRequestView(
        request_id=r.request_id, account_id=r.account_id, requested_at=statements.iso(r.requested_at_ms // 1000),
        due_at=statements.iso(r.due_at_ms // 1000), via=r.via, reference=r.reference, overdue=status.overdue(now_ms),
        outcome=a.outcome if a else None, answered_at=statements.iso(a.answered_at_ms // 1000) if a else None,
        answered_by=a.answered_by if a else None, reason=a.reason if a else None,
        erasure=None if done is None else Erasure(
            account_id=done.account, call_log_rows_anonymised=done.call_log_rows_anonymised,
            erasure_event=done.erasure_event, subscriber_key_deleted=done.subscriber_key_deleted))

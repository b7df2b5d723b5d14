"""R19's disputes as the API reads them: the queue of disputes waiting for an answer
(``GET /v1/disputes``, operators and finance, the oldest first) and an account's disputes with
how each was decided (``GET /v1/accounts/{id}/disputes``, its own portal too). They come from
the ``disputes`` read model the worker writes (``streams/clickhouse/disputes.py``); a dispute is
opened and resolved by the commands in ``streams/api/command_routes.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from streams.api import access, read_model as rm, statements
from streams.api.command_routes import ACCOUNT, ERRORS
from streams.api.context import Context, caller, context, must
from streams.api.models import Dispute

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["reads"])


@router.get("/disputes", response_model=list[Dispute])
async def waiting(limit: int = Query(200, ge=1, le=1000), who: str = Depends(caller),
                  ctx: Context = Depends(context)) -> list[Dispute]:
    """R19: every open dispute, the oldest first: what operators have to answer."""
    must(who in (access.OPERATOR, access.FINANCE))
    return await run_in_threadpool(lambda: views(ctx.reader, rm.open_disputes(ctx.reader, limit)))


@router.get("/accounts/{account_id}/disputes", response_model=list[Dispute])
async def of_account(account_id: str = ACCOUNT, who: str = Depends(caller),
                     ctx: Context = Depends(context)) -> list[Dispute]:
    """R19: the account's disputes, the newest first, open or decided."""
    must(access.may_read(who, account_id))
    return await run_in_threadpool(lambda: views(ctx.reader, rm.disputes(ctx.reader, account_id)))


def views(reader: rm.Reader, rows: list[rm.DisputeRow]) -> list[Dispute]:
    numbers = rm.numbers_of(reader, {r.invoice for r in rows})
    return [Dispute(account_id=r.account_id, dispute_id=r.dispute_id, invoice_reference=r.invoice,
                    invoice_number=numbers.get(r.invoice, ""), amount_micros=r.amount_micros, currency=r.currency,
                    reason=r.reason, opened_at=statements.iso(r.opened_at_s), status=r.outcome or "open",
                    credit_micros=r.credit_micros,
                    resolved_at=statements.iso(r.resolved_at_s) if r.outcome else None) for r in rows]

"""R33's call records over the API: the calls behind a customer's charges, a page at a time
(``GET /v1/accounts/{id}/calls``), or one month of them, as the account's zone counts it (R13),
with the month's totals; and a month as a CSV file (``GET /v1/accounts/{id}/calls.csv``), which
the portal offers too (``streams/documents/call_records.py`` writes it).

Who reads what is as for every read (``streams/api/read_routes.py``): ``operator`` and
``finance`` any account, ``portal:<account>`` its own.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from streams.api import access, read_model as rm, statements
from streams.api.command_routes import ACCOUNT, ERRORS
from streams.api.context import Context, caller, context, must
from streams.api.models import CALL_MONTH, CallPage, CallRecord
from streams.documents.call_records import csv_chunks

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["reads"])
MONTH_OR_NONE = Query("", pattern=f"^$|{CALL_MONTH}", description="YYYY-MM: that month's calls only, in the "
                                                               "account's zone, with the month's totals")


@router.get("/accounts/{account_id}/calls", response_model=CallPage)
async def calls(account_id: str = ACCOUNT, month: str = MONTH_OR_NONE, limit: int = Query(100, ge=1, le=500),
                offset: int = Query(0, ge=0, le=1_000_000), who: str = Depends(caller),
                ctx: Context = Depends(context)) -> CallPage:
    """R33: the account's call records, newest first, a page at a time."""
    must(access.may_read(who, account_id))
    return await run_in_threadpool(page_of, ctx.reader, account_id, month, limit, offset)


@router.get("/accounts/{account_id}/calls.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}})
async def calls_csv(account_id: str = ACCOUNT, month: str = Query(..., pattern=CALL_MONTH),
                    who: str = Depends(caller), ctx: Context = Depends(context)) -> StreamingResponse:
    """R33: a month's call records as CSV, oldest first, times in the account's zone."""
    must(access.may_read(who, account_id))
    return await run_in_threadpool(csv_response, ctx.reader, account_id, month)


def page_of(reader: rm.Reader, account_id: str, month: str, limit: int, offset: int) -> CallPage:
    """A page of the account's calls; of ``month`` only, with its totals, if one is named."""
    if not month:
        return call_page(account_id, rm.calls(reader, account_id, limit, offset), limit, offset)
    bounds = rm.month_bounds_s(month, rm.account(reader, account_id).time_zone)
    count, charged = rm.call_totals(reader, account_id, bounds)
    page = call_page(account_id, rm.calls(reader, account_id, limit, offset, bounds), limit, offset)
    return page.model_copy(update={"month": month, "month_calls": count, "month_charge_micros": charged})


def call_page(account_id: str, rows: list[tuple], limit: int, offset: int) -> CallPage:
    iso = statements.iso
    records = [CallRecord(call_key=r[0], start_at=iso(r[1]), answer_at=None if r[2] is None else iso(r[2]),
                          end_at=iso(r[3]), direction=r[4], caller=r[5], callee=r[6], destination=r[7],
                          billed_s=int(r[8]), charge_micros=int(r[9]), currency=r[10], revision=int(r[11]))
               for r in rows[:limit]]
    return CallPage(account_id=account_id, calls=records, next_offset=offset + limit if len(rows) > limit else None)


def csv_response(reader: rm.Reader, account_id: str, month: str) -> StreamingResponse:
    """The month's calls as a download, read a page at a time while it is sent. An unknown
    account is refused before the first byte; ClickHouse lost half-way cuts the download short
    (the client sees an unfinished transfer, never a file that looks whole)."""
    time_zone = rm.account(reader, account_id).time_zone
    pages = rm.calls_in_order(reader, account_id, rm.month_bounds_s(month, time_zone))
    return StreamingResponse(csv_chunks(pages, time_zone), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="calls-{account_id}-{month}.csv"',
                                      "Cache-Control": "no-store"})

"""The API's reads (from ClickHouse, ``streams/api/read_model.py``), the data export (R32) and
the portal links.

Who reads what: ``operator`` and ``finance`` any account; ``portal:<account>`` its own account
only (R35); ``switch`` nothing but authorizations.
"""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from projections.events import AccountStatus
from streams.api import access, read_model as rm, statements
from streams.api.command_routes import ACCOUNT, ERRORS
from streams.api.context import Context, caller, context, must
from streams.api.links import portal_link
from streams.api.plans import catalogue
from streams.api.models import (
    INVOICE_NUMBER,
    MONTH,
    Account,
    AccountList,
    AgedAccount,
    Balance,
    DeadLetterOut,
    InvoiceDocument,
    InvoiceList,
    LedgerAccountLine,
    PortalLink,
    PlanCatalogue,
    PortalLinkRequest,
    Receivables,
    SettingsTerm,
    SettingsVersion,
    Statement,
    TrialBalance,
)
from streams.api.problems import Problem
from streams.api.worker_routes import held_on_worker
from streams.clickhouse import receivables as aged
from streams.clickhouse import trial_balance as tb
from streams.clickhouse.privacy import export_records
from streams.config.checks import is_plan_name
from streams.edge.commands import PLAN_CHARS_MAX
from streams.documents.invoice import render_html
from streams.documents.invoice_pdf import render_pdf
from streams.documents.wording import language_of
from streams.worker import settings_log

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["reads"])
NUMBER = Path(pattern=INVOICE_NUMBER)


def _reader(ctx: Context, who: str, account_id: str) -> rm.Reader:
    must(access.may_read(who, account_id))
    return ctx.reader


def account_view(row: rm.AccountRow) -> Account:
    iso = statements.iso
    return Account(account_id=row.account_id, currency=row.currency, plan=row.plan, pending_plan=row.pending_plan,
                   billing_mode=row.billing_mode, status=row.status, status_reason=row.status_reason,
                   status_since=iso(row.status_since_s), time_zone=row.time_zone, country_code=row.country_code,
                   tax_jurisdiction=row.tax_jurisdiction, opened_at=iso(row.opened_at_s),
                   balance_micros=row.balance_micros, paid_micros=row.paid_micros, charged_micros=row.charged_micros,
                   calls_charged=row.calls_charged, open_disputes=row.open_disputes,
                   credit_limit_micros=None if row.credit_limit_micros < 0 else row.credit_limit_micros,
                   locale=row.locale)


ACCOUNTS_PAGE_MAX = 500
STATUSES = "|".join(s.value for s in AccountStatus)


@router.get("/accounts", response_model=AccountList)
async def list_accounts(
        status: str = Query("", pattern=f"^({STATUSES})?$"), plan: str = Query("", max_length=PLAN_CHARS_MAX),
        currency: str = Query("", pattern=r"^([A-Z]{3})?$"),
        billing_mode: str = Query("", pattern="^(prepaid|postpaid)?$"),
        prefix: str = Query("", max_length=64, pattern=r"^[A-Za-z0-9._:-]*$"),
        owing: bool = Query(False, description="only accounts with a balance below zero"),
        after: str = Query("", max_length=64, pattern=r"^[A-Za-z0-9._:-]*$",
                           description="the page after this account id"),
        limit: int = Query(100, ge=1, le=ACCOUNTS_PAGE_MAX), who: str = Depends(caller),
        ctx: Context = Depends(context)) -> AccountList:
    """Operators and finance: the accounts in id order, a page at a time, by status, plan,
    currency, billing mode, id prefix, or owing (what a CRM lists, a collections run works on)."""
    must(who in (access.OPERATOR, access.FINANCE))
    if plan and not is_plan_name(plan):
        raise Problem(422, "invalid-plan", f"plan: {plan!r} is no plan name")
    selected = rm.AccountFilter(status, plan, currency, billing_mode, prefix, owing)
    rows = await run_in_threadpool(rm.list_accounts, ctx.reader, selected, after, limit + 1)  # one more: is there?
    return AccountList(accounts=[account_view(r) for r in rows[:limit]],
                       next_after=rows[limit - 1].account_id if len(rows) > limit else None)


@router.get("/accounts/{account_id}", response_model=Account)
async def get_account(account_id: str = ACCOUNT, who: str = Depends(caller), ctx: Context = Depends(context)) -> Account:
    reader = _reader(ctx, who, account_id)
    return account_view(await run_in_threadpool(rm.account, reader, account_id))


@router.get("/accounts/{account_id}/balance", response_model=Balance)
async def balance(account_id: str = ACCOUNT, who: str = Depends(caller),
                  ctx: Context = Depends(context)) -> Balance:
    reader = _reader(ctx, who, account_id)
    found = await run_in_threadpool(rm.journal_balance, reader, account_id)
    if found is None:
        raise Problem(404, "unknown-account", f"no postings for account {account_id} (yet)")
    currency, total, postings = found
    held = await run_in_threadpool(held_on_worker, ctx, account_id)
    return Balance(account_id=account_id, currency=currency, balance_micros=total, held_micros=held,
                   available_micros=None if held is None else total - held, postings=postings)


@router.get("/accounts/{account_id}/statements/{month}", response_model=Statement)
async def statement(account_id: str = ACCOUNT, month: str = Path(pattern=MONTH), who: str = Depends(caller),
                    ctx: Context = Depends(context)) -> Statement:
    """R20: the current month or one of the three before it, in the account's zone."""
    reader = _reader(ctx, who, account_id)
    return await run_in_threadpool(statements.statement, reader, account_id, month)


@router.get("/accounts/{account_id}/invoices", response_model=InvoiceList)
async def invoices(account_id: str = ACCOUNT, who: str = Depends(caller), ctx: Context = Depends(context)) -> InvoiceList:
    reader = _reader(ctx, who, account_id)
    rows = await run_in_threadpool(rm.invoices, reader, account_id)
    return InvoiceList(account_id=account_id,
                       invoices=await run_in_threadpool(statements.summaries, reader, account_id, rows))


@router.get("/accounts/{account_id}/invoices/{number}", response_model=InvoiceDocument)
async def invoice(account_id: str = ACCOUNT, number: str = NUMBER, who: str = Depends(caller),
                  ctx: Context = Depends(context)) -> InvoiceDocument:
    must(access.may_read(who, account_id))
    return (await run_in_threadpool(ctx.document, account_id, number))[0]


@router.get("/accounts/{account_id}/invoices/{number}/html", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}}})
async def invoice_html(account_id: str = ACCOUNT, number: str = NUMBER, who: str = Depends(caller),
                       ctx: Context = Depends(context)) -> HTMLResponse:
    must(access.may_read(who, account_id))
    _, issued, legal = await run_in_threadpool(ctx.document, account_id, number)
    return HTMLResponse(render_html(issued, legal=legal), headers={"Content-Language": language_of(legal.locale)})


@router.get("/accounts/{account_id}/invoices/{number}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def invoice_pdf(account_id: str = ACCOUNT, number: str = NUMBER, who: str = Depends(caller),
                      ctx: Context = Depends(context)) -> Response:
    must(access.may_read(who, account_id))
    return await run_in_threadpool(pdf_response, ctx, account_id, number)


def pdf_response(ctx: Context, account_id: str, number: str) -> Response:
    doc, issued, legal = ctx.document(account_id, number)
    name = (doc.legal_number or doc.reference).replace("/", "-")
    return Response(render_pdf(issued, legal=legal), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"',
                             "Content-Language": language_of(legal.locale)})


# AgedAccount's fields, in the order of streams/clickhouse/receivables.py: AGE_BUCKETS.
AGED_FIELDS = ("not_due_micros", "days_1_30_micros", "days_31_60_micros", "days_61_90_micros", "over_90_micros")
assert len(AGED_FIELDS) == len(aged.AGE_BUCKETS)


@router.get("/plans", response_model=PlanCatalogue)
def plans(who: str = Depends(caller), ctx: Context = Depends(context)) -> PlanCatalogue:
    """The plans an account may be opened on or moved to, and how each is priced."""
    must(who in (access.OPERATOR, access.FINANCE))
    return catalogue(ctx.settings)


@router.get("/plans/versions", response_model=list[SettingsVersion])
async def settings_versions(who: str = Depends(caller), ctx: Context = Depends(context)) -> list[SettingsVersion]:
    """Every version of the prices and rules the worker folds with, oldest first (read from the
    settings topic at each request)."""
    must(who in (access.OPERATOR, access.FINANCE))
    return await versions_of(ctx)


async def versions_of(ctx: Context) -> list[SettingsVersion]:
    """The settings topic's versions as the API and the console show them; 503 when the broker
    cannot be read."""
    try:
        found = await settings_log.versions(ctx.settings)
    except Exception as exc:  # noqa: BLE001 - aiokafka's errors, a timeout: the broker is down or too slow
        raise Problem(503, "log-unavailable", f"the settings topic could not be read: {type(exc).__name__}") from None
    return [SettingsVersion(
        digest=r["digest"], recorded_at=statements.iso(r["recorded_at_ms"] // 1000), recorded_by=r["recorded_by"],
        reason=r["reason"], changed_in_force=r["changed_in_force"], plans=r["plans"],
        terms=[SettingsTerm(name=t["name"], value=t["value"], starts_at=None if t["starts_ms"] is None
                            else statements.iso(t["starts_ms"] // 1000)) for t in r["terms"]])
        for r in found]


@router.get("/receivables", response_model=Receivables)
async def receivables(as_of: str = Query(pattern=r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$",
                                         description="YYYY-MM-DD, its end in books_time_zone"),
                      who: str = Depends(caller), ctx: Context = Depends(context)) -> Receivables:
    """Finance's aged receivables: every account that owes, by days past due (R11)."""
    must(who in (access.OPERATOR, access.FINANCE))
    try:
        end_ms = aged.as_of_ms(as_of, ctx.settings.books_time_zone)
    except ValueError:
        raise Problem(422, "invalid-date", f"as_of: {as_of} is not a date of the calendar") from None
    rows = await run_in_threadpool(aged.aged_receivables, ctx.reader.rows, end_ms)
    return Receivables(as_of=as_of, accounts=[AgedAccount(account_id=a.account_id, currency=a.currency,
                                                          **dict(zip(AGED_FIELDS, a.owed)), total_micros=a.total)
                                              for a in rows])


@router.get("/ledger/trial-balance", response_model=TrialBalance)
async def trial_balance(month: str = Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
                                           description="YYYY-MM, in books_time_zone"),
                        who: str = Depends(caller), ctx: Context = Depends(context)) -> TrialBalance:
    """Finance's month: per currency and ledger account, opening, debits, credits and closing
    (the customers' own accounts as one control account; ``voiceledger trial-balance
    --by-customer`` gives the sub-ledger)."""
    must(who in (access.OPERATOR, access.FINANCE))
    books = ctx.settings.books_time_zone
    lines = await run_in_threadpool(tb.trial_balance, ctx.reader.rows, month, False, books)
    return TrialBalance(month=month, time_zone=books, lines=[LedgerAccountLine(**vars(x)) for x in lines],
                        unbalanced=tb.unbalanced(lines))


@router.get("/accounts/{account_id}/dead-letters", response_model=list[DeadLetterOut])
async def dead_letters(account_id: str = ACCOUNT, who: str = Depends(caller),
                       ctx: Context = Depends(context)) -> list[DeadLetterOut]:
    """The account's events the worker refused, with the reasons (operators and finance)."""
    must(who in (access.OPERATOR, access.FINANCE))
    rows = await run_in_threadpool(rm.dead_letters, ctx.reader, account_id)
    return [DeadLetterOut(source=f"{t}/{p}/{o}/{i}", reason_code=c, reason=r, logged_at=statements.iso(at))
            for t, p, o, i, c, r, at in rows]


@router.post("/accounts/{account_id}/exports", response_model=dict)
async def export(account_id: str = ACCOUNT, who: str = Depends(caller), ctx: Context = Depends(context)) -> dict:
    """R32: the subscriber's data (calls, journal, invoices) in a machine-readable form, answered
    at once; the customer's own portal may ask for it."""
    must(who == access.OPERATOR or who == access.PORTAL + account_id)
    parts = await run_in_threadpool(export_records, ctx.reader.rows, account_id)
    return {"account_id": account_id, "exported_at": datetime.now(timezone.utc).isoformat(), **parts}


@router.post("/portal-links", response_model=PortalLink, status_code=201)
def new_portal_link(body: PortalLinkRequest, who: str = Depends(caller), ctx: Context = Depends(context)) -> PortalLink:
    """A signed link that logs a customer in to their portal until it expires (operators)."""
    must(access.may_command(who))
    if ctx.signer is None:
        raise Problem(503, "portal-off", "the portal is off: portal_secret_file is not set")
    url, expires = portal_link(ctx.signer, ctx.settings.portal_base_url, body.account_id, body.days)
    return PortalLink(account_id=body.account_id, url=url, expires_at=statements.iso(expires))

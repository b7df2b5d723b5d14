"""The customer portal at ``/portal`` (issue 19): the account's balance and recent payments, its
statements for the current month and the three before (R20), its invoices to view and download
as PDF, the call records behind its charges by month (R33), a dispute form (R19: refused after
30 days) and the customer's disputes with how each was decided, a data export and the erasure
of the customer's personal data (R32).

A customer arrives by the signed, expiring link an operator gave them (``streams/api/links.py``);
the link's token becomes the session cookie, scoped to that one account. Every page reads the
same read model as the API, and a dispute is the same command.
"""

from __future__ import annotations

import json
import time
from typing import Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from projections.erasure_requests import ERASED, of_account
from projections.money import parse_decimal_micros
from projections.plan_prices import credit_limit_in_force
from streams.api import dispute_routes, pages, read_model as rm, statements
from streams.api.access import PORTAL
from streams.api.command_routes import erase_now
from streams.api.context import Context, command, context
from streams.api.models import CALL_MONTH, MONTH
from streams.api.portal_words import PORTAL_WORDS, language_choices, language_name
from streams.documents.wording import language_of
from streams.api.problems import PageRefused, Problem
from streams.api.call_routes import csv_response
from streams.api.read_routes import pdf_response
from streams.documents.call_records import local_iso
from streams.clickhouse.privacy import export_records
from streams.edge import commands
from streams.ledger import erasure_queue

router = APIRouter(prefix="/portal", include_in_schema=False)
COOKIE = "vl_portal"
BASE = "portal_base.html"
CALLS_PAGE = 50


def _locale(ctx: Context, account_id: str = "") -> str:
    """The customer's language (the account's own, else the deployment's ``invoice_locale``);
    before the customer is known (signing in), the deployment's."""
    return ctx.locale_of(account_id) if account_id else ctx.settings.invoice_locale


def _words(ctx: Context, account_id: str = "") -> Callable[[str], str]:
    return PORTAL_WORDS.wording(_locale(ctx, account_id))


def _page(ctx: Context, template: str, **values: object) -> Response:
    """A page of the customer named by ``values["account_id"]``, in their language."""
    return pages.page(template, locale=_locale(ctx, str(values.get("account_id", ""))), **values)


def _message(ctx: Context, title: str, text: str, status: int, **values: object) -> Response:
    """A page saying one thing, in the customer's language (``title`` and ``text`` already worded)."""
    return pages.message(title, text, status, locale=_locale(ctx, str(values.get("account_id", ""))), **values)


def customer(request: Request, ctx: Context = Depends(context)) -> str:
    """The account of the session; without a valid one, a page that says how to get in."""
    scope = pages.session_scope(ctx, request, COOKIE)
    if scope is None or not scope.startswith(PORTAL):
        t = _words(ctx)
        raise PageRefused(_message(ctx, t("Please sign in"), t(
            "Your session has ended or this page needs your portal link. Open the link your provider sent you, or "
            "ask them for a new one."), 401))
    request.state.account_id = scope[len(PORTAL):]
    ctx.locale_of(request.state.account_id)  # read here, in FastAPI's thread pool: an async page finds it kept
    return request.state.account_id


@router.get("/login")
def login(request: Request, token: str = Query("", max_length=8192), ctx: Context = Depends(context)) -> Response:
    """A link of any shape gets the page a customer can read; the signer refuses what is not its own."""
    found = ctx.signer.scope_of(token) if ctx.signer is not None else None
    if found is None or not found[0].startswith(PORTAL):
        t = _words(ctx)
        return _message(ctx, t("This link does not work"),
                        t("The link is not valid or has expired. Ask your provider for a new one."), 401)
    response = RedirectResponse("/portal", status_code=303)
    pages.set_session(response, request, COOKIE, token, "/portal", found[1] - int(time.time()))
    return response


@router.get("")
def home(request: Request, account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    account = rm.account(ctx.reader, account_id)
    found = rm.journal_balance(ctx.reader, account_id)
    months = statements.months_of(account)
    start_s, _ = rm.month_bounds_s(months[-1], account.time_zone)
    recent = rm.payments(ctx.reader, account_id, start_s, 2**32 - 1, limit=20)
    return _page(ctx, "portal_home.html", currency=account.currency, title=_words(ctx, account_id)("Your account"),
                 account_id=account_id, account=account, balance=found[1] if found else 0,
                 to_pay=_to_pay(ctx, account_id), credit_limit=_credit_limit(ctx, account),
                 payments=[{"at": statements.iso(p.at_s), "kind": p.kind, "amount_micros": p.amount_micros}
                           for p in recent],
                 language=_locale(ctx, account_id), languages=language_choices(_locale(ctx, account_id)),
                 key=pages.new_key(), csrf=ctx.signer.csrf(request.cookies.get(COOKIE, "")))


@router.post("/language")
async def change_language(request: Request, account_id: str = Depends(customer),
                          ctx: Context = Depends(context)) -> Response:
    """The customer's own language, for their next invoices and these pages (the worker folds it;
    the pages follow within seconds)."""
    fields = await _posted(request, ctx, account_id, "/portal")
    choice = fields.get("locale", "")[:16]
    chosen = dict(language_choices(_locale(ctx, account_id))).get(choice)
    if chosen is None:  # not an option the page offered
        t = _words(ctx, account_id)
        return _message(ctx, t("Not sent"), t("The form expired; open the page again."), 400, base=BASE,
                        account_id=account_id, back="/portal")
    key = "portal:" + fields.get("key", "")[:64]
    await run_in_threadpool(ctx.submit, command(lambda: commands.language(account_id, choice, key)), key)
    ctx.forget_locale(account_id)
    t = PORTAL_WORDS.wording(choice)  # said in the language just chosen, which names itself as a sentence does
    named = language_name(choice) or chosen
    return pages.message(t("Language changed"), t("Your next invoices and these pages will be in {language} in a "
                                                  "few moments.").format(language=named), 202, base=BASE, kind="done",
                         back="/portal", locale=choice, account_id=account_id)


def _credit_limit(ctx: Context, account: rm.AccountRow) -> int | None:
    """R10: what a postpaid customer may owe: their own limit, else their plan's (None: none)."""
    if account.billing_mode != "postpaid":
        return None
    return credit_limit_in_force(account.credit_limit_micros, account.plan, account.currency,
                                 dict(ctx.settings.credit_limit_by_plan()))


def _to_pay(ctx: Context, account_id: str) -> dict:
    """What the customer's invoices still ask for (R11: their money paid the oldest first): in
    all, past due, and the next due date of what is not."""
    owing = [s for s in statements.summaries(ctx.reader, account_id, rm.invoices(ctx.reader, account_id, 1_000))
             if s.outstanding_micros > 0]
    upcoming = sorted(s.due_at for s in owing if s.status != "overdue" and s.due_at)
    return {"total": sum(s.outstanding_micros for s in owing),
            "overdue": sum(s.outstanding_micros for s in owing if s.status == "overdue"),
            "next_due": upcoming[0] if upcoming else None}


@router.get("/statements")
def statement(month: str = Query("", pattern=r"^$|" + MONTH), account_id: str = Depends(customer),
              ctx: Context = Depends(context)) -> Response:
    account = rm.account(ctx.reader, account_id)
    months = statements.months_of(account)
    t = _words(ctx, account_id)
    try:
        found = statements.statement(ctx.reader, account_id, month or months[0])
    except Problem as exc:
        if exc.kind != "statement-unavailable":
            raise
        text = t("The statement for {month} is not available: statements cover the current month and the three before "
                 "it ({months}) (R20).").format(month=month, months=", ".join(reversed(months)))
        return _message(ctx, t("Statement not available"), text, 403, base=BASE, account_id=account_id,
                        back="/portal/statements")
    return _page(ctx, "portal_statement.html", currency=account.currency,
                 title=t("Statement {month}").format(month=found.month), account_id=account_id, statement=found)


@router.get("/invoices")
def invoices(account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    rows = statements.summaries(ctx.reader, account_id, rm.invoices(ctx.reader, account_id))
    currency = rows[0].currency if rows else "USD"
    return _page(ctx, "portal_invoices.html", currency=currency, title=_words(ctx, account_id)("Invoices"),
                 account_id=account_id, invoices=rows)


@router.get("/invoices/{number}")
def invoice(number: str, account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    from streams.documents.invoice import render_html

    _, issued, legal = ctx.document(account_id, number[:128])
    return pages.HTMLResponse(render_html(issued, legal=legal), headers={"Content-Language": language_of(legal.locale)})


@router.get("/invoices/{number}/pdf")
async def invoice_pdf(number: str, account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    return await run_in_threadpool(pdf_response, ctx, account_id, number[:128])


@router.get("/calls")
def calls(month: str = Query("", pattern=f"^$|{CALL_MONTH}"), offset: int = Query(0, ge=0, le=1_000_000),
          account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    """R33: a month's calls (the current one first), 50 a page, times in the account's zone, with
    the month's totals and its CSV file."""
    account = rm.account(ctx.reader, account_id)
    months = statements.call_months(account)
    month = month or months[0]
    bounds = rm.month_bounds_s(month, account.time_zone)
    rows = rm.calls(ctx.reader, account_id, CALLS_PAGE, offset, bounds)
    count, charged = rm.call_totals(ctx.reader, account_id, bounds)
    shown = [{"start": local_iso(r[1], account.time_zone)[:19].replace("T", " "), "direction": r[4], "callee": r[6],
              "destination": r[7], "billed_s": int(r[8]), "charge_micros": int(r[9])} for r in rows[:CALLS_PAGE]]
    return _page(ctx, "portal_calls.html", currency=account.currency, title=_words(ctx, account_id)("Call records"),
                 account_id=account_id, calls=shown, month=month, months=months, zone=account.time_zone,
                 unit=account.currency,  # the template's ``currency`` is taken by the page's money formatter
                 count=count, charged=charged, offset=offset,
                 next_offset=offset + CALLS_PAGE if len(rows) > CALLS_PAGE else None)


@router.get("/calls.csv")
async def calls_csv(month: str = Query(..., pattern=CALL_MONTH), account_id: str = Depends(customer),
                    ctx: Context = Depends(context)) -> Response:
    """The month's calls as the API gives them (``GET /v1/accounts/{id}/calls.csv``)."""
    return await run_in_threadpool(csv_response, ctx.reader, account_id, month)


@router.get("/disputes")
def dispute_form(request: Request, invoice: str = Query("", max_length=128), account_id: str = Depends(customer),
                 ctx: Context = Depends(context)) -> Response:
    account = rm.account(ctx.reader, account_id)
    invoices = [r for r in rm.invoices(ctx.reader, account_id) if r.kind != "CREDIT_NOTE"]
    rows = [{**s.model_dump(), "open": statements.dispute_window_open(r)}
            for r, s in zip(invoices, statements.summaries(ctx.reader, account_id, invoices))]
    return _page(ctx, "portal_disputes.html", currency=account.currency, title=_words(ctx, account_id)("Disputes"),
                 account_id=account_id, invoices=rows, chosen=invoice, currency_code=account.currency,
                 key=pages.new_key(), csrf=ctx.signer.csrf(request.cookies.get(COOKIE, "")),
                 disputes=dispute_routes.views(ctx.reader, rm.disputes(ctx.reader, account_id)))


async def _posted(request: Request, ctx: Context, account_id: str, back: str) -> dict[str, str]:
    """A form posted from one of this session's pages; anything else is refused with a page."""
    fields = await pages.form(request)
    if fields is None or not pages.csrf_ok(ctx, request, COOKIE, fields):
        t = _words(ctx, account_id)
        raise PageRefused(_message(ctx, t("Not sent"), t("The form expired; open the page again."), 400, base=BASE,
                                   account_id=account_id, back=back))
    return fields


@router.post("/disputes")
async def open_dispute(request: Request, account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    fields = await _posted(request, ctx, account_id, "/portal/disputes")
    return await run_in_threadpool(_dispute, ctx, account_id, fields)


def _dispute(ctx: Context, account_id: str, fields: dict[str, str]) -> Response:
    account = rm.account(ctx.reader, account_id)
    row = rm.invoice(ctx.reader, account_id, fields.get("invoice", "")[:128])
    shown = row.legal_number or row.reference
    try:
        amount = parse_decimal_micros(fields.get("amount", "")[:16])
    except ValueError:
        amount = 0
    t = _words(ctx, account_id)
    try:
        statements.check_dispute(row, amount)
    except Problem as exc:
        return _message(ctx, t("Dispute refused"), _refusal(t, exc, shown, row.issued_at_s), 422, base=BASE,
                        account_id=account_id, back="/portal/disputes")
    key = "portal:" + fields.get("key", "")[:64]
    event = command(lambda: commands.dispute(account_id, row.reference, amount, account.currency,
                                             fields.get("reason", "")[:300], key))
    answer = ctx.submit(event, key)
    return _message(ctx, t("Dispute received"), t(
        "Your dispute {dispute} of invoice {invoice} is open. We will answer it; if it is decided in your favour, your "
        "account is credited with a credit note.").format(dispute=answer.event_id, invoice=shown),
        202, base=BASE, kind="done", account_id=account_id, back="/portal/invoices")


_REFUSALS = {  # statements.check_dispute's problems, as the customer reads them
    "not-disputable": "{invoice} is a credit note: only an invoice can be disputed.",
    "dispute-too-late": "Invoice {invoice} was issued on {date}, more than 30 days ago: disputes are accepted within 30 "
                        "days of an invoice (R19).",
    "dispute-exceeds-invoice": "The amount disputed must be positive and at most the total of invoice {invoice}.",
}


def _refusal(t, exc: Problem, shown: str, issued_at_s: int) -> str:  # noqa: ANN001 - the customer's words
    """A refusal the catalogue words; one it does not know yet, as the API says it."""
    if exc.kind not in _REFUSALS:
        return exc.detail[0].upper() + exc.detail[1:] + "."
    return t(_REFUSALS[exc.kind]).format(invoice=shown, date=statements.iso(issued_at_s)[:10])


@router.get("/privacy")
async def privacy(request: Request, account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    """With ``portal_erasure = reviewed``, the page also says where the customer's requests stand."""
    reviewed = ctx.settings.portal_erasure == "reviewed"
    return _page(ctx, "portal_privacy.html", title=_words(ctx, account_id)("My data"), account_id=account_id,
                 key=pages.new_key(), csrf=ctx.signer.csrf(request.cookies.get(COOKIE, "")), reviewed=reviewed,
                 requests=await _requests_of(ctx, account_id) if reviewed else [])


async def _requests_of(ctx: Context, account_id: str) -> list[dict[str, str]] | None:
    """The account's erasure requests as the page words them, newest first; None when the log
    cannot be read (the page says so, and still offers the export and the form)."""
    try:
        found = of_account(await erasure_queue.read_queue(ctx.settings), account_id)
    except Exception:  # noqa: BLE001 - aiokafka's errors, a timeout: the broker is down or too slow
        return None
    t, day = _words(ctx, account_id), lambda ms: statements.iso(ms // 1000)[:10]
    lines = []
    for s in found:
        asked, a = day(s.request.requested_at_ms), s.answer
        if a is None:
            text = t("Your request of {date} is being reviewed: we answer it by {due}.").format(
                date=asked, due=day(s.request.due_at_ms))
        elif a.outcome == ERASED:
            text = t("Your personal data was erased on {date}.").format(date=day(a.answered_at_ms))
        else:
            text = t("Your request of {date} was declined on {answered}: {reason}").format(
                date=asked, answered=day(a.answered_at_ms), reason=a.reason)
        lines.append({"id": s.request.request_id, "text": text})
    return lines


@router.post("/export")
async def export(request: Request, account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    """R32: everything kept about the account, as a JSON download."""
    await _posted(request, ctx, account_id, "/portal/privacy")
    parts = await run_in_threadpool(export_records, ctx.reader.rows, account_id)
    body = json.dumps({"account_id": account_id, **parts}, indent=1)
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{account_id}-data.json"'})


@router.post("/erasure")
async def erasure(request: Request, account_id: str = Depends(customer), ctx: Context = Depends(context)) -> Response:
    """R32: the customer's own erasure, as the operator's ``POST .../erasure`` does it: their key
    deleted, their numbers anonymised in the call log, the erasure logged; billing records stay.
    At once, or (``portal_erasure = reviewed``) as a request an operator answers within 30 days.
    It cannot be undone, so the customer types their account id to confirm it; the form's key
    makes a second click the same request."""
    fields = await _posted(request, ctx, account_id, "/portal/privacy")
    t = _words(ctx, account_id)
    if fields.get("confirm", "").strip() != account_id:
        return _message(ctx, t("Not erased"), t("To confirm, type your account id ({account_id}) exactly.").format(
            account_id=account_id), 422, base=BASE, account_id=account_id, back="/portal/privacy")
    if ctx.settings.portal_erasure == "reviewed":
        return await _ask_for_erasure(ctx, account_id, "portal:" + fields.get("key", "")[:64])
    done = await run_in_threadpool(erase_now, ctx, account_id, "portal:" + fields.get("key", "")[:64], "portal")
    return _message(ctx, t("Your personal data is erased"), t(
        "Your name, address and numbers can no longer be read: {count} call records keep only their amounts and "
        "destinations. Your invoices and payments stay, as the law requires (R32).").format(
            count=done.call_log_rows_anonymised), 200, base=BASE, kind="done", account_id=account_id, back="/portal")


async def _ask_for_erasure(ctx: Context, account_id: str, reference: str) -> Response:
    """R32 with a review: the request is logged for an operator, who answers within 30 days; a
    request still open is the one the customer is shown again."""
    t = _words(ctx, account_id)
    try:
        status, _ = await run_in_threadpool(erasure_queue.ask, ctx.settings, account_id, "portal", reference)
    except erasure_queue.RequestRefused:  # a form not of this page's making (its key)
        return _message(ctx, t("Not sent"), t("The form expired; open the page again."), 400, base=BASE,
                        account_id=account_id, back="/portal/privacy")
    except Exception:  # noqa: BLE001 - the broker is down or too slow: nothing was asked
        return _message(ctx, t("Not sent"), t("Your request could not be sent; try again in a few minutes."), 503,
                        base=BASE, account_id=account_id, back="/portal/privacy")
    return _message(ctx, t("Request received"), t(
        "Your request {request} is received. We answer it by {date} (R32); this page shows our answer.").format(
            request=status.request.request_id, date=statements.iso(status.request.due_at_ms // 1000)[:10]),
        202, base=BASE, kind="done", account_id=account_id, back="/portal/privacy")

"""The operator console at ``/console`` (issue 19): find an account or list them by status and
owing, see its status, balance, funds held, invoices and dead letters, and place or release a
fraud hold, post a goodwill credit, change the plan from the next period (among the plans sold,
``plans``), set the customer's language, decide the account's disputes (R19), or send an
account's dead-lettered events again, from the page; answer every open dispute from one queue
(``/console/disputes``); and read the plans'
prices with every version of the settings that priced them (``/console/plans``); and answer
customers' erasure requests, erasing or declining with a reason (``/console/erasure-requests``, R32).

An operator signs in with their API token (``operator``: sees and acts; ``finance``: sees). The
token itself is never kept in the browser: the session cookie is a signed, expiring token of
the scope (``streams/api/links.py``), valid for a working day. The actions are the API's
commands, idempotent by a key each form carries.
"""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from projections.money import parse_decimal_micros
from streams.api import access, dispute_routes, erasure_routes, pages, read_model as rm, statements
from streams.api.context import Context, command, context
from streams.api.problems import PageRefused, Problem
from streams.api.read_routes import STATUSES, account_view, versions_of
from streams.api.worker_routes import held_on_worker
from streams.api.plans import catalogue, price_lines
from streams.api.portal_words import language_choices, language_name
from streams.edge import commands
from streams.ledger import erasure_queue

router = APIRouter(prefix="/console", include_in_schema=False)
ID_CHARS = r"^[A-Za-z0-9._:-]*$"
COOKIE = "vl_console"
DISPUTE_ID = re.compile(r"dispute:[0-9a-f]{32}")  # as commands make them (streams/edge/commands.py)
SESSION_S = 12 * 3600


def operator(request: Request, ctx: Context = Depends(context)) -> str:
    scope = pages.session_scope(ctx, request, COOKIE)
    if scope not in (access.OPERATOR, access.FINANCE):
        raise PageRefused(RedirectResponse("/console/login", status_code=303))
    return scope


@router.get("/login")
def login_form() -> Response:
    return pages.page("console_login.html", title="Sign in")


@router.post("/login")
async def login(request: Request, ctx: Context = Depends(context)) -> Response:
    fields = await pages.form(request) or {}
    scope = access.scope_of(ctx.tokens, "Bearer " + fields.get("token", "")[:512])
    if ctx.signer is None:
        return pages.message("Console off", "Set portal_secret_file to sign the console's sessions.", 503)
    if scope not in (access.OPERATOR, access.FINANCE):
        return pages.page("console_login.html", 401, title="Sign in", refused=True)
    response = RedirectResponse("/console", status_code=303)
    pages.set_session(response, request, COOKIE, ctx.signer.token(scope, int(time.time()) + SESSION_S), "/console",
                      SESSION_S)
    return response


PAGE = 50
ANSWERED_SHOWN = 50


@router.get("")
def search(q: str = Query("", max_length=64, pattern=ID_CHARS), status: str = Query("", pattern=f"^({STATUSES})?$"),
           owing: bool = False, after: str = Query("", max_length=64, pattern=ID_CHARS),
           scope: str = Depends(operator), ctx: Context = Depends(context)) -> Response:
    """An id prefix alone opens the one account it finds; otherwise the accounts it, a status and
    owing select are listed a page at a time (as GET /v1/accounts lists them)."""
    if q and not (status or owing or after):
        found = rm.find_accounts(ctx.reader, q, limit=2)
        if len(found) == 1:
            return RedirectResponse(f"/console/accounts/{found[0].account_id}", status_code=303)
    found = rm.list_accounts(ctx.reader, rm.AccountFilter(status=status, prefix=q, owing=owing), after, PAGE + 1)
    more = found[PAGE - 1].account_id if len(found) > PAGE else ""
    return pages.page("console_search.html", title="Accounts", q=q, scope=scope, accounts=found[:PAGE],
                      statuses=STATUSES.split("|"), chosen=status, owing=owing, more=more)


@router.get("/plans")
async def plans(scope: str = Depends(operator), ctx: Context = Depends(context)) -> Response:
    """The plans and their prices as the worker folds with them, and every version of those
    settings recorded on the log: when, by whom, why, and what was changed in force."""
    return pages.page("console_plans.html", title="Plans and prices", scope=scope,
                      plans=[price_lines(p) for p in catalogue(ctx.settings).plans],
                      versions=(await versions_of(ctx))[::-1])


@router.get("/erasure-requests")
async def erasure_requests(request: Request, notice: str = Query("", max_length=300), scope: str = Depends(operator),
                           ctx: Context = Depends(context)) -> Response:
    """R32: the requests waiting for an answer, the one due first first, and the last answered."""
    found = await erasure_routes.queue_of(ctx)
    now_ms = int(time.time() * 1000)
    views = [erasure_routes.view(s, now_ms) for s in sorted(found.values(), key=lambda s: s.request.due_at_ms)]
    answered = sorted((v for v in views if v.outcome), key=lambda v: v.answered_at or "", reverse=True)
    return pages.page("console_erasures.html", title="Erasure requests", scope=scope, notice=notice,
                      waiting=[v for v in views if not v.outcome], answered=answered[:ANSWERED_SHOWN],
                      operator=scope == access.OPERATOR, reviewed=ctx.settings.portal_erasure == "reviewed",
                      csrf=ctx.signer.csrf(request.cookies.get(COOKIE, "")))


@router.post("/erasure-requests/{request_id}")
async def answer_erasure(request: Request, request_id: str, scope: str = Depends(operator),
                         ctx: Context = Depends(context)) -> Response:
    """Erase, or decline with a reason; a refusal (answered already, no reason) is said on the page."""
    fields = await pages.form(request)
    if scope != access.OPERATOR or fields is None or not pages.csrf_ok(ctx, request, COOKIE, fields):
        return pages.message("Not done", "Only an operator may act, from a fresh page.", 403, base="console_base.html")
    outcome, reason = fields.get("outcome", "")[:16], fields.get("reason", "")[:600]
    try:
        done = await run_in_threadpool(erasure_routes.refused_as_problems, lambda: erasure_queue.answer(
            ctx.settings, request_id[:64], outcome, reason, "console:operator"))
        erasure_routes.forget_key(ctx, done)
        notice = (f"{request_id}: erased, {done.erasure.call_log_rows_anonymised} call-log rows anonymised"
                  if done.erasure else f"{request_id}: declined; the customer's portal shows the reason")
    except Problem as exc:
        notice = f"{request_id[:64]}: not answered: {exc.detail}"
    return RedirectResponse(f"/console/erasure-requests?notice={quote(notice[:300])}", status_code=303)


@router.get("/disputes")
def disputes(request: Request, notice: str = Query("", max_length=300), scope: str = Depends(operator),
             ctx: Context = Depends(context)) -> Response:
    """R19: every dispute waiting for an answer, the oldest first, each decided from its row."""
    waiting = dispute_routes.views(ctx.reader, rm.open_disputes(ctx.reader))
    return pages.page("console_disputes.html", title="Disputes", scope=scope, operator=scope == access.OPERATOR,
                      disputes=waiting, notice=notice, key=pages.new_key(), in_currency=pages.money_of,
                      csrf=ctx.signer.csrf(request.cookies.get(COOKIE, "")))


@router.get("/accounts/{account_id}")
def account(request: Request, account_id: str, notice: str = Query("", max_length=200),
            scope: str = Depends(operator), ctx: Context = Depends(context)) -> Response:
    row = rm.account(ctx.reader, account_id[:64])
    held = held_on_worker(ctx, row.account_id)
    letters = [{"source": f"{t}/{p}/{o}/{i}", "reason_code": c, "reason": r, "logged_at": statements.iso(at)}
               for t, p, o, i, c, r, at in rm.dead_letters(ctx.reader, row.account_id)]
    return pages.page("console_account.html", currency=row.currency, title=row.account_id, scope=scope,
                      account=account_view(row), held=held, operator=scope == access.OPERATOR, notice=notice,
                      invoices=statements.summaries(ctx.reader, row.account_id, rm.invoices(ctx.reader, row.account_id)),
                      dead_letters=letters, key=pages.new_key(), csrf=ctx.signer.csrf(request.cookies.get(COOKIE, "")),
                      plans=[p for p in ctx.settings.plans if p != row.plan],
                      disputes=dispute_routes.views(ctx.reader, rm.disputes(ctx.reader, row.account_id)),
                      in_currency=pages.money_of,
                      languages=language_choices(row.locale or ctx.settings.invoice_locale))


@router.post("/accounts/{account_id}/{action}")
async def act(request: Request, account_id: str, action: str, scope: str = Depends(operator),
              ctx: Context = Depends(context)) -> Response:
    fields = await pages.form(request)
    if scope != access.OPERATOR or fields is None or not pages.csrf_ok(ctx, request, COOKIE, fields):
        return pages.message("Not done", "Only an operator may act, from a fresh page.", 403, base="console_base.html")
    return await run_in_threadpool(_act, ctx, account_id[:64], action, fields)


def _act(ctx: Context, account_id: str, action: str, fields: dict[str, str]) -> Response:
    row = rm.account(ctx.reader, account_id)
    key = "console:" + fields.get("key", "")[:64]
    if action == "hold":
        move = fields.get("action", "hold")
        event = command(lambda: commands.status_change(move if move in ("hold", "release") else "", account_id,
                                                       fields.get("case_ref", "")[:128], key))
        done = f"Fraud {'hold placed' if move == 'hold' else 'hold released'}"
    elif action == "credit":
        micros = command(lambda: -parse_decimal_micros(fields.get("amount", "")[:16]))
        event = command(lambda: commands.adjustment(account_id, micros, row.currency, "goodwill",
                                                    fields.get("reason", "")[:256], key))
        done = f"Credit of {fields.get('amount', '')} {row.currency} posted"
    elif action == "plan":
        plan = fields.get("plan", "")[:64]
        event = command(lambda: commands.plan_change(account_id, plan, key, plans=ctx.settings.plans))
        done = f"Plan {plan} from the next period (R21)"
    elif action == "credit-limit":  # R10: empty gives the account its plan's limit again
        text = fields.get("limit", "").strip()[:16]
        limit = command(lambda: parse_decimal_micros(text)) if text else None
        event = command(lambda: commands.credit_limit(account_id, limit, row.currency, fields.get("reason", "")[:256],
                                                      key))
        done = f"Credit limit {text} {row.currency} from now on" if text else "The plan's credit limit from now on"
    elif action == "language":  # any language Babel knows; the choices offered are those with words
        locale = fields.get("locale", "").strip()[:16]
        event = command(lambda: commands.language(account_id, locale, key))
        done = f"Invoices and portal in {language_name(locale) or locale} from the next invoice"
    elif action == "dispute":  # R19: for the customer, a credit note of the credit; for the provider, nothing
        event, done = _decided(ctx, row, fields, key)
    elif action == "redrive":
        return _redrive(ctx, account_id, fields.get("reason", "")[:64])
    else:
        return pages.message("Unknown action", f"No action {action[:20]!r}.", 404, base="console_base.html")
    answer = ctx.submit(event, key)
    notice = f"{done} ({answer.event_id}); the page shows it once the worker has folded it."
    back = "/console/disputes" if fields.get("back") == "disputes" else f"/console/accounts/{account_id}"
    return RedirectResponse(f"{back}?notice={quote(notice)}", status_code=303)


def _decided(ctx: Context, row: rm.AccountRow, fields: dict[str, str], key: str) -> tuple[object, str]:
    """A dispute's resolution from its form, and what the notice says of it. The dispute must be
    open on the account and a credit at most its amount: refused here, with the reason, rather
    than sent for the worker to dead-letter while the page says "decided"."""
    dispute_id, outcome = fields.get("dispute_id", "")[:64], fields.get("outcome", "")[:20]
    open_ones = {d.dispute_id: d for d in rm.disputes(ctx.reader, row.account_id) if not d.outcome}
    if not DISPUTE_ID.fullmatch(dispute_id) or dispute_id not in open_ones:
        raise Problem(422, "unknown-dispute", f"no open dispute {dispute_id!r} on {row.account_id}")
    favour = outcome == "CUSTOMER_FAVOUR"
    credit = command(lambda: parse_decimal_micros(fields.get("credit", "")[:16])) if favour else 0
    if credit > open_ones[dispute_id].amount_micros:
        raise Problem(422, "credit-exceeds-dispute", f"a credit of {fields.get('credit', '')[:16]} {row.currency} is "
                                                     f"more than the amount disputed (R19)")
    event = command(lambda: commands.dispute_resolution(row.account_id, dispute_id, outcome, credit, row.currency, key))
    said = f"a credit note of {fields.get('credit', '')[:16]} {row.currency}" if favour else "for the provider"
    return event, f"Dispute {dispute_id} decided: {said}"


def _redrive(ctx: Context, account_id: str, reason: str) -> Response:
    """The account's events dead-lettered for ``reason`` sent to the log again, as
    ``voiceledger dead-letters redrive --reason R --account A`` does (streams/ledger/dead_letters.py)."""
    from streams.ledger.dead_letters import read_letters, redrive

    async def read_and_send() -> tuple[list, int]:
        letters = await read_letters(ctx.settings, reason, account_id=account_id) if reason else []
        return letters, await redrive(ctx.settings, letters)

    letters, sent = asyncio.run(read_and_send())  # one event loop for both (this is a worker thread)
    notice = (f"{sent} events of {len(letters)} {reason} dead letters sent again; the page shows what the worker "
              "makes of them once it has folded them.")
    return RedirectResponse(f"/console/accounts/{account_id}?notice={quote(notice)}", status_code=303)

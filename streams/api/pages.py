"""What the portal's and the console's server-rendered pages share: the templates (Jinja2,
escaping every value), amounts as people read them, sessions in signed cookies, form tokens,
and bounded form bodies.

Pages are rendered on the server, with no script: they work in any browser, a screen reader
reads them, and there is no second client to keep in step with the API. Both page sets call the
same read model and the same commands as the API's JSON routes.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from projections.invoicing import MINOR_UNIT_MICROS, format_minor, round_half_away
from streams.api.context import Context
from streams.api.portal_words import PORTAL_WORDS
from streams.documents.invoice import ISSUER_NAME, money
from streams.documents.wording import ENGLISH, language_of

FORM_BYTES_MAX = 8 * 1024
TEMPLATES = Environment(loader=PackageLoader("streams.api", "templates"), autoescape=select_autoescape(["html"]))


def money_of(currency: str, locale: str = ENGLISH):  # noqa: ANN201 - a formatter for templates
    """Micro-units as the page prints them: rounded half away from zero to the minor unit; in
    another language than English, as its locale writes numbers (``1 234,50``)."""
    known = currency if currency in MINOR_UNIT_MICROS else "USD"  # a page never fails on a currency
    if language_of(locale) == ENGLISH:
        return lambda micros: format_minor(round_half_away(int(micros), MINOR_UNIT_MICROS[known]), known)
    return lambda micros: money(int(micros), known, locale, with_currency=False)


def page(template: str, status: int = 200, currency: str = "USD", locale: str = ENGLISH,
         **values: object) -> HTMLResponse:
    """``locale``: the portal's pages are in the customer's language (theirs, else ``invoice_locale``), the
    console's in English (``t`` and ``label`` give their words: streams/api/portal_words.py)."""
    html = TEMPLATES.get_template(template).render(
        issuer=ISSUER_NAME, money=money_of(currency, locale), t=PORTAL_WORDS.wording(locale),
        label=PORTAL_WORDS.label(locale), lang=language_of(locale), **values)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store",
                                                           "Content-Language": language_of(locale),
                                                           "Content-Security-Policy": "default-src 'self'; "
                                                           "style-src 'unsafe-inline'; form-action 'self'"})


def message(title: str, text: str, status: int, base: str = "base.html", kind: str = "refused",
            back: str = "", locale: str = ENGLISH, **values: object) -> HTMLResponse:
    return page("message.html", status, locale=locale, base=base, title=title, message=text, kind=kind, back=back,
                **values)


# The problems a customer's page can meet, as the customer reads them: (title, text)
PORTAL_PROBLEMS = {"unknown-account": ("Account not available yet", "Your account is not ready yet. Try again in a few "
                                                                    "minutes."),
                   "unknown-invoice": ("No such invoice", "Your account has no invoice {number}.")}


def problem_page(request: Request, exc) -> HTMLResponse:  # noqa: ANN001 - a Problem
    """A problem met while rendering a page, as a page saying it: on the portal, in the customer's
    language where the catalogue has it; on the console, as the API says it."""
    account_id = getattr(request.state, "account_id", "")
    if not request.url.path.startswith("/portal"):
        return message(exc.kind.replace("-", " ").capitalize(), exc.detail, exc.status, base="console_base.html",
                       account_id=account_id)
    ctx = request.app.state.context  # the customer's language (the deployment's with ClickHouse away)
    locale = ctx.locale_of(account_id) if account_id else ctx.settings.invoice_locale
    t = PORTAL_WORDS.wording(locale)
    title, text = PORTAL_PROBLEMS.get(exc.kind, (None, None))
    path = request.url.path
    if title is None or (exc.kind == "unknown-invoice" and not path.startswith("/portal/invoices/")):
        # not one the catalogue words (an invoice named by a form, not by the page's address): as the API says it
        return message(exc.kind.replace("-", " ").capitalize(), exc.detail, exc.status, base="portal_base.html",
                       locale=locale, account_id=account_id)
    number = path.removeprefix("/portal/invoices/").removesuffix("/pdf")[:128]
    return message(t(title), t(text).format(number=number), exc.status, base="portal_base.html", locale=locale,
                   account_id=account_id)


def session_scope(ctx: Context, request: Request, cookie: str) -> str | None:
    """The scope of the signed session cookie, None without a valid, unexpired one."""
    if ctx.signer is None:
        return None
    found = ctx.signer.scope_of(request.cookies.get(cookie))
    return None if found is None else found[0]


def set_session(response: HTMLResponse, request: Request, cookie: str, token: str, path: str, max_age_s: int) -> None:
    response.set_cookie(cookie, token, max_age=max_age_s, path=path, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


async def form(request: Request) -> dict[str, str] | None:
    """A posted form's fields (the first value of each); None for a body too large to be a form."""
    body = await request.body()
    if len(body) > FORM_BYTES_MAX:
        return None
    try:
        return {k: v[0] for k, v in parse_qs(body.decode(), max_num_fields=20).items()}
    except (UnicodeDecodeError, ValueError):
        return None


def csrf_ok(ctx: Context, request: Request, cookie: str, fields: dict[str, str]) -> bool:
    session = request.cookies.get(cookie, "")
    return ctx.signer is not None and bool(session) and secrets.compare_digest(
        fields.get("csrf", ""), ctx.signer.csrf(session))


def new_key() -> str:
    """A form's idempotency key: a form sent twice (a double click, a reload) is one command."""
    return secrets.token_hex(16)

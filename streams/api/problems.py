"""One error shape everywhere (issue 19): ``application/problem+json`` (RFC 9457), with a
stable ``type`` per error, so an integrator branches on ``type`` and never parses a message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

BASE = "https://voiceledger.dev/problems/"
TITLES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
          409: "conflict", 413: "too-large", 422: "invalid-request", 503: "unavailable"}


class Problem(Exception):
    """An error to answer with: its status, a stable type, a one-line detail."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


class PageRefused(Exception):
    """A page's refusal, already rendered (the portal's and the console's, streams/api/pages.py)."""

    def __init__(self, response) -> None:  # noqa: ANN001 - an HTMLResponse
        super().__init__(response.status_code)
        self.response = response


PAGE_PREFIXES = ("/portal", "/console")


def problem(status: int, kind: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": BASE + kind, "title": kind.replace("-", " "), "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def install(app: FastAPI, page=None) -> None:  # noqa: ANN001 - (request, problem) -> a page
    """Every error the app can give, as a problem; on the pages (``PAGE_PREFIXES``), as the page
    ``page`` renders."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):  # noqa: ANN202 - JSON, or a page for the pages
        if page is not None and request.url.path.startswith(PAGE_PREFIXES):
            return page(request, exc)
        return problem(exc.status, exc.kind, exc.detail)

    @app.exception_handler(PageRefused)
    async def _page(_: Request, exc: PageRefused):  # noqa: ANN202 - the rendered page
        return exc.response

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, TITLES.get(exc.status_code, "error"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        first = fields[0] if fields else {"field": "", "message": "invalid"}
        return problem(422, "invalid-request", f"{first['field']}: {first['message']}", errors=fields)

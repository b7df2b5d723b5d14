"""``voiceledger api``'s application (issue 19): the versioned JSON API under ``/v1`` (commands,
reads, authorizations; OpenAPI 3.1 at ``/v1/openapi.json``), the customer portal at ``/portal``
and the operator console at ``/console``.

Commands go to the log (``command_routes.py``), reads come from ClickHouse
(``read_routes.py``, ``read_model.py``), authorizations go to the worker that owns the account
(``worker_routes.py``). The process keeps no state of its own but the idempotency records of
the commands it sent, so any number of them can run behind a load balancer.
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from streams.api import (
    call_routes, command_routes, console, dispute_routes, erasure_routes, pages, portal, problems, read_routes,
    worker_routes,
)
from streams.api.context import Context
from streams.api.links import Signer
from streams.api.log_writer import LogWriter
from streams.api.read_model import Reader
from streams.config.settings import Settings

BODY_BYTES_MAX = 64 * 1024  # a command is a few hundred bytes


def build_app(settings: Settings, tokens: dict[str, str]) -> FastAPI:
    app = FastAPI(title="voiceledger", version="1", openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None)
    signer = Signer.from_file(settings.portal_secret_file) if settings.portal_secret_file else None
    app.state.context = Context(settings, tokens, Reader.of(settings), LogWriter(settings), signer)
    problems.install(app, page=pages.problem_page)

    @app.middleware("http")
    async def bounded(request: Request, call_next):  # noqa: ANN001, ANN202 - Starlette's middleware shape
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > BODY_BYTES_MAX:
            return problems.problem(413, "too-large", f"a request body is at most {BODY_BYTES_MAX} bytes")
        return await call_next(request)

    routers = (command_routes.router, erasure_routes.router, read_routes.router, call_routes.router,
               dispute_routes.router, worker_routes.router, portal.router, console.router)
    for router in routers:
        app.include_router(router)
    return app

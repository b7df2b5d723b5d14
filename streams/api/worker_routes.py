"""What the API asks of the workers: the authorization of a call (R10), which places a hold and
so must run where the account's newest balance is, on the worker that owns it, and the funds
held there. Any worker may be named (``worker_url``): one that does not own the account
answers ``307`` to the one that does, and the API follows, the body included.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from streams.api import access
from streams.api.command_routes import ACCOUNT, ERRORS
from streams.api.context import Context, caller, context, must
from streams.api.models import AuthorizationAnswer, AuthorizationRequest
from streams.api.problems import Problem

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["authorization"])
FORWARD_TIMEOUT_S = 5
WORKER_HOPS_MAX = 3


@router.post("/accounts/{account_id}/authorizations", response_model=AuthorizationAnswer)
async def authorize(body: AuthorizationRequest, request: Request, account_id: str = ACCOUNT,
                    who: str = Depends(caller), ctx: Context = Depends(context)) -> AuthorizationAnswer:
    """R10: may this call start, and for how long? A yes holds the funds for its longest
    duration until its CDR is folded. A refusal is an answer (``allowed: false`` and why)."""
    must(who in (access.SWITCH, access.OPERATOR))
    if not ctx.settings.worker_url:
        raise Problem(503, "worker-unavailable", "no worker_url is configured: authorizations run on the workers")
    status, answer = await run_in_threadpool(forward, ctx.settings.worker_url, "POST",
                                             f"/v1/accounts/{account_id}/authorizations",
                                             body.model_dump(exclude_none=True), request.headers.get("Authorization", ""))
    if status == 404:
        raise Problem(404, "unknown-account", f"the worker does not know account {account_id}")
    if status != 200:
        raise Problem(503, "worker-unavailable", f"the worker answered {status}")
    return AuthorizationAnswer(**{k: answer.get(k) for k in AuthorizationAnswer.model_fields})


def held_on_worker(ctx: Context, account_id: str) -> int | None:
    """What authorizations hold on the account's worker; None when none is configured or answers.
    The API asks as an operator (whoever its caller is, it has already checked their scope)."""
    if not ctx.settings.worker_url:
        return None
    try:
        status, body = forward(ctx.settings.worker_url, "GET", f"/v1/accounts/{account_id}/holds", None,
                               _operator_authorization(ctx))
    except Problem:
        return None
    return int(body["held_micros"]) if status == 200 else None


def forward(base: str, method: str, path: str, body: dict | None, authorization: str) -> tuple[int, dict]:
    """A request to a worker, following its redirects to the owner of the account."""
    url = base.rstrip("/") + path
    for _ in range(WORKER_HOPS_MAX):
        request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": authorization, "Content-Type": "application/json"})
        try:
            with _NO_REDIRECTS.open(request, timeout=FORWARD_TIMEOUT_S) as response:
                return response.status, json.loads(response.read(65_536))
        except urllib.error.HTTPError as exc:
            if exc.code in (307, 308) and exc.headers.get("Location"):
                url = exc.headers["Location"]
                continue
            try:
                return exc.code, json.loads(exc.read(65_536))
            except ValueError:
                return exc.code, {}
        except (OSError, ValueError) as exc:
            raise Problem(503, "worker-unavailable", f"the worker did not answer: {type(exc).__name__}") from None
    raise Problem(503, "worker-unavailable", "the workers redirected too often (a rebalance in progress?)")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - urllib's signature
        return None  # the caller follows a 307 itself, with the body


_NO_REDIRECTS = urllib.request.build_opener(_NoRedirect)


def _operator_authorization(ctx: Context) -> str:
    token = next((t for t, s in ctx.tokens.items() if s == access.OPERATOR), "")
    return f"Bearer {token}" if token else ""

"""The authorization endpoint (R10), served by every worker for the accounts it owns.

``GET /authorize?account=ID&callee=NUMBER&call=CARRIER/CALL_ID[&at=EPOCH_MS][&quota_s=N]``
(and ``GET /statement?account=ID[&month=YYYY-MM]``, R20, the same routing and tokens)
answers ``200`` with JSON: ``allowed``, ``max_duration_s``, ``reason``, ``held_micros``,
``held_included_s`` (R4 minutes the call may use, held like its charge), ``destination``,
``rate_micros_per_minute``, ``available_micros``. A refusal is a ``200`` with
``allowed: false`` and the reason: it is an answer, not an error. ``POST /release?account=&call=``
drops a hold early (a call that failed before a CDR). With ``api_tokens_file`` set, every
request needs a bearer token scoped to its account (``401`` without, ``403`` for another
account; streams/config/tokens.py, R35). Bad parameters get ``400``; an unknown
account ``404``; a worker that does not own the account's partition answers ``307`` to the
one that does (Faust's partition assignor knows every worker's URL, ``canonical_url``); a
worker not yet assigned answers ``503``.

In a worker the server runs in a process of its own (``streams/authorization/``), fed the
states the fold writes, so a batch being folded never holds the GIL a request needs; the class
itself is the plain threaded server that unit tests drive with their own ``load_state``.
Wall time enters here, at the edge: the request's ``at`` (default now) times the call and its
hold; the ledger's folds still take time only from events.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import date, datetime, timezone
from typing import Awaitable, Callable

from aiohttp import web

from projections.account import AccountState, FoldSettings
from projections.authorization import Authorization, authorize
from streams.config import tokens as api_tokens
from streams.observe import metrics
from streams.http.server import ThreadedHttpServer
from streams.documents.statement import StatementRefused, issued_from_state, statement
from streams.http.reservations import ReservationBook

log = logging.getLogger("voiceledger.authorization")

QUOTA_MAX_S = 4 * 3600
# ``at``: epoch milliseconds a calendar can hold (the last of 9999-12-31 UTC); beyond it the
# rating's calendar arithmetic would fail on a request's whim.
AT_MAX_MS = 253_402_300_799_999


class NotReady(Exception):
    """The worker does not know the partition assignment yet."""


class AuthorizationServer(ThreadedHttpServer):
    thread_name = "authorization-http"

    def __init__(self, host: str, port: int, book: ReservationBook, quota_s: int,
                 load_state: Callable[[str], AccountState | None], fold_settings: Callable[[], FoldSettings],
                 owner_url: Callable[[str], str | None], tokens: dict[str, str] | None = None,
                 bind_host: str = "127.0.0.1", ensure_state: Callable[[str], Awaitable[None]] | None = None) -> None:
        """``owner_url(account)``: the owner's base URL, None if this worker owns it; may raise NotReady.
        ``tokens``: token -> scope (streams/config/tokens.py); None leaves the API open.
        ``ensure_state(account)``: awaited before ``load_state`` reads it (the authorization
        process fetches a state it has not seen; streams/authorization/mirror.py); may raise NotReady."""
        super().__init__(port, bind_host)
        self.tokens = tokens
        self.host = host
        self.book, self.quota_s = book, quota_s
        self.load_state, self.fold_settings, self.owner_url = load_state, fold_settings, owner_url
        self.ensure_state = ensure_state

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._require_token] if self.tokens is not None else [])
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/release", self._release)
        app.router.add_get("/statement", self._statement)
        # The same, as voiceledger api documents it (issue 19): a POST, since it places a hold.
        app.router.add_post("/v1/accounts/{account}/authorizations", self._authorize_post)
        app.router.add_get("/v1/accounts/{account}/holds", self._holds)
        return app

    @web.middleware
    async def _require_token(self, request: web.Request, handler):  # noqa: ANN001, ANN202 - aiohttp's types
        """R35: a valid bearer token, scoped to the account asked about (streams/config/tokens.py)."""
        assert self.tokens is not None
        account = request.match_info.get("account") or request.query.get("account")
        status = api_tokens.check(self.tokens, request.headers.get("Authorization"), account)
        if status == 401:
            metrics.API_REFUSED.labels(status="401").inc()
            return web.json_response({"error": "a valid bearer token is required"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        if status == 403:
            metrics.API_REFUSED.labels(status="403").inc()
            return web.json_response({"error": "this token may not ask about this account"}, status=403)
        return await handler(request)

    async def _route(self, request: web.Request, account_id: str, with_state: bool = True) -> web.Response | None:
        """None when this worker answers for the account (its state at hand if ``with_state``),
        else the redirect to the owner or a 503."""
        try:
            owner = self.owner_url(account_id)
            if owner is None and with_state and self.ensure_state is not None:
                await self.ensure_state(account_id)
        except NotReady:
            return web.json_response({"error": "partition assignment not known yet; retry"}, status=503)
        if owner is None:
            return None
        raise web.HTTPTemporaryRedirect(owner.rstrip("/") + str(request.rel_url))

    async def _authorize(self, request: web.Request) -> web.Response:
        return await self._answer(request, request.query)

    async def _authorize_post(self, request: web.Request) -> web.Response:
        """``POST /v1/accounts/{account}/authorizations`` with ``{"callee", "call", "at"?,
        "quota_s"?}``: the authorization of ``GET /authorize``, under the API's path."""
        try:
            body = await request.json() if request.content_length and request.content_length <= 4096 else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "a JSON object of at most 4096 bytes with callee and call"}, status=400)
        fields = {k: str(v) for k, v in body.items() if k in ("callee", "call", "at", "quota_s") and v is not None}
        return await self._answer(request, {**fields, "account": request.match_info["account"]})

    async def _holds(self, request: web.Request) -> web.Response:
        account_id = request.match_info["account"]
        routed = await self._route(request, account_id, with_state=False)
        if routed is not None:
            return routed
        return web.json_response({"account": account_id, "held_micros": self.book.held(account_id, int(time.time() * 1000))})

    async def _answer(self, request: web.Request, q) -> web.Response:  # noqa: ANN001 - the query or a body's fields
        started = time.perf_counter()
        account_id, callee, call_key = q.get("account", ""), q.get("callee", ""), q.get("call", "")
        if not account_id or not callee or not call_key:
            return web.json_response({"error": "account, callee and call (carrier/call_id) are required"}, status=400)
        try:
            now_ms = int(time.time() * 1000)
            at_ms = int(q.get("at", now_ms))
            quota_s = int(q.get("quota_s", self.quota_s))
        except ValueError:
            return web.json_response({"error": "at and quota_s must be whole numbers"}, status=400)
        if not 1 <= quota_s <= QUOTA_MAX_S:
            return web.json_response({"error": f"quota_s must be between 1 and {QUOTA_MAX_S}"}, status=400)
        if not 0 <= at_ms <= AT_MAX_MS:
            return web.json_response({"error": f"at must be epoch milliseconds from 0 to {AT_MAX_MS}"}, status=400)
        routed = await self._route(request, account_id)
        if routed is not None:
            return routed
        answer = self.decide(account_id, callee, call_key, at_ms, now_ms, quota_s)
        if answer is None:
            return web.json_response({"allowed": False, "reason": "unknown_account"}, status=404)
        metrics.AUTHORIZATIONS.labels(reason=answer.reason).inc()
        metrics.AUTHORIZATION_LATENCY.observe(time.perf_counter() - started)
        body = asdict(answer)
        body["held_micros"] = body.pop("hold_micros") if answer.allowed else 0
        body["held_included_s"] = body.pop("hold_included_s") if answer.allowed else 0
        body["destination"] = body.pop("destination_prefix")
        body.pop("included_period")  # the book's, not the switch's
        return web.json_response(body)

    def decide(self, account_id: str, callee: str, call_key: str, at_ms: int, now_ms: int,
               quota_s: int) -> Authorization | None:
        """R10: the answer, and its hold. The state is read under the book's lock, with the holds:
        the fold writes an account's new state before it settles the holds of the calls in it,
        so a state read under the lock is either the old one with the call's hold still there, or
        the new one (charge in the balance) with or without the hold: never the old balance
        without the hold, which would let a request spend the same money twice."""
        settings = self.fold_settings()
        found: list[AccountState | None] = []

        def decide(held: int, held_included: dict[str, int]) -> Authorization:
            state = self.load_state(account_id)
            found.append(state)
            if state is None:
                return Authorization(False, 0, "unknown_account", 0)
            return authorize(state, callee, at_ms, held, quota_s, settings, held_included)

        answer = self.book.authorize(account_id, call_key, now_ms, quota_s, decide)
        return None if found and found[0] is None else answer

    async def _statement(self, request: web.Request) -> web.Response:
        """R20: ``GET /statement?account=ID[&month=YYYY-MM][&as_of=YYYY-MM-DD]``, from the state of
        the worker that owns the account (its memory of what it issued covers the four months)."""
        q = request.query
        account_id = q.get("account", "")
        if not account_id:
            return web.json_response({"error": "account is required"}, status=400)
        try:
            today = date.fromisoformat(q["as_of"]) if "as_of" in q else datetime.now(timezone.utc).date()
        except ValueError:
            return web.json_response({"error": "as_of must be YYYY-MM-DD"}, status=400)
        current = f"{today.year:04d}-{today.month:02d}"
        month = q.get("month", current)
        if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
            return web.json_response({"error": "month must be YYYY-MM"}, status=400)
        routed = await self._route(request, account_id)
        if routed is not None:
            return routed
        state = self.load_state(account_id)
        if state is None:
            return web.json_response({"error": "unknown_account"}, status=404)
        try:
            text = statement(account_id, month, current, state, issued_from_state(state))
        except StatementRefused as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"account": account_id, "month": month, "statement": text})

    async def _release(self, request: web.Request) -> web.Response:
        account_id, call_key = request.query.get("account", ""), request.query.get("call", "")
        if not account_id or not call_key:
            return web.json_response({"error": "account and call are required"}, status=400)
        routed = await self._route(request, account_id, with_state=False)
        if routed is not None:
            return routed
        return web.json_response({"released": self.book.settle(account_id, call_key)})

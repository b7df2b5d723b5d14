"""``voiceledger receive``: live CDRs over HTTP, as each call ends.

- ``POST /cdr/freeswitch``: what FreeSWITCH ``mod_json_cdr`` posts for each leg: the JSON object
  as the body, or a form with the JSON in its ``cdr`` field (``application/x-www-form-urlencoded``),
  values URL-encoded as the module writes them (``streams/edge/freeswitch.py``);
- ``POST /cdr/json``: one plain JSON CDR (``streams/edge/plain_json.py``);
- ``POST /cdr/json/lines``: up to ``LINES_MAX`` plain JSON CDRs, one per line (JSON Lines, as in a
  file), for a mediation system or a switch that posts calls in batches. Each line is answered on
  its own (``_lines``), and the good calls go to the log in envelopes at once;
- ``GET /healthz``: 200 while the receiver runs; ``GET /metrics``: its Prometheus metrics
  (``voiceledger_cdrs_received_total`` by outcome).

The answer comes only after the broker has acknowledged the record (``streams/edge/cdr_sink.py``).
Calls that arrive within a few milliseconds of each other share envelopes (``CallBatcher``), as
a file's calls do, so that a worker pays its per-message cost once per envelope:

- ``200`` ``{"call_key", "account_id", "direction"}``: the call is on the events topic;
- ``200`` ``{"billed": false, "reason": "b_leg"}``: a FreeSWITCH B leg (it names its A leg in
  ``originator``): the call is billed once, on its A leg, as in files (``streams/edge/assembly.py``);
- ``422`` ``{"rejected": CODE, "reason"}``: the record is on the dead-letter topic with its reason
  (``source_topic`` ``http:<carrier>``), never billed to a guess. mod_json_cdr keeps a refused
  record in its ``err-log-dir``, so it can be posted again once fixed (the directory, say);
- ``413`` for a body over ``BODY_BYTES_MAX``, ``401`` without a valid token (``api_tokens_file``:
  ``Authorization: Bearer TOKEN``, or HTTP Basic with the token as password, which is what
  mod_json_cdr's ``cred`` sends), ``503`` when the broker cannot take it: the switch retries.

The same call assembly rules, number directory and dead letters as file ingest apply. The
directory is the log's (the accounts changelog) with ``--directory`` over it, reloaded every
``DIRECTORY_REFRESH_S`` so that a newly opened account's numbers are found within a minute.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import Counter
from dataclasses import replace
from urllib.parse import parse_qs

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.config.settings import Settings
from streams.config.tokens import ANY_ACCOUNT, check
from streams.edge.cdr import CdrRejected, Parsed
from streams.edge.cdr_sink import CallBatcher, CdrSink
from streams.edge.freeswitch import read_json_cdrs
from streams.edge.ingest import log_directory
from streams.edge.plain_json import read_plain_json
from streams.edge.source import Source
from streams.edge.sealing import SealError
from streams.observe.metrics import CDRS_RECEIVED

BODY_BYTES_MAX = 1024 * 1024  # one CDR: mod_json_cdr's largest legs are tens of kilobytes
LINES_MAX = 1_000  # CDRs in one batch post (~250 kB of plain JSON): the answer lists each
UNSEALABLE = "the key store cannot seal this call's numbers; retry"
DIRECTORY_REFRESH_S = 60.0
log = logging.getLogger("voiceledger.receiver")


class CdrReceiver:
    def __init__(self, settings: Settings, source: Source, tokens: dict[str, str] | None = None) -> None:
        self.settings, self.source, self.tokens = settings, source, tokens
        self.sink = CdrSink(settings)
        self.batcher = CallBatcher(self.sink, settings.receiver_linger_ms / 1000)
        self.received = 0  # requests so far: a dead letter's source_offset
        self._refresh: asyncio.Task | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=BODY_BYTES_MAX)
        app.router.add_post("/cdr/freeswitch", self.freeswitch)
        app.router.add_post("/cdr/json", self.plain)
        app.router.add_post("/cdr/json/lines", self.plain_lines)
        app.router.add_get("/healthz", lambda _: web.json_response({"status": "ok"}))
        app.router.add_get("/metrics", _metrics)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, _: web.Application) -> None:
        await self.sink.start()
        await self._reload_directory()
        self._refresh = asyncio.create_task(self._refresh_directory())

    async def _stop(self, _: web.Application) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        await self.sink.stop()

    async def _reload_directory(self) -> None:
        directory = await log_directory(self.settings, self.source.directory)
        self._directory = directory

    async def _refresh_directory(self) -> None:
        while True:
            await asyncio.sleep(DIRECTORY_REFRESH_S)
            try:
                await self._reload_directory()
            except Exception:  # the broker is down: keep the directory we have, and say so
                log.warning("number directory not reloaded; keeping the previous one", exc_info=True)

    async def freeswitch(self, request: web.Request) -> web.Response:
        text = await self._body(request)
        if request.content_type == "application/x-www-form-urlencoded":
            text = (parse_qs(text).get("cdr") or [""])[0]
        return await self._one(text, read_json_cdrs)

    async def plain(self, request: web.Request) -> web.Response:
        return await self._one(await self._body(request), read_plain_json)

    async def _body(self, request: web.Request) -> str:
        if not self._authorized(request.headers.get("Authorization")):
            raise web.HTTPUnauthorized(text=json.dumps({"error": "a valid token is required"}),
                                       content_type="application/json")
        try:
            return (await request.read()).decode("utf-8", errors="replace")
        except web.HTTPRequestEntityTooLarge:
            CDRS_RECEIVED.labels("too_large").inc()
            raise

    def _authorized(self, header: str | None) -> bool:
        if self.tokens is None:
            return True
        if header and header.startswith("Basic "):  # mod_json_cdr's cred=user:TOKEN
            try:
                header = "Bearer " + base64.b64decode(header[6:]).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                return False
        return check(self.tokens, header, ANY_ACCOUNT) is None

    async def _one(self, text: str, reader) -> web.Response:  # noqa: ANN001 - a reader of streams/edge
        self.received += 1
        number, source = self.received, replace(self.source, directory=self._directory)
        try:
            records = list(reader(text, source.carrier_id, source.zone, source.directory, number))
        except Exception as exc:  # a reader must refuse, never raise: this keeps the receiver up if one does
            records = [Parsed(number, text[:4096], None, CdrRejected("unprocessable", type(exc).__name__))]
        parsed = records[0] if len(records) == 1 else Parsed(
            number, text[:4096], None, CdrRejected("one_cdr_per_request", f"{len(records)} records in one request"))
        try:
            return await self._answer(parsed, number)
        except SealError as exc:  # the key store, not the CDR: the switch keeps it and retries once it is mended
            CDRS_RECEIVED.labels("unavailable").inc()
            log.error("CDR %d not sealed: %s", number, exc)
            return web.json_response({"error": UNSEALABLE}, status=503)
        except Exception:  # the broker did not acknowledge: the switch keeps the CDR and retries
            CDRS_RECEIVED.labels("unavailable").inc()
            log.warning("CDR %d not acknowledged by the broker", number, exc_info=True)
            return web.json_response({"error": "the events topic is unavailable; retry"}, status=503)

    async def _answer(self, parsed: Parsed, number: int) -> web.Response:
        if parsed.cdr is not None and parsed.leg is not None and not parsed.leg.billed:
            CDRS_RECEIVED.labels("b_leg").inc()
            return web.json_response({"billed": False, "reason": "b_leg"})
        rejected = parsed.rejected if parsed.cdr is None else self.sink.unsendable(parsed.cdr)
        if rejected is not None:
            await self.sink.acknowledged([await self.sink.reject(f"http:{self.source.carrier_id}", number, parsed.raw,
                                                                 rejected)])
            CDRS_RECEIVED.labels("rejected").inc()
            return web.json_response({"rejected": rejected.code, "reason": str(rejected)}, status=422)
        cdr = replace(parsed.cdr, revision=self.source.revision) if self.source.revision else parsed.cdr
        await self.batcher.send(self.sink.seal(cdr))  # with the calls arriving beside it, in envelopes
        CDRS_RECEIVED.labels("produced").inc()
        return web.json_response({"call_key": cdr.call_key, "account_id": cdr.account_id,
                                  "direction": cdr.direction.value.lower()})

    async def plain_lines(self, request: web.Request) -> web.Response:
        """A batch of plain JSON CDRs, one per line: ``200`` with each line's answer, in order
        (``_lines``), once the broker has acknowledged every call and dead letter of it; ``413``
        over ``LINES_MAX`` lines (nothing is sent: split the batch); ``503`` when the broker did
        not acknowledge: post the whole batch again (the calls already on the log are duplicates
        the worker counts, never a second charge; a dead letter may then be written twice)."""
        text = await self._body(request)
        self.received += 1
        number, source = self.received, replace(self.source, directory=self._directory)
        lines = sum(1 for line in text.splitlines() if line.strip())
        if lines > LINES_MAX:
            CDRS_RECEIVED.labels("too_large").inc()
            return web.json_response({"error": f"{lines} lines: at most {LINES_MAX} CDRs, one a line, in one "
                                               "request"}, status=413)
        try:
            records = list(read_plain_json(text, source.carrier_id, source.zone, source.directory))
        except Exception as exc:  # a reader must refuse, never raise: the batch is one dead letter then
            records = [Parsed(0, text, None, CdrRejected("unprocessable", type(exc).__name__))]
        try:
            answers, outcomes = await self._lines(records, number)
        except Exception:  # the broker did not acknowledge: the caller posts the batch again
            CDRS_RECEIVED.labels("unavailable").inc(len(records))
            log.warning("batch %d not acknowledged by the broker", number, exc_info=True)
            return web.json_response({"error": "the events topic is unavailable; retry"}, status=503)
        for outcome, n in outcomes.items():
            CDRS_RECEIVED.labels(outcome).inc(n)
        return web.json_response({"produced": outcomes["produced"], "rejected": outcomes["rejected"],
                                  "retry": outcomes["unavailable"], "results": answers})

    async def _lines(self, records: list[Parsed], number: int) -> tuple[list[dict], Counter]:
        """Each line's answer, and how many of each outcome: ``{"line", "call_key", "account_id",
        "direction"}`` on the log; ``{"line", "rejected", "reason"}`` on the dead-letter topic
        (``source_offset`` the request, ``source_index`` the line); ``{"line", "error"}`` when the
        key store cannot seal it (post that line again once it is mended)."""
        answers, outcomes, calls, sends = [], Counter(), [], []
        for parsed in records:
            rejected = parsed.rejected if parsed.cdr is None else self.sink.unsendable(parsed.cdr)
            if rejected is not None:
                sends.append(await self.sink.reject(f"http:{self.source.carrier_id}", number, parsed.raw, rejected,
                                                    index=parsed.line))
                answers.append({"line": parsed.line, "rejected": rejected.code, "reason": str(rejected)})
                outcomes["rejected"] += 1
                continue
            cdr = replace(parsed.cdr, revision=self.source.revision) if self.source.revision else parsed.cdr
            try:
                calls.append(self.sink.seal(cdr))
            except SealError as exc:  # the key store, not the CDR: that line is posted again once mended
                log.error("CDR %d/%d not sealed: %s", number, parsed.line, exc)
                answers.append({"line": parsed.line, "error": UNSEALABLE})
                outcomes["unavailable"] += 1
                continue
            answers.append({"line": parsed.line, "call_key": cdr.call_key, "account_id": cdr.account_id,
                            "direction": cdr.direction.value.lower()})
            outcomes["produced"] += 1
        await self.sink.acknowledged(sends + await self.sink.calls(calls, sealed=True))
        return answers, outcomes


async def _metrics(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def serve(settings: Settings, source: Source, host: str, port: int, tokens: dict[str, str] | None) -> None:
    """Run the receiver until SIGTERM or SIGINT (aiohttp stops it gracefully)."""
    web.run_app(CdrReceiver(settings, source, tokens).app(), host=host, port=port, print=None,
                handle_signals=True)

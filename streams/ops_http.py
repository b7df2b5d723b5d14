"""The worker's operations endpoint on ``metrics_port``: ``/metrics``, ``/healthz``, ``/readyz``.

- ``/metrics``: Prometheus text format (``streams/metrics.py``).
- ``/healthz``: 200 while the worker's event loop is alive (a Faust timer stamps it every few
  seconds), 503 once the stamp is older than ``STALE_S``: a wedged loop, which a liveness probe
  should restart. A long batch does not count as wedged (ClickHouse retries run off the loop).
- ``/readyz``: 200 once the worker has partitions assigned and no table recovery is running,
  503 with the reason before that (a readiness probe keeps traffic, such as authorization
  requests, away until then).

It runs on its own thread and event loop, like the authorization endpoint, so it answers while
a batch is being folded.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

STALE_S = 60.0


class OpsServer:
    def __init__(self, port: int, health: Callable[[], tuple[bool, str]], ready: Callable[[], tuple[bool, str]]) -> None:
        self.port, self.health, self.ready = port, health, ready
        self._ready_event = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        threading.Thread(target=self._run, name="ops-http", daemon=True).start()
        self._ready_event.wait(30)
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._probe(self.health))
        app.router.add_get("/readyz", self._probe(self.ready))
        runner = web.AppRunner(app, access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "0.0.0.0", self.port, reuse_address=True).start())
        except BaseException as exc:  # a port in use: the worker must fail at start, loudly
            self._error = exc
            self._ready_event.set()
            return
        self._ready_event.set()
        loop.run_forever()

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @staticmethod
    def _probe(check: Callable[[], tuple[bool, str]]):  # noqa: ANN205 - an aiohttp handler
        async def handler(request: web.Request) -> web.Response:
            ok, reason = check()
            return web.json_response({"status": "ok" if ok else "unavailable", "reason": reason},
                                     status=200 if ok else 503)
        return handler

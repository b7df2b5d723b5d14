"""The worker's operations endpoint on ``metrics_port``: ``/metrics``, ``/healthz``, ``/readyz``.

- ``/metrics``: Prometheus text format (``streams/observe/metrics.py``).
- ``/healthz``: 200 while the worker's event loop is alive (a Faust timer stamps it every few
  seconds), 503 once the stamp is older than ``STALE_S``: a wedged loop, which a liveness probe
  should restart. A long batch does not count as wedged (ClickHouse retries run off the loop).
- ``/readyz``: 200 once the worker has partitions assigned and no table recovery is running,
  503 with the reason before that (a readiness probe keeps traffic, such as authorization
  requests, away until then).

It runs on its own thread and event loop (``streams/http/server.py``), like the authorization
endpoint, so it answers while a batch is being folded.
"""

from __future__ import annotations

from typing import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from streams.http.server import ThreadedHttpServer

STALE_S = 60.0


class OpsServer(ThreadedHttpServer):
    thread_name = "ops-http"

    def __init__(self, port: int, health: Callable[[], tuple[bool, str]], ready: Callable[[], tuple[bool, str]],
                 bind_host: str = "127.0.0.1") -> None:
        super().__init__(port, bind_host)
        self.health, self.ready = health, ready

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._probe(self.health))
        app.router.add_get("/readyz", self._probe(self.ready))
        return app

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @staticmethod
    def _probe(check: Callable[[], tuple[bool, str]]):  # noqa: ANN205 - an aiohttp handler
        async def handler(request: web.Request) -> web.Response:
            ok, reason = check()
            return web.json_response({"status": "ok" if ok else "unavailable", "reason": reason},
                                     status=200 if ok else 503)
        return handler

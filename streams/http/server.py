"""An aiohttp server on its own thread and event loop, for the worker's HTTP endpoints.

The worker's Faust loop folds batches; an endpoint on that loop would stall while a batch runs.
So each endpoint (authorization, operations) runs its own loop on a daemon thread. ``start``
returns once the port is bound and raises if it could not be (a port in use must fail the
worker at start, loudly).
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class ThreadedHttpServer:
    thread_name = "http"

    def __init__(self, port: int, bind_host: str = "127.0.0.1") -> None:
        self.port = port
        self.bind_host = bind_host  # loopback unless the settings say otherwise (http_bind_host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bound = threading.Event()
        self._error: BaseException | None = None
        self.bound: list[tuple] = []  # the addresses listened on, once started

    def build_app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> None:
        threading.Thread(target=self._run, name=self.thread_name, daemon=True).start()
        self._bound.wait(30)
        if self._error is not None:
            raise self._error

    def call_soon(self, callback, *args) -> None:  # noqa: ANN001 - any callable and its arguments
        """Run ``callback(*args)`` on the server's loop, between requests (from any thread)."""
        assert self._loop is not None, "the server is not started"
        self._loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        runner = web.AppRunner(self.build_app(), access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.bind_host, self.port, reuse_address=True)
            loop.run_until_complete(site.start())
            self.bound = [s.getsockname() for s in site._server.sockets]  # noqa: SLF001 - aiohttp has no API for it
        except BaseException as exc:  # a port in use: the worker must fail at start, loudly
            self._error = exc
            self._bound.set()
            return
        self._bound.set()
        loop.run_forever()

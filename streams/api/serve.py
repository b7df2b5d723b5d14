"""Run the API with uvicorn until SIGTERM or SIGINT, then exit 0 after a graceful stop (uvicorn
re-raises the signal it caught once it has stopped, which would make a clean stop look killed)."""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Iterator

import uvicorn

from streams.api.app import build_app
from streams.config.settings import Settings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(*_: object) -> None:
            self.should_exit = True

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _read_models(settings: Settings) -> None:
    """The ClickHouse tables the reads come from, as the worker would make them (idempotent); a
    ClickHouse that is down now only makes reads answer 503 until it is back."""
    from streams.clickhouse.client import connect
    from streams.clickhouse.migrations import migrate

    try:
        ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
        try:
            migrate(ch)
        finally:
            ch.close()
    except Exception as exc:  # noqa: BLE001 - any failure here is ClickHouse's; said in one line
        print(f"voiceledger api: ClickHouse not ready ({type(exc).__name__}); reads answer 503 until it is",
              file=sys.stderr, flush=True)


def serve(settings: Settings, tokens: dict[str, str], host: str, port: int) -> None:
    _read_models(settings)
    app = build_app(settings, tokens)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            limit_concurrency=256, timeout_graceful_shutdown=10)
    try:
        _Server(config).run()
    finally:
        app.state.context.log.close()

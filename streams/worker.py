"""Run one stream worker process: metrics endpoint, then the Faust worker until SIGTERM/SIGINT.

Faust's worker handles the signals: it stops the agent after its current batch, flushes the
producer, commits offsets and exits. Nothing is lost on a SIGKILL either (see ``streams/app.py``).
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import start_http_server

from streams.app import create_app
from streams.config import Settings
from streams.kafka_io import ensure_topics


def run_worker(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format='{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}')
    # Topics first, with the configured partition count: Faust would otherwise create the
    # events topic with its own default.
    asyncio.run(ensure_topics(settings))
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="0.0.0.0")
    app = create_app(settings)
    server = getattr(app, "voiceledger_authorization", None)
    if server is not None:
        server.start()  # its own thread: R10 answers while batches fold
    import faust

    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()

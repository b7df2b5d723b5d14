"""Run one stream worker process: metrics endpoint, then the Faust worker until SIGTERM/SIGINT.

Faust's worker handles the signals: it stops the agent after its current batch, flushes the
producer, commits offsets and exits. Nothing is lost on a SIGKILL either (see ``streams/worker/app.py``).
"""

from __future__ import annotations

import asyncio
import logging
import logging.config

from streams.observe import metrics
from streams.observe.logs import logging_config, quiet_client_libraries
from streams.http.ops import OpsServer

from streams.runtime import memory
from streams.worker.app import create_app
from streams.config.settings import Settings
from streams.worker import settings_log
from streams.kafka.topics import ensure_topics, require_kept_log


def _faust_worker_class():  # noqa: ANN202 - faust is imported late (see run_worker)
    import faust

    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            """No terminal spinner. To turn it, Faust sets the root logger to DEBUG at any level
            from WARN up (the default): every debug call of aiokafka and Faust then built a
            record for nothing, ~5% of the worker's thread under load (issue 22)."""
            self.spinner = None

    return Worker


def run_worker(settings: Settings) -> None:
    # Topics first, with the configured partition count: Faust would otherwise create the
    # events topic with its own default. Before the worker's logging: a broker that is not there
    # is one line from the command line, not a client's log of it first.
    asyncio.run(ensure_topics(settings))
    asyncio.run(require_kept_log(settings))  # the log is the source of truth: it must not expire
    # Nor may a price already folded change under it: a rebuild would differ (streams/config/versions.py).
    # Its read of the topic also says which settings fold each event: handed to the fold stage.
    _, digest, epochs = asyncio.run(settings_log.guarded(settings))
    # Checked at start only: workers of one group started with different files both run, so each
    # says which version it runs with, and an alert fires when they differ (VoiceledgerSettingsDiffer).
    metrics.SETTINGS_VERSION.labels(digest=digest[:12]).set(1)
    quiet_client_libraries(False)  # from here on the clients' logs are the worker's
    logging.config.dictConfig(logging_config(settings.log_level))  # JSON lines (streams/observe/logs.py)
    worker = create_app(settings, epochs=epochs)
    if settings.metrics_port:  # /metrics, /healthz, /readyz (streams/http/ops.py)
        OpsServer(settings.metrics_port, worker.health, worker.ready, settings.http_bind_host).start()
    if worker.authorization is not None:
        worker.authorization.start()  # its own process: R10 answers while batches fold (streams/authorization/)
    if worker.opening is not None:
        worker.opening.start()  # before the first batch, which would otherwise wait for it (streams/worker/opening.py)
    memory.take_over()  # garbage collected between batches only (streams/runtime/memory.py)
    _faust_worker_class()(worker.app, loglevel=settings.log_level, quiet=True,
                 logging_config=logging_config(settings.log_level)).execute_from_commandline()

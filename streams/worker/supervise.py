"""Running worker processes as a supervisor does (systemd, Kubernetes): start one with exactly
the given settings, wait until the group has committed what was produced, restart a worker that
stopped itself with exit 75 (a batch it could not complete, replayed on restart), stop it.

``voiceledger rebuild``, the demo, the benchmarks and the integration tests all run workers
this way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

from streams.config.settings import Settings
from streams.kafka.admin import committed_lag, committed_offsets
from streams.kafka.invoice_feed import numbering_lag
from streams.worker.exits import EXIT_BATCH_FAILED


class WorkerError(RuntimeError):
    """A supervised worker failed or did not finish in time; the message says which."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def worker_env(settings: Settings) -> dict[str, str]:
    """Every setting as a ``VOICELEDGER_*`` variable, so a worker process runs with exactly these."""
    env = dict(os.environ)
    for f in fields(Settings):
        value = getattr(settings, f.name)
        env["VOICELEDGER_" + f.name.upper()] = ",".join(value) if isinstance(value, tuple) else str(value)
    return env


def start_worker(settings: Settings, log_path: Path | None = None) -> subprocess.Popen:
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=worker_env(settings),
                            stdout=out, stderr=subprocess.STDOUT)


RESTARTS_MAX = 20  # a supervisor's patience with a worker that stops itself (exit 75); see streams/worker/sequence.py


def wait_until_committed(settings: Settings, worker: subprocess.Popen, timeout_s: float,
                         next_offsets: dict[int, int], show_progress: bool = True,
                         log_path: Path | None = None) -> subprocess.Popen:
    """Until the worker group has committed ``next_offsets``, and then everything the invoice
    numbering stage was sent; returns the worker then running.

    Like a supervisor (systemd, Kubernetes) in production, it restarts a worker that stopped
    itself with exit code 75 (a batch it could not complete safely, replayed on restart), at
    most ``RESTARTS_MAX`` times, when ``log_path`` is given. On a timeout it stops the worker
    then running before it raises, so no restarted worker is left behind.
    """
    deadline = time.monotonic() + timeout_s
    last_shown = -1
    restarts = 0
    total_messages = sum(next_offsets.values())
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            if worker.returncode == EXIT_BATCH_FAILED and log_path is not None and restarts < RESTARTS_MAX:
                restarts += 1
                say(f"  worker stopped itself (exit {EXIT_BATCH_FAILED}, see {log_path}); restarting it")
                worker = start_worker(settings, log_path)
                continue
            raise WorkerError(f"worker exited early with code {worker.returncode}")
        lag = asyncio.run(committed_lag(settings, next_offsets))
        done = total_messages - lag
        if show_progress and done != last_shown:
            say(f"  worker: {done}/{total_messages} messages committed")
            last_shown = done
        if lag == 0 and numbering_lag(settings) == 0:
            return worker
        time.sleep(0.5)
    # The caller holds the first worker only; a restarted one must not outlive this failure.
    stop_worker(worker)
    committed = asyncio.run(committed_offsets(settings, next_offsets.keys()))
    behind = {p: (committed.get(p), target) for p, target in sorted(next_offsets.items()) if committed.get(p, 0) < target}
    raise WorkerError(f"worker did not commit all messages within {timeout_s} s "
                    f"(partition: (committed, target) {behind})")


def stop_worker(worker: subprocess.Popen, timeout_s: float = 30) -> int:
    worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(timeout_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.wait()

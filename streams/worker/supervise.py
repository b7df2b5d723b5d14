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
from typing import NoReturn

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
    numbering stage was sent; returns the worker then running. One worker, at most ``timeout_s``
    in all: ``supervise_until_committed`` does the work."""
    return supervise_until_committed(settings, [worker], next_offsets, [log_path], timeout_s=timeout_s,
                                     show_progress=show_progress)[0]


def supervise_until_committed(settings: Settings, workers: list[subprocess.Popen], next_offsets: dict[int, int],
                              log_paths: list[Path | None], timeout_s: float | None = None,
                              stall_s: float | None = None, show_progress: bool = True,
                              progress_every_s: float = 0.0) -> list[subprocess.Popen]:
    """Until the group of ``workers`` has committed ``next_offsets`` and the numbering stage is
    drained; returns the workers then running.

    Like a supervisor (systemd, Kubernetes) in production, it restarts a worker that stopped
    itself with exit code 75 (a batch it could not complete safely, replayed on restart), at
    most ``RESTARTS_MAX`` times in all, when its log path is given. It gives up after
    ``timeout_s`` in all, or after ``stall_s`` in which nothing moved: a rebuild of a year of
    CDRs runs for hours, and only a group that stopped making progress is a failure. Either
    way it stops the workers then running before it raises, so none is left behind."""
    workers = list(workers)
    started = time.monotonic()
    total = sum(next_offsets.values())
    restarts, seen, moved_at, shown_at = 0, None, started, -progress_every_s
    while timeout_s is None or time.monotonic() - started < timeout_s:
        for n, worker in enumerate(workers):
            if worker.poll() is not None:
                restarts = _restart_or_raise(settings, workers, n, log_paths[n], restarts)
        lag = asyncio.run(committed_lag(settings, next_offsets))
        numbering = numbering_lag(settings) if lag == 0 else None
        now = time.monotonic()
        if (lag, numbering) != seen:
            seen, moved_at = (lag, numbering), now
            if show_progress and now - shown_at >= progress_every_s:
                say(_progress(total - lag, total, now - started))
                shown_at = now
        if numbering == 0:
            return workers
        if stall_s is not None and now - moved_at > stall_s:
            _give_up(settings, workers, next_offsets, f"nothing committed for {stall_s:.0f} s")
        time.sleep(0.5)
    _give_up(settings, workers, next_offsets, f"not all messages committed within {timeout_s} s")


def _progress(done: int, total: int, elapsed_s: float) -> str:
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    left = f", ~{(total - done) / rate / 60:.0f} min left" if 0 < rate and done < total else ""
    return f"  workers: {done}/{total} messages committed ({rate:,.0f}/s{left})"


def _restart_or_raise(settings: Settings, workers: list[subprocess.Popen], n: int, log_path: Path | None,
                      restarts: int) -> int:
    """Worker ``n`` has exited: start it again if it stopped itself (exit 75) and a supervisor
    would; returns the restarts so far. Any other exit stops the rest and raises."""
    worker = workers[n]
    if worker.returncode == EXIT_BATCH_FAILED and log_path is not None and restarts < RESTARTS_MAX:
        say(f"  worker stopped itself (exit {EXIT_BATCH_FAILED}, see {log_path}); restarting it")
        workers[n] = start_worker(settings, log_path)
        return restarts + 1
    for other in workers:
        if other is not worker and other.poll() is None:
            stop_worker(other)
    raise WorkerError(f"worker exited early with code {worker.returncode}")


def _give_up(settings: Settings, workers: list[subprocess.Popen], next_offsets: dict[int, int], why: str) -> NoReturn:
    # The caller holds the first workers only; a restarted one must not outlive this failure.
    for worker in workers:
        stop_worker(worker)
    committed = asyncio.run(committed_offsets(settings, next_offsets.keys()))
    behind = {p: (committed.get(p), target) for p, target in sorted(next_offsets.items()) if committed.get(p, 0) < target}
    raise WorkerError(f"workers gave up: {why} (partition: (committed, target) {behind})")


def stop_worker(worker: subprocess.Popen, timeout_s: float = 30) -> int:
    worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(timeout_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.wait()

"""Benchmark: N CDRs through the real pipeline (broker, worker process, ClickHouse); prints JSON.

Produces a simulated stream first, then starts the worker processes (one by default, one
group) and measures the steady rate: CDRs committed per second from the group's first commit to
its last (so Faust start-up and group join are reported separately, not averaged in). This is a
benchmark, not a test.

    python bench/pipeline.py --calls 200000 --envelope 200
    python bench/pipeline.py --engine server --workers 2      # what `make bench` runs
    python bench/pipeline.py --engine server --rebuild        # then `voiceledger rebuild`, timed
    python bench/pipeline.py --engine server --restart        # then a restart's recovery, timed
    python bench/pipeline.py --engine server --hourly-ticks   # an hourly tick on every partition, as the ticker sends

``--rebuild`` then runs what ``voiceledger rebuild`` runs (streams/ledger/selfcheck.py): one
fresh worker folds the whole log again into a new app id and ClickHouse database, and every
hash (states, journal, call log, invoices, numbers) is compared with the live one. It reports
the events folded per second, from the rebuild's start to its last commit, and with the hashes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from streams.kafka.producer import ENVELOPE_CDRS_MAX as ENVELOPE_MAX  # noqa: E402
from bench.calibration import calibration, ratio  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from bench.worker_metrics import scrape  # noqa: E402
from projections.events import CallDetailRecord  # noqa: E402
from projections import compiled  # noqa: E402
from schemas import avro_fast  # noqa: E402
from streams.config.settings import Settings  # noqa: E402
from streams.worker.supervise import start_worker, stop_worker, supervise_until_committed  # noqa: E402
from streams.dev.embedded import ClickHouseServer, EmbeddedBroker, free_port  # noqa: E402
from streams.kafka.admin import committed_lag, committed_offsets  # noqa: E402
from streams.kafka.topics import ensure_topics  # noqa: E402
from streams.edge.publish import produce_events  # noqa: E402
from streams.kafka.producer import publish_tick  # noqa: E402
from streams.dev.simulate import SimulationSpec, simulate  # noqa: E402

HOUR_MS = 3_600_000


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=within(1), default=200_000)
    p.add_argument("--accounts", type=within(1), default=5_000)
    p.add_argument("--envelope", type=within(1, ENVELOPE_MAX), default=200)
    p.add_argument("--partitions", type=within(1, 1_024), default=4)
    p.add_argument("--batch-messages", type=within(1, 1_000_000), default=2_000)
    p.add_argument("--engine", choices=["chdb", "server"], default="chdb")
    p.add_argument("--log-level", default="warning", help="info logs one line per batch to the worker log")
    p.add_argument("--broker-flavor", choices=["tansu", "kafka"], default="tansu",
                   help="'kafka' batches producer records (faster, but unsafe for restarts on Tansu)")
    p.add_argument("--no-seal", action="store_true", help="numbers in clear on the log (seal_personal_data off)")
    p.add_argument("--workers", type=within(1, 16), default=1, help="worker processes in one group (more than one needs "
                   "--engine server: a chDB path belongs to one process)")
    p.add_argument("--rebuild", action="store_true", help="then rebuild from the log, timed")
    p.add_argument("--rebuild-workers", type=within(1, 16), default=1,
                   help="worker processes of the rebuild (voiceledger rebuild --workers)")
    p.add_argument("--rebuild-feeds", action="store_true",
                   help="the rebuild's workers write ledger.entries and calls.rated, as rebuilds did before "
                        "publish_feeds: what leaving them out gives")
    p.add_argument("--restart", action="store_true", help="then start one worker again and time how long it takes "
                   "to fold a tick: the accounts changelog's recovery, which a restart waits for")
    p.add_argument("--hourly-ticks", action="store_true", help="each hour's events, then that hour's tick on every "
                   "partition (a tick reaches every account of its partition), as a live log has them")
    p.add_argument("--open-in-worker", action="store_true", help="each worker opens sealed numbers itself "
                   "(open_sealed_beside_fold off), as before that setting: what the opening process gives")
    p.add_argument("--authorization", action="store_true", help="each worker serves the authorization API (R10) "
                   "from its own process, fed every state the fold writes: what that feeding costs the fold")
    args = p.parse_args()
    if args.rebuild and args.engine != "server":
        p.error("--rebuild needs --engine server (the rebuild's hashes read both databases from this process)")
    if args.workers < 1 or args.workers > args.partitions:
        p.error("--workers must be between 1 and --partitions")
    if args.workers > 1 and args.engine != "server":
        p.error("--workers above 1 needs --engine server")
    return args


async def produce_hourly(settings: Settings, events: list, envelope_max: int) -> dict[int, int]:
    """The events in their order, each hour's tick on every partition as soon as an event of a
    later hour comes (a switch logs a call when it ends; a late copy may come after the tick, as
    in life); the offset after the last message, per partition."""
    offsets: dict[int, int] = {}

    async def sent(done: dict[int, int]) -> None:
        for partition, offset in done.items():
            offsets[partition] = max(offset, offsets.get(partition, 0))

    group: list = []
    hour = _logged_ms(events[0]) // HOUR_MS
    for event in events:
        if _logged_ms(event) // HOUR_MS > hour:
            await sent(await produce_events(settings, group, envelope_max=envelope_max))
            group = []
            for passed in range(hour + 1, _logged_ms(event) // HOUR_MS + 1):
                await sent(await publish_tick(settings, passed * HOUR_MS))
            hour = _logged_ms(event) // HOUR_MS
        group.append(event)
    await sent(await produce_events(settings, group, envelope_max=envelope_max))
    return offsets


def _logged_ms(event: object) -> int:
    """When the event's source logged it: a call at its end, any other at its time."""
    for name in ("end_at_ms", "occurred_at_ms", "received_at_ms"):
        if getattr(event, name, None):
            return getattr(event, name)
    return 0


def sealed_opened_by(ports: list[int]) -> dict[str, int]:
    """Sealed CDRs the workers' opening processes opened, and those the workers opened themselves
    (their chunk not back in time, or the setting off), from each worker's /metrics."""
    samples = [scrape(port) for port in ports]
    return {by: sum(int(s.get(f'voiceledger_sealed_cdrs_opened_total{{by="{by}"}}', 0)) for s in samples)
            for by in ("process", "worker")}


def wait_until_drained(settings: Settings, offsets: dict[int, int], workers: list, tmp: Path,
                       t_start: float) -> tuple[float, float | None, int]:
    """(done at, first progress at, lag at first progress): the workers' committed offsets, watched."""
    total = sum(offsets.values())
    first_progress = None
    lag_at_first = total
    while True:
        lag = asyncio.run(committed_lag(settings, offsets))
        now = time.perf_counter()
        if first_progress is None and lag < total:
            first_progress, lag_at_first = now, lag
        if lag == 0:
            return time.perf_counter(), first_progress, lag_at_first
        if any(w.poll() is not None for w in workers) or now - t_start > 1800:
            raise SystemExit(f"a worker failed; see {tmp}/worker-*.log")
        time.sleep(0.05)


def timed_rebuild(settings: Settings, server: ClickHouseServer, events: int, tmp: Path, workers: int = 1,
                  feeds: bool = False) -> dict:
    """``voiceledger rebuild`` of the log just folded, as ``selfcheck.refold`` then ``compare`` run
    it, timed in parts: all in (the worker's start, the fold, the hashes: what an operator waits
    for), the fold (start to last commit), its steady rate (first commit to last, as the
    pipeline's), and the hashes. A rebuild of 10M events is the start-up plus 10M events at the
    steady rate; the hashes here are mostly fixed waits (each topic read waits 1.5 s of quiet, for
    Tansu's end offsets: streams/kafka/reader.py), printed apart."""
    from streams.ledger.selfcheck import compare, refold_settings

    url = server.url.rsplit("/", 1)[0] + "/bench_rebuild"
    target = asyncio.run(committed_offsets(settings))
    fresh = replace(refold_settings(settings, "bench-rebuild", url), publish_feeds=feeds)
    t0 = time.perf_counter()
    logs = [tmp / f"rebuild-{n}.log" for n in range(workers)]
    running = [start_worker(fresh, log) for log in logs]
    try:
        t_done, first, lag_at_first = wait_until_drained(fresh, target, running, tmp, t0)
        running = supervise_until_committed(fresh, running, target, logs, timeout_s=3600, show_progress=False)
    finally:
        for worker in running:
            stop_worker(worker)
    t1 = time.perf_counter()
    hashes = compare(settings, fresh, url)
    t2 = time.perf_counter()
    same = all(hashes[f"live_{part}"] == hashes[f"rebuilt_{part}"]
               for part in ("state", "journal", "call_log", "invoices", "numbers"))
    steady = events * lag_at_first / sum(target.values()) / max(t_done - (first or t0), 1e-9)
    startup = (first or t_done) - t0
    fold_rate, all_in = events / (t1 - t0), events / (t2 - t0)
    return {"events": events, "seconds": round(t2 - t0, 2), "fold_seconds": round(t1 - t0, 2),
            "hash_seconds": round(t2 - t1, 2), "events_per_s": round(all_in),
            "events_per_s_fold_only": round(fold_rate), "events_per_s_fold_steady": round(steady),
            "worker_startup_s": round(startup, 2), "workers": workers, "feeds": feeds,
            "events_per_s_to_calibration": ratio(all_in, calibration()), "equals_live": same,
            "minutes_for_10m_events_fold_only": round((startup + 10_000_000 / steady) / 60, 1)}


def timed_restart(settings: Settings, tmp: Path) -> dict:
    """A worker started again on the same app id: from its start until it has folded one tick
    sent after it started (every partition gets one), which it can only do once Faust has
    restored the accounts table from its changelog. Tansu never compacts, so the changelog holds
    every state written: what a stock Kafka's compaction would leave is less (the latest state
    per account, plus its uncompacted head)."""
    from streams.dev.simulate import START_MS
    from streams.kafka.producer import publish_tick
    from streams.kafka.reader import read_topic

    changelog = asyncio.run(read_topic(settings.broker, settings.accounts_changelog_topic()))
    records, size = len(changelog), sum(len(r.value or b"") for r in changelog)
    accounts = len({r.key for r in changelog})
    del changelog
    t0, wall0 = time.perf_counter(), time.time()
    # At info, the log says when Faust's recovery completed: the table restored, before the tick.
    worker = start_worker(replace(settings, log_level="info"), tmp / "restart.log")
    try:
        offsets = asyncio.run(committed_offsets(settings))
        offsets.update(asyncio.run(publish_tick(settings, START_MS + 4 * 86_400_000)))
        t_done, _, _ = wait_until_drained(settings, offsets, [worker], tmp, t0)
    finally:
        stop_worker(worker)
    seconds = t_done - t0
    restored = restored_at(tmp / "restart.log") - wall0
    return {"changelog_records": records, "changelog_mb": round(size / 1e6, 1), "accounts": accounts,
            "seconds_to_restore": round(restored, 2), "seconds_to_fold_again": round(seconds, 2),
            "changelog_records_per_s": round(records / seconds), "changelog_mb_per_s": round(size / 1e6 / seconds, 1)}


def restored_at(log: Path) -> float:
    """When the worker's log says Faust's recovery completed (the first time), as a Unix time:
    its start-up and the table's restore, without the tick folded after it."""
    for line in log.read_text().splitlines():
        if "Restore complete" in line:
            return datetime.fromisoformat(json.loads(line)["time"]).timestamp()
    raise RuntimeError(f"{log}: no 'Restore complete' line")


def main() -> None:
    args = parse_args()
    tmp = scratch_dir("vl-bench-")
    with EmbeddedBroker() as broker:
        server = ClickHouseServer(str(tmp / "ch")).start() if args.engine == "server" else None
        try:
            url = server.url if server else f"chdb://{tmp / 'chdb'}"
            settings = replace(Settings(), broker=broker.bootstrap, broker_flavor=args.broker_flavor, clickhouse_url=url,
                               partitions=args.partitions, batch_messages_max=args.batch_messages,
                               metrics_port=free_port(), app_id="bench", log_level=args.log_level,
                               seal_personal_data=not args.no_seal, subscriber_keys_dir=str(tmp / "keys"),
                               open_sealed_beside_fold=not args.open_in_worker)
            events = simulate(SimulationSpec(accounts=args.accounts, calls=args.calls, days=3, seed=3))
            cdrs = sum(1 for e in events if isinstance(e, CallDetailRecord))
            asyncio.run(ensure_topics(settings))
            t_produce = time.perf_counter()
            offsets = asyncio.run(produce_hourly(settings, events, args.envelope) if args.hourly_ticks
                                  else produce_events(settings, events, envelope_max=args.envelope))
            produce_s = time.perf_counter() - t_produce
            total = sum(offsets.values())
            t_start = time.perf_counter()
            ports = [settings.metrics_port, *(free_port() for _ in range(args.workers - 1))]
            workers = [start_worker(replace(settings, metrics_port=port,
                                            authorization_port=free_port() if args.authorization else 0),
                                    tmp / f"worker-{n}.log") for n, port in enumerate(ports)]
            try:
                t_done, first_progress, lag_at_first = wait_until_drained(settings, offsets, workers, tmp, t_start)
                opened_by = sealed_opened_by(ports)
            finally:
                for worker in workers:
                    stop_worker(worker)
            rebuilt = (timed_rebuild(settings, server, len(events), tmp, args.rebuild_workers, args.rebuild_feeds)
                       if args.rebuild else None)
            restarted = timed_restart(settings, tmp) if args.restart else None
        finally:
            if server:
                server.stop()
    # Messages committed after the first commit, as a share of CDRs (envelopes are uniform).
    steady_s = max(t_done - (first_progress or t_start), 1e-9)
    steady_cdrs = cdrs * lag_at_first / total
    calibrated = calibration()
    print(json.dumps({
        "calibration": calibrated,
        "cdr_per_s_steady_to_calibration": ratio(steady_cdrs / steady_s, calibrated),
        "benchmark": "pipeline",
        "cdrs": cdrs,
        "events": len(events),
        "kafka_messages": total,
        "cdr_per_s_steady": round(steady_cdrs / steady_s),
        "cdr_per_s_including_startup": round(cdrs / (t_done - t_start)),
        "worker_startup_s": round((first_progress or t_done) - t_start, 2),
        "produce_s": round(produce_s, 2),
        "sealed_cdrs_opened_by": opened_by,
        **({"rebuild": rebuilt} if rebuilt else {}),
        **({"restart": restarted} if restarted else {}),
        "config": {"engine": args.engine, "envelope_cdrs_max": args.envelope, "partitions": args.partitions,
                   "batch_messages_max": args.batch_messages, "accounts": args.accounts, "workers": args.workers,
                   "authorization": args.authorization, "hourly_ticks": args.hourly_ticks,
                   "broker": "tansu (embedded)", "broker_flavor": args.broker_flavor,
                   "sealed": not args.no_seal, "python": platform.python_version(),
                   "opening_process": not args.open_in_worker,
                   "avro_kernel": "compiled" if avro_fast.COMPILED else "fastavro", "compiled_modules": compiled.summary()},
    }))


if __name__ == "__main__":
    with removed_after_success():
        main()

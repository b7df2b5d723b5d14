"""Benchmark: the worker's batch path alone, without Kafka or ClickHouse; prints JSON.

What ``streams/worker/app.py`` does to a batch in its own process, minus the I/O: decode the
messages, open sealed numbers, fold every account, encode the outputs and the new states (as
the changelog write would). It answers "where does the time go" for the pipeline benchmark:
``--profile N`` adds the N most expensive functions (cumulative) to the JSON. ``state_bytes_per_cdr``:
every part rewrites each account it touches whole, dedup keys included, so the bytes the changelog
takes per CDR grow with the keys an account holds, not with its calls.

    python bench/batch_path.py --calls 100000 [--no-seal] [--profile 25] [--opening-process]

``--opening-process`` opens sealed CDRs in a process beside it, as a worker does by default
(setting ``open_sealed_beside_fold``, ``streams/worker/opening.py``); ``cpu_seconds`` is then this
process's own CPU, and ``opening_cpu_seconds`` the other process's.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import seconds_within, within  # noqa: E402
from streams.kafka.producer import ENVELOPE_CDRS_MAX as ENVELOPE_MAX  # noqa: E402
from bench.calibration import calibration, ratio  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from projections.events import CallDetailRecord  # noqa: E402
from projections import compiled  # noqa: E402
from schemas import avro_fast  # noqa: E402
from schemas.codec import EventCodec  # noqa: E402
from streams.worker.fold_settings import fold_settings_from  # noqa: E402
from streams.config.settings import Settings  # noqa: E402
from streams.kafka.producer import plan_messages  # noqa: E402
from streams.runtime import memory  # noqa: E402
from streams.observe import metrics  # noqa: E402
from streams.worker.opening import OpeningProcess  # noqa: E402
from streams.worker.processor import BatchProcessor, InMessage  # noqa: E402
from streams.edge.sealing import opener_for, sealer_for  # noqa: E402
from streams.dev.simulate import SimulationSpec, simulate  # noqa: E402


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=within(1), default=100_000)
    p.add_argument("--accounts", type=within(1), default=5_000)
    p.add_argument("--days", type=within(1, 3_650), default=3, help="days the calls span (few accounts over few days: busy accounts)")
    p.add_argument("--envelope", type=within(1, ENVELOPE_MAX), default=200)
    p.add_argument("--partitions", type=within(1, 1_024), default=4)
    p.add_argument("--batch-messages", type=within(1, 1_000_000), default=50, help="messages per batch (the worker's batches "
                   "are what one fetch brings, typically tens of envelopes)")
    p.add_argument("--no-seal", action="store_true")
    p.add_argument("--key-ttl", type=seconds_within(0, 86_400), default=30.0, metavar="SECONDS",
                   help="how long the worker trusts a cached subscriber key (its Opener's ttl_s; the worker's is 30). "
                        "0: every batch finds every key expired, as a worker does whose subscribers call less "
                        "often than every 30 s (most of them, on a real network)")
    p.add_argument("--profile", type=within(0), default=0, metavar="N")
    p.add_argument("--opening-process", action="store_true", help="sealed CDRs opened in a process beside this one, "
                   "as a worker does (open_sealed_beside_fold); without it, in this process")
    p.add_argument("--gc-automatic", action="store_true", help="CPython's automatic garbage collection, as before "
                   "issue 22 (the worker collects between batches only)")
    return p.parse_args()


def _cpu_seconds_of(pid: int) -> float:
    """A process's CPU seconds so far, user and system, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def _opened_by() -> dict[str, int]:
    """Sealed CDRs opened by the opening process and by the worker itself (its chunk not back in time)."""
    samples = metrics.SEALED_CDRS_OPENED.collect()[0].samples
    return {s.labels["by"]: int(s.value) for s in samples if s.name.endswith("_total")}


def main() -> None:
    args = arguments()
    keys = str(scratch_dir("vl-bench-keys-"))
    settings = replace(Settings(), partitions=args.partitions, seal_personal_data=not args.no_seal,
                       subscriber_keys_dir=keys)
    codec = EventCodec()
    events = simulate(SimulationSpec(accounts=args.accounts, calls=args.calls, days=args.days, seed=3))
    sealer = sealer_for(settings)
    if sealer is not None:
        events = sealer.seal_events(events)
    cdrs = sum(1 for e in events if isinstance(e, CallDetailRecord))
    offsets: dict[int, int] = {}
    messages = []
    for partition, _key, value in plan_messages(events, codec, args.partitions, args.envelope):
        offset = offsets.get(partition, 0)
        offsets[partition] = offset + 1
        messages.append(InMessage("events", partition, offset, 2**62, value))
    opening = OpeningProcess(keys, args.key_ttl) if args.opening_process else None
    if opening is not None:
        opening.start()  # as a worker's first batch does, outside the timing
    processor = BatchProcessor(codec, fold_settings_from(settings), args.partitions, opener_for(settings),
                               opening=opening)
    processor.opener.ttl_s = args.key_ttl
    states: dict = {}
    encoded: dict[str, bytes] = {}
    written: list[int] = []  # each state record's bytes (what the changelog takes)
    rejected: Counter = Counter()  # dead letters by reason

    def run() -> None:
        for i in range(0, len(messages), args.batch_messages):
            result = processor.process(messages[i:i + args.batch_messages], states.get)
            rejected.update({k: n for k, n in result.counts.items() if k.startswith("rejected:")})
            for account_id, state in result.states.items():
                encoded[account_id] = value = codec.encode_state(state)  # what the changelog write costs
                written.append(len(value))
                states[account_id] = state
            del result
            memory.collect_if_grown()  # as the worker's batch loop does

    if not args.gc_automatic:
        memory.take_over()  # as a worker process does (streams/runtime/memory.py)
    profiler = cProfile.Profile() if args.profile else None
    t0, cpu0 = time.perf_counter(), time.process_time()
    if profiler:
        profiler.runcall(run)
    else:
        run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    opening_cpu = _cpu_seconds_of(opening._process.pid) if opening is not None else None
    calibrated = calibration()
    out = {"benchmark": "batch_path", "cdrs": cdrs, "events": len(events), "messages": len(messages),
           "seconds": round(seconds, 2), "cdr_per_s": round(cdrs / seconds), "cpu_seconds": round(cpu, 2),
           "opening_cpu_seconds": opening_cpu, "sealed_cdrs_opened_by": _opened_by(),
           "calibration": calibrated, "cdr_per_s_to_calibration": ratio(cdrs / seconds, calibrated),
           "config": {"avro_kernel": "compiled" if avro_fast.COMPILED else "fastavro", "compiled_modules": compiled.summary(), "sealed": not args.no_seal, "envelope": args.envelope, "batch_messages": args.batch_messages,
                      "accounts": args.accounts, "days": args.days, "profiled": bool(profiler), "key_ttl_s": args.key_ttl,
                      "gc": "automatic" if args.gc_automatic else "between batches",
                      "opening_process": args.opening_process},
           # What collecting between batches costs in memory, and how often it collected.
           "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
           "gc_full_collections": gc.get_stats()[2]["collections"], "state_records_written": len(written),
           "state_bytes_per_cdr": round(sum(written) / max(1, cdrs)), "state_bytes_max": max(written, default=0),
           "rejected": dict(sorted(rejected.items()))}
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(args.profile)
        out["profile_top"] = [line.strip() for line in text.getvalue().splitlines() if "(" in line][:args.profile]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    with removed_after_success():
        main()

"""Benchmark: where the batch path's time goes, stage by stage, in the worker's own code; prints JSON.

``bench/per_cdr_steps.py`` times each per-CDR step alone and leaves a remainder it cannot name
(~27 us a CDR in 2026-12: more than its ten steps together). This names it. It runs the batch
path as ``bench/batch_path.py`` does (realistic stream, sealed numbers, the code as shipped,
compiled where built), with a timer wrapped around each stage's function in the process itself:
routing a message (its decoding, bounds checks and sealed numbers inside), folding an account (its
dedup checks, its calls, its other events, its set-up and end inside), collecting outcomes into
rows and records, the output envelopes and the state writes. Stages nest, so each reports its
total and the share its named parts leave (``rest``). A timer costs what one more Python call
costs (``timer_us``, measured here): it is in every figure, and a stage run once per CDR so
carries it once or twice.

    python bench/batch_stages.py [--calls 150000] [--accounts 5000] [--batch-messages 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from bench.calibration import calibration, ratio  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from projections import account, compiled  # noqa: E402
from projections.events import CallDetailRecord  # noqa: E402
from schemas.codec import EventCodec  # noqa: E402
from streams.config.settings import Settings  # noqa: E402
from streams.dev.simulate import SimulationSpec, simulate  # noqa: E402
from streams.edge import sealing  # noqa: E402
from streams.edge.sealing import opener_for, sealer_for  # noqa: E402
from streams.kafka.producer import plan_messages  # noqa: E402
from streams.runtime import memory  # noqa: E402
from streams.worker import processor  # noqa: E402
from streams.worker.fold_settings import fold_settings_from  # noqa: E402
from streams.worker.opening import OpeningProcess  # noqa: E402

# (stage, its parts): what each stage's ``rest`` is left after.
NESTING = {
    "unpack": ("decode",),
    "route": ("check_bounds", "open_sealed"),
    "open_sealed": ("load_key",),
    "fold_account": ("dedup_checked", "set_up", "finish", "opened", "plain_events"),
    "dedup_checked": ("call", "payment"),
    "collect": ("call_log_row", "call_rated", "journal_rows"),
}


class Timers:
    """Seconds and calls per stage, from wrappers put around the worker's functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrapped(self, stage: str, fn: Callable) -> Callable:
        clock, seconds, calls = time.perf_counter, self.seconds, self.calls

        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - whatever the stage takes
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[stage] += clock() - t0
                calls[stage] += 1
        return timed


def instrument(timers: Timers) -> None:
    """Put a timer around each stage where the worker looks its function up at each call (a
    module's global, a class's attribute, a handler table), so the compiled modules see it too."""
    cls = processor.BatchProcessor
    for stage, name in (("unpack", "_unpacked"), ("route", "_route"), ("decode", "_unpack"), ("open_sealed", "_open"),
                        ("collect", "_collect"), ("envelopes", "_envelopes")):
        setattr(cls, name, timers.wrapped(stage, getattr(cls, name)))
    for stage, name in (("fold_account", "fold_batch"), ("check_bounds", "check_bounds"),
                        ("call_log_row", "call_log_row"), ("call_rated", "call_rated"),
                        ("journal_rows", "journal_rows")):
        setattr(processor, name, timers.wrapped(stage, getattr(processor, name)))
    sealing.Opener._load = timers.wrapped("load_key", sealing.Opener._load)
    account._deduplicated = timers.wrapped("dedup_checked", account._deduplicated)
    account._opened = timers.wrapped("opened", account._opened)
    account._Fold.__init__ = timers.wrapped("set_up", account._Fold.__init__)
    account._Fold.finish = timers.wrapped("finish", account._Fold.finish)
    for kind, (validate, apply) in list(account._DEDUPED.items()):
        stage = {"CallDetailRecord": "call", "PaymentReceived": "payment"}.get(kind.__name__, "other_deduped")
        account._DEDUPED[kind] = (validate, timers.wrapped(stage, apply))
    for kind, (handler, skew_checked) in list(account._PLAIN.items()):
        account._PLAIN[kind] = (timers.wrapped("plain_events", handler), skew_checked)


def timer_cost_us() -> float:
    """What one timer adds to a call, in microseconds (best of five loops)."""
    timers = Timers()
    bare = timers.wrapped("x", lambda: None)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(100_000):
            bare()
        best = min(best, time.perf_counter() - t0)
    return best / 100_000 * 1e6


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=within(1, 2_000_000), default=150_000)
    p.add_argument("--accounts", type=within(1, 200_000), default=5_000)
    p.add_argument("--batch-messages", type=within(1, 100_000), default=2_000)
    p.add_argument("--opening-process", action="store_true", help="sealed CDRs opened in a process beside this "
                   "one, as a worker does (open_sealed_beside_fold): 'route' then waits for their openings")
    return p.parse_args()


def main() -> None:
    args = arguments()
    settings = replace(Settings(), seal_personal_data=True, subscriber_keys_dir=str(scratch_dir("vl-stage-keys-")))
    codec, fold = EventCodec(), fold_settings_from(settings)
    events = sealer_for(settings).seal_events(simulate(SimulationSpec(accounts=args.accounts, calls=args.calls,
                                                                      days=3, seed=3)))
    offsets: dict[int, int] = defaultdict(int)
    messages = []
    for partition, _key, value in plan_messages(events, codec, settings.partitions, 200):
        messages.append(processor.InMessage("events", partition, offsets[partition], 2**62, value))
        offsets[partition] += 1
    opening = OpeningProcess(settings.subscriber_keys_dir) if args.opening_process else None
    if opening is not None:
        opening.start()
    worker = processor.BatchProcessor(codec, fold, settings.partitions, opener_for(settings), opening=opening)
    timers = Timers()
    instrument(timers)
    states: dict = {}
    memory.take_over()  # collection between batches only, as a worker process does
    t0 = time.perf_counter()
    for i in range(0, len(messages), args.batch_messages):
        result = worker.process(messages[i:i + args.batch_messages], states.get)
        states.update(result.states)
        t1 = time.perf_counter()
        result.encode_states(codec)  # what the changelog write costs
        timers.seconds["state_writes"] += time.perf_counter() - t1
        memory.collect_if_grown()
    whole = time.perf_counter() - t0
    print(json.dumps(report(timers, whole, events, len(messages), args), indent=1))


def report(timers: Timers, whole: float, events: list, messages: int, args: argparse.Namespace) -> dict:
    cdrs = sum(1 for e in events if isinstance(e, CallDetailRecord))
    per_cdr = {stage: round(s / cdrs * 1e6, 2) for stage, s in sorted(timers.seconds.items(), key=lambda kv: -kv[1])}
    rest = {stage: round((timers.seconds[stage] - sum(timers.seconds[p] for p in parts)) / cdrs * 1e6, 2)
            for stage, parts in NESTING.items()}
    top = ("unpack", "route", "fold_account", "collect", "envelopes", "state_writes")
    calibrated = calibration()
    return {"benchmark": "batch_stages", "cdrs": cdrs, "events": len(events), "messages": messages,
            "us_per_cdr_whole": round(whole / cdrs * 1e6, 2),
            "us_per_cdr_outside_stages": round((whole - sum(timers.seconds[s] for s in top)) / cdrs * 1e6, 2),
            "us_per_cdr": per_cdr, "us_per_cdr_rest_of": rest,
            "calls": dict(sorted(timers.calls.items())), "timer_us": round(timer_cost_us(), 3),
            "cdr_per_s_timed": round(cdrs / whole), "calibration": calibrated,
            "cdr_per_s_to_calibration": ratio(cdrs / whole, calibrated),
            "config": {"compiled_modules": compiled.summary(), "sealed": True, "accounts": args.accounts,
                       "batch_messages": args.batch_messages, "envelope": 200,
                       "opening_process": args.opening_process}}


if __name__ == "__main__":
    with removed_after_success():
        main()

"""Benchmark: what each step of the per-CDR path costs alone, against issue 22's budget; prints JSON.

The batch path (``bench/batch_path.py``) gives one figure for everything; a profile gives shares,
spread over hundreds of functions. This times each step the worker takes per CDR on its own, in a
loop over the same realistic stream (sealed numbers, 5,000 accounts), with the code as shipped
(compiled where built): decoding the envelopes, the bounds check, opening the sealed numbers,
the dedup identity, rating, the journal entry, the call-log row, the journal's ClickHouse rows,
the ``CallRated`` record and the output envelopes. It prints each step's microseconds a CDR, their
sum, the whole batch path a CDR measured in the same run, and the budget a CDR has at the
issue's target (0.5 x the calibration). What the steps leave of the whole is the fold's own
plumbing (the events' order and dispatch, the outcomes, the account states) and the events that
are not calls (openings, payments). Garbage is collected between steps and batches only, as the
worker does.

    python bench/per_cdr_steps.py [--calls 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from bench.calibration import calibration  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from projections import compiled  # noqa: E402
from projections.dialling import calling_code  # noqa: E402
from projections.events import CallDetailRecord  # noqa: E402
from projections.identity import dedup_key_id  # noqa: E402
from projections.journal import entry_for_call  # noqa: E402
from projections.rating import RatingError, call_rated, rate_call  # noqa: E402
from projections.validation import check_bounds  # noqa: E402
from schemas.codec import EventCodec  # noqa: E402
from streams.clickhouse.call_log import call_log_row  # noqa: E402
from streams.clickhouse.journal import journal_rows  # noqa: E402
from streams.config.settings import Settings  # noqa: E402
from streams.dev.simulate import SimulationSpec, simulate  # noqa: E402
from streams.edge.sealing import opener_for, sealer_for  # noqa: E402
from streams.kafka.producer import plan_messages  # noqa: E402
from streams.runtime import memory  # noqa: E402
from streams.worker.fold_settings import fold_settings_from  # noqa: E402
from streams.worker.processor import BatchProcessor, InMessage  # noqa: E402


def timed(step: Callable[[object], object], cdrs: int, setup: Callable[[], object] = lambda: None) -> float:
    """Microseconds a CDR, best of three runs of ``step`` (which does the step for every CDR) on
    what ``setup`` gives it, made again before each run and not timed."""
    best = float("inf")
    for _ in range(3):
        given = setup()
        memory.collect_if_grown(0)  # as the worker does between batches, never inside a step
        t0 = time.perf_counter()
        step(given)
        best = min(best, time.perf_counter() - t0)
    return round(best / cdrs * 1e6, 2)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=within(1, 2_000_000), default=100_000)
    args = p.parse_args()
    settings = replace(Settings(), partitions=4, seal_personal_data=True, subscriber_keys_dir=str(scratch_dir("vl-keys-")))
    codec, fold = EventCodec(), fold_settings_from(settings)
    events = sealer_for(settings).seal_events(simulate(SimulationSpec(accounts=5_000, calls=args.calls, days=3, seed=3)))
    memory.take_over()  # collection between batches only, as a worker process does (streams/runtime/memory.py)
    whole = _batch_path(settings, codec, fold, events)  # first, as bench/batch_path.py runs it: nothing else held
    opened = {e.account_id: e for e in events if type(e).__name__ == "AccountOpened"}
    envelopes = [v for _, _, v in plan_messages([e for e in events if isinstance(e, CallDetailRecord)], codec, 4, 200)]
    cdrs = [e for v in envelopes for e in codec.decode_message(v)[0]]
    opener = opener_for(settings)
    opener.ttl_s = 86_400.0
    # Each account's card, country and zone, as the fold finds them (one card per account here)
    how = {a: (fold.card_for(o.plan, o.currency, o.occurred_at_ms), calling_code(o.country), o.time_zone)
           for a, o in opened.items()}
    rated = [_rate(c, how[c.account_id], fold) for c in cdrs]
    pairs = [(c, r) for c, r in zip(cdrs, rated) if r is not None]
    parties = [(opener.open(c.account_id, c.caller), opener.open(c.account_id, c.callee)) for c, _ in pairs]
    entries = [entry_for_call(c, r, "1") for c, r in pairs]
    records = [call_rated(c, r) for c, r in pairs]
    n = len(cdrs)
    steps = {
        "decode_envelopes": timed(lambda _: [codec.decode_message(v) for v in envelopes], n),
        "check_bounds": timed(lambda _: [check_bounds(c) for c in cdrs], n),
        # the caller a dict look-up, the called number a decryption (each is new here)
        "open_sealed_numbers": timed(lambda fresh: [(fresh.open(c.account_id, c.caller), fresh.open(c.account_id, c.callee))
                                                    for c in cdrs], n, setup=lambda: _keys_loaded(settings, cdrs)),
        "dedup_identity": timed(lambda _: [dedup_key_id(c.dedup_identity()[0]) for c in cdrs], n),
        "rate": timed(lambda _: [_rate(c, how[c.account_id], fold) for c in cdrs], n),
        "journal_entry": timed(lambda _: [entry_for_call(c, r, "1") for c, r in pairs], n),
        "call_log_row": timed(lambda _: [call_log_row(c, r, 0, 0, 0, o) for (c, r), o in zip(pairs, parties)], n),
        "journal_rows": timed(lambda _: [journal_rows(e) for e in entries if e is not None], n),
        "call_rated": timed(lambda _: [call_rated(c, r) for c, r in pairs], n),
        "output_envelopes": timed(lambda _: ([codec.encode_call_rated_batch(records[i:i + 5_000])
                                            for i in range(0, len(records), 5_000)],
                                           [codec.encode_journal_batch([e for e in entries[i:i + 5_000] if e])
                                            for i in range(0, len(entries), 5_000)]), n),
    }
    calibrated = calibration()
    budget = 1e6 / (0.5 * calibrated["records_per_s"])
    print(json.dumps({"benchmark": "per_cdr_steps", "cdrs": n, "us_per_cdr": steps,
                      "us_per_cdr_steps_sum": round(sum(steps.values()), 2), "us_per_cdr_batch_path": whole,
                      "us_per_cdr_rest": round(whole - sum(steps.values()), 2),
                      "us_per_cdr_budget_at_target": round(budget, 2), "calibration": calibrated,
                      "config": {"compiled_modules": compiled.summary(), "sealed": True, "accounts": 5_000}}, indent=1))


def _keys_loaded(settings: Settings, cdrs: list[CallDetailRecord]):  # noqa: ANN202 - an Opener
    """An opener in a worker's steady state: every subscriber's key read and their own numbers
    (the callers, which repeat on every call) opened; no called number opened yet."""
    fresh = opener_for(settings)
    fresh.ttl_s = 86_400.0
    for cdr in cdrs:
        fresh.open(cdr.account_id, cdr.caller)
    return fresh


def _rate(cdr, how, fold):  # noqa: ANN001, ANN202 - a CDR, (card, country code, zone), FoldSettings
    card, country, zone = how
    try:
        return rate_call(cdr, card, on_net_prefixes=fold.on_net_prefixes, country_code=country, time_zone=zone)
    except RatingError:
        return None


def _batch_path(settings: Settings, codec: EventCodec, fold, events: list) -> float:  # noqa: ANN001 - FoldSettings
    """The whole batch path a CDR (every event of the stream, in parts of 2,000 messages)."""
    messages = [InMessage("events", p, i, 2**62, v) for i, (p, _, v) in enumerate(plan_messages(events, codec, 4, 200))]
    processor = BatchProcessor(codec, fold, 4, opener_for(settings))
    states: dict = {}
    t0 = time.perf_counter()
    for i in range(0, len(messages), 2_000):
        result = processor.process(messages[i:i + 2_000], states.get)
        states.update(result.states)
        result.encode_states(codec)
        memory.collect_if_grown()
    cdrs = sum(1 for e in events if isinstance(e, CallDetailRecord))
    return round((time.perf_counter() - t0) / cdrs * 1e6, 2)


if __name__ == "__main__":
    with removed_after_success():
        main()

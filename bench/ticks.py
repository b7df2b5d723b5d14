"""Benchmark: hourly ticks through a worker's batch path, over accounts that are mostly idle; prints JSON.

A tick reaches every account of its partition (``streams/worker/processor.py: _fan_out``), so a
worker folds one per account every hour, and a rebuild of a year folds 8,760 of them per
account. This folds a realistic stream (``--accounts``, ``--calls`` over 3 days) into states,
then ``--ticks`` hourly ticks after it, each reaching every account, and prints what a tick costs
per account, and what the index's scan of the table costs alone (``scan_ns_per_account``). The
states are read and written as a worker does, through ``AccountStates``
(``streams/worker/state_cache.py``) over a table of encoded states, which leaves an account out of
every tick before its state's ``tick_quiet_until``. ``--every-account`` ticks every account of
the partition, as before that index; ``--full-fold`` also sends every tick through the full
fold, as before the shortcut for a tick that changes nothing
(``projections/account.py: tick_changes_nothing``).

    python bench/ticks.py [--accounts 20000] [--ticks 24] [--every-account] [--full-fold]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from bench.calibration import calibration  # noqa: E402
from projections import account, compiled  # noqa: E402
from projections.events import PeriodTicked, TickKind  # noqa: E402
from projections.periods import period_of  # noqa: E402
from schemas.codec import EventCodec  # noqa: E402
from streams.config.settings import Settings  # noqa: E402
from streams.dev.simulate import SimulationSpec, simulate  # noqa: E402
from streams.kafka.producer import plan_messages  # noqa: E402
from streams.runtime import memory  # noqa: E402
from streams.worker.fold_settings import fold_settings_from  # noqa: E402
from streams.worker.processor import BatchProcessor, InMessage  # noqa: E402
from streams.worker.state_cache import AccountStates  # noqa: E402

PARTITIONS = 4
HOUR_MS = 3_600_000
SCANS = 20


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--accounts", type=within(1, 1_000_000), default=20_000)
    p.add_argument("--calls", type=within(0, 5_000_000), default=60_000)
    p.add_argument("--ticks", type=within(1, 10_000), default=24)
    p.add_argument("--every-account", action="store_true", help="every account ticked (before the quiet index)")
    p.add_argument("--full-fold", action="store_true", help="every account ticked, through the full fold")
    args = p.parse_args()
    args.every_account = args.every_account or args.full_fold
    if args.full_fold:
        account.tick_changes_nothing = lambda state, item, settings: False  # fold_batch reads the module's name
    settings = replace(Settings(), partitions=PARTITIONS)
    codec = EventCodec()
    processor = BatchProcessor(codec, fold_settings_from(settings), PARTITIONS)
    events = simulate(SimulationSpec(accounts=args.accounts, calls=args.calls, days=3, seed=3))
    folded = _folded(processor, codec, events)
    table: dict[bytes, bytes] = {}
    states = AccountStates(table, codec, lambda state: account.tick_quiet_until(state, processor.settings))
    _write(states, table, codec, folded)
    ticked = (lambda at_ms: [key.decode() for key in table]) if args.every_account else states.ticked_accounts
    first = (max(s.newest_event_ms for s in folded.values()) // HOUR_MS + 1) * HOUR_MS
    memory.take_over()
    changed = 0
    t0 = time.perf_counter()
    for n in range(args.ticks):
        at = first + n * HOUR_MS
        tick = codec.encode(PeriodTicked(f"tick:{at}", at, TickKind.HOUR, period_of(at, "UTC"), "UTC"))
        messages = [InMessage("ticks", q, 1_000_000 + n, at + 1_000, tick) for q in range(PARTITIONS)]
        result = processor.process(messages, states.load, ticked)
        changed += len(result.states)
        _write(states, table, codec, result.states)
        memory.collect_if_grown()
    seconds = time.perf_counter() - t0
    account_ticks = args.ticks * len(folded)
    t_scan = time.perf_counter()
    for _ in range(SCANS):  # the index's scan of the table alone, at the first tick's time
        states.ticked_accounts(first)
    scan_ns = (time.perf_counter() - t_scan) / SCANS / len(table) * 1e9
    due_at_first = len(states.ticked_accounts(first))
    print(json.dumps({"benchmark": "ticks", "accounts": len(folded), "ticks": args.ticks,
                      "us_per_account_tick": round(seconds / account_ticks * 1e6, 2),
                      "account_ticks_per_s": round(account_ticks / seconds),
                      "states_changed": changed, "seconds": round(seconds, 2),
                      "scan_ns_per_account": round(scan_ns, 1), "accounts_due_at_first_tick": due_at_first,
                      "calibration": calibration(),
                      "config": {"every_account": args.every_account, "full_fold": args.full_fold, "calls": args.calls,
                                 "compiled_modules": compiled.summary()}}, indent=1))


def _write(states: AccountStates, table: dict[bytes, bytes], codec: EventCodec, new: dict) -> None:
    """New states into the table, as ``write_states`` puts them and remembers them."""
    for account_id, state in new.items():
        raw = table[account_id.encode()] = codec.encode_state(state)
        states.remember(account_id, raw, state)


def _folded(processor: BatchProcessor, codec: EventCodec, events: list) -> dict:
    """The accounts' states after the stream, folded as a worker folds it."""
    messages = [InMessage("events", q, i, 2**62, v) for i, (q, _, v) in enumerate(plan_messages(events, codec,
                                                                                                   PARTITIONS, 200))]
    states: dict = {}
    for i in range(0, len(messages), 2_000):
        states.update(processor.process(messages[i:i + 2_000], states.get).states)
    return states


if __name__ == "__main__":
    main()

"""Exactly-once effect when every worker of a group dies at once: two real worker processes share
the partitions, and both are SIGKILLed at random points of each round, the second a random moment
after the first (so it may be taking over the first's partitions when it dies), while ~40k events
with injected duplicates flow through a real broker. After a last clean run, every balance equals
a pure fold of the input to the micro-unit (R7, R9) and ClickHouse holds exactly one row per call
(R30). ``test_crash_recovery.py`` kills one worker; this is the case a machine or a rack going
down makes: no survivor, both workers' uncommitted batches in flight.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import replace
from pathlib import Path


from schemas.codec import EventCodec
from streams.clickhouse.client import connect
from streams.dev.embedded import free_port
from streams.dev.simulate import SimulationSpec, simulate
from streams.kafka.admin import committed_lag
from streams.kafka.producer import plan_messages, produce_raw
from streams.worker.exits import EXIT_BATCH_FAILED
from streams.worker.supervise import start_worker

from tests.integration.helpers import (
    ON_THE_SERVER,
    at_the_edge,
    live_states,
    merge_offsets,
    oracle,
    run_worker_to_end,
    state_differences,
    unique_calls,
)

ROUNDS = 4


pytestmark = ON_THE_SERVER


def folded(log: Path) -> int:
    """The batches with events a worker's log says it folded (one ``batch`` line each, at info)."""
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text(errors="replace").splitlines()
               if "batch messages=" in line and " events=0 " not in line)


def kill_both(settings, second, offsets: dict[int, int], kill_at_lag: int, logs: tuple[Path, Path],
              rng: random.Random) -> list[int]:  # noqa: ANN001 - the two workers' Settings
    """Start two workers; once the committed lag is down to ``kill_at_lag`` and both have folded a
    batch (or all is committed, or 120 s passed), SIGKILL both. A worker that stops itself (exit 75) is restarted, as a
    supervisor would. Returns the exit codes seen."""
    exits: list[int] = []
    workers = [start_worker(settings, logs[0]), start_worker(second, logs[1])]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for i, (worker, which) in enumerate(zip(workers, (settings, second))):
            if worker.poll() is not None:
                exits.append(worker.returncode)
                workers[i] = start_worker(which, logs[i])
        lag = asyncio.run(committed_lag(settings, offsets))
        if lag == 0 or (lag <= kill_at_lag and min(map(folded, logs)) > 0):  # 0: too late, nothing in flight
            break
        time.sleep(0.02)
    workers[0].send_signal(signal.SIGKILL)
    time.sleep(rng.uniform(0.0, 1.0))
    workers[1].send_signal(signal.SIGKILL)
    return exits + [w.wait() for w in workers]


def test_R7_R9_R30_both_workers_of_a_group_sigkilled_at_random_points(settings, tmp_path):
    settings = replace(settings, batch_messages_max=40, batch_wait_seconds=0.05, commit_interval_seconds=0.2)
    second = replace(settings, metrics_port=free_port())
    codec = EventCodec()
    events = simulate(SimulationSpec(accounts=600, calls=40_000, days=2, seed=77, duplicate_ratio_percent=3))
    messages = list(plan_messages(at_the_edge(settings, events), codec, settings.partitions, envelope_max=20))
    size = -(-len(messages) // ROUNDS)  # chunks by position: each partition's order is kept
    rng = random.Random(20261205)
    offsets: dict[int, int] = {}
    rounds, exits = [], []
    for round_no in range(ROUNDS):
        offsets = merge_offsets(offsets, asyncio.run(produce_raw(
            settings, settings.events_topic, messages[round_no * size:(round_no + 1) * size])))
        lag_before = asyncio.run(committed_lag(settings, offsets))
        logs = (tmp_path / f"a-{round_no}.log", tmp_path / f"b-{round_no}.log")
        exits += kill_both(settings, second, offsets, int(lag_before * rng.uniform(0.2, 0.6)), logs, rng)
        rounds.append((lag_before, asyncio.run(committed_lag(settings, offsets)), folded(logs[0]), folded(logs[1])))
    assert run_worker_to_end(settings, offsets, tmp_path / "worker-final.log", timeout_s=300) == 0

    # The kills must have hit both workers with work in flight, or this proves nothing: in a round
    # where each had folded batches and the group had committed some of its input, not all.
    print("per round: (committed lag at start, at kill, batches folded by each worker):", rounds, "exits:", exits)
    assert set(exits) <= {-signal.SIGKILL, EXIT_BATCH_FAILED}, exits
    assert sum(1 for before, at_kill, a, b in rounds if 0 < at_kill < before and a and b) >= 2, rounds

    live, expected = live_states(settings), oracle(settings, events)
    assert len(live) == len(expected) == 600
    assert state_differences(live, expected) == []
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        (rows, distinct), = ch.query("SELECT count(), uniqExact(call_key) FROM call_log FINAL")
        assert rows == distinct == len(unique_calls(events))
    finally:
        ch.close()

"""Scale-out: two real worker processes share the partitions of one consumer group.

A second worker joins mid-stream (a rebalance hands it half the partitions, with their accounts'
state recovered from the changelog), then the first leaves (the second takes everything).
Balances still equal a pure fold of the input to the micro-unit (R7, R9), ClickHouse holds one
row per call (R30), and the in-order guard does not mistake a rebalance for dropped records.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from dataclasses import replace


from schemas.codec import EventCodec
from streams.clickhouse.client import connect
from streams.worker.exits import EXIT_BATCH_FAILED
from streams.worker.supervise import RESTARTS_MAX, start_worker, stop_worker, wait_until_committed
from streams.kafka.invoice_feed import numbering_lag
from streams.dev.embedded import free_port
from streams.kafka.admin import committed_lag
from streams.kafka.producer import plan_messages, produce_raw
from streams.dev.simulate import SimulationSpec, simulate

from tests.integration.helpers import (
    ON_THE_SERVER,
    at_the_edge,
    live_states,
    merge_offsets,
    oracle,
    state_differences,
    unique_calls,
    wait_until_ready,
)


def until_committed_supervising(settings, workers: dict, offsets: dict[int, int], timeout_s: float) -> None:
    """Until the group has committed ``offsets`` and the numbering stage is idle, restarting any
    of ``workers`` (name -> (process, settings, log)) that stops itself with exit 75, as a
    supervisor would; ``workers`` is updated with the processes then running."""
    deadline = time.monotonic() + timeout_s
    restarts = 0
    while time.monotonic() < deadline:
        for name, (process, worker_settings, log) in list(workers.items()):
            if process.poll() is not None:
                assert process.returncode == EXIT_BATCH_FAILED and restarts < RESTARTS_MAX, \
                    f"{name} exited with {process.returncode}: {log.read_text()[-3000:]}"
                restarts += 1
                workers[name] = (start_worker(worker_settings, log), worker_settings, log)
        if asyncio.run(committed_lag(settings, offsets)) == 0 and numbering_lag(settings) == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"not committed within {timeout_s} s")


def states_held(settings) -> int:
    """The accounts table's states a worker holds in memory, from its /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=5).read().decode()
    line = next(line for line in text.splitlines() if line.startswith('voiceledger_table_states{table="accounts"}'))
    return int(float(line.split()[-1]))


pytestmark = ON_THE_SERVER


def test_R7_R9_R30_a_worker_joins_and_another_leaves_mid_stream(settings, tmp_path):
    settings = replace(settings, batch_messages_max=50, commit_interval_seconds=0.2)
    codec = EventCodec()
    events = simulate(SimulationSpec(accounts=600, calls=30_000, days=2, seed=41))
    messages = list(plan_messages(at_the_edge(settings, events), codec, settings.partitions, envelope_max=20))
    third = len(messages) // 3
    parts = [messages[:third], messages[third:2 * third], messages[2 * third:]]

    offsets = asyncio.run(produce_raw(settings, settings.events_topic, parts[0]))
    first_log, second_log = tmp_path / "worker-a.log", tmp_path / "worker-b.log"
    first = start_worker(settings, first_log)
    wait_until_ready(first_log)
    second_settings = replace(settings, metrics_port=free_port())
    second = None
    workers: dict = {}
    try:
        # The second worker joins while the first is working through the first third.
        deadline = time.monotonic() + 120
        total = asyncio.run(committed_lag(settings, offsets))
        while asyncio.run(committed_lag(settings, offsets)) > total // 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        second = start_worker(second_settings, second_log)
        offsets = merge_offsets(offsets, asyncio.run(produce_raw(settings, settings.events_topic, parts[1])))
        # Both run as under a supervisor: either may stop itself with exit 75 after the rebalance
        # (records dropped by Faust, streams/worker/sequence.py) and is restarted.
        workers.update(first=(first, settings, first_log), second=(second, second_settings, second_log))
        until_committed_supervising(settings, workers, offsets, 240)
        (first, _, _), (second, _, _) = workers["first"], workers["second"]
        wait_until_ready(second_log)
        assert "Elected group leader" in first_log.read_text() + second_log.read_text()
        # The second joined mid-stream and was given partitions of the events topic.
        assigned = [line for line in second_log.read_text().splitlines() if "Setting newly assigned partitions" in line]
        assert any(f"topic='{settings.events_topic}'" in line for line in assigned), second_log.read_text()[-3000:]
        # Memory follows the partitions: each worker holds only its own partitions' states, the
        # first having dropped those the rebalance took from it (not proven by the balances).
        held = [states_held(s) for s in (settings, second_settings)]
        assert min(held) > 0 and sum(held) == len(live_states(settings)), held

        # The first worker leaves; the second takes every partition and the rest of the log.
        assert stop_worker(first) == 0, first_log.read_text()[-3000:]
        offsets = merge_offsets(offsets, asyncio.run(produce_raw(settings, settings.events_topic, parts[2])))
        second = wait_until_committed(second_settings, second, 240, offsets, show_progress=False, log_path=second_log)
        assert stop_worker(second) == 0, second_log.read_text()[-3000:]
        # Both took part: each logged batches (the second at the latest once it had every partition).
        assert "batch messages=" in first_log.read_text() and "batch messages=" in second_log.read_text()
    finally:
        # Restarted processes too: a failure while supervising must not leave one running.
        for worker in (first, second, *(w for w, _, _ in workers.values())):
            if worker is not None and worker.poll() is None:
                stop_worker(worker)

    dropped = (first_log.read_text() + second_log.read_text()).count("RecordsDropped")
    print("workers stopped themselves on dropped records:", dropped)
    live, expected = live_states(settings), oracle(settings, events)
    assert state_differences(live, expected) == []
    ch = connect(settings.clickhouse_url)
    try:
        calls = unique_calls(events)
        assert ch.query("SELECT count(), uniqExact(call_key) FROM call_log FINAL") == [(len(calls), len(calls))]
    finally:
        ch.close()

"""A ClickHouse outage loses nothing: the worker retries its insert, then exits without acking
or committing the batch (Faust's take_events would otherwise ack it on the way out and its
effects would be lost). Restarted once ClickHouse is back, it replays the batch, and balances
equal a pure fold of the input (R9) with exactly one call-log row per call (R30)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import pytest

from streams.worker.exits import EXIT_BATCH_FAILED
from streams.clickhouse.client import connect
from streams.worker.supervise import start_worker
from streams.dev.embedded import ClickHouseServer
from streams.kafka.admin import committed_lag
from streams.edge.publish import produce_events
from streams.dev.simulate import SimulationSpec, simulate

from tests.integration.helpers import live_states, merge_offsets, oracle, run_worker_to_end, unique_calls, without_positions


@pytest.fixture
def clickhouse_url():
    """This test starts and stops its own ClickHouse server; the URL is set inside it."""
    return "clickhouse://127.0.0.1:9/unused"


def test_R9_R30_clickhouse_outage_mid_stream_loses_nothing(settings, tmp_path):
    server = ClickHouseServer(str(tmp_path / "ch")).start()
    settings = replace(settings, clickhouse_url=f"clickhouse://default@127.0.0.1:{server.tcp_port}/o_{uuid.uuid4().hex[:8]}")
    events = simulate(SimulationSpec(accounts=300, calls=6_000, days=2, seed=31))
    half = len(events) // 2
    try:
        first = asyncio.run(produce_events(settings, events[:half], envelope_max=20))
        worker = start_worker(settings, tmp_path / "worker-1.log")
        deadline = time.monotonic() + 120
        while asyncio.run(committed_lag(settings, first)) > 0 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert asyncio.run(committed_lag(settings, first)) == 0
        server.stop()  # ClickHouse goes away; new events arrive
        offsets = merge_offsets(first, asyncio.run(produce_events(settings, events[half:], envelope_max=20)))
        assert worker.wait(120) == EXIT_BATCH_FAILED, (tmp_path / "worker-1.log").read_text()[-3000:]
        assert asyncio.run(committed_lag(settings, offsets)) > 0, "the failed batch was not committed"
        server.start()
        assert run_worker_to_end(settings, offsets, tmp_path / "worker-2.log") == 0
        assert without_positions(live_states(settings)) == without_positions(oracle(settings, events))
        ch = connect(settings.clickhouse_url)
        try:
            ch.execute("OPTIMIZE TABLE call_log FINAL")
            assert ch.query("SELECT count() FROM call_log") == [(len(unique_calls(events)),)]
        finally:
            ch.close()
    finally:
        server.stop()

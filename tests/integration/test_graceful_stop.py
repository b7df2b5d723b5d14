"""A clean drain: SIGTERM in the middle of a stream finishes the batch in hand, commits what it
processed and exits 0; a new worker resumes from there, and the result is exact (R7, R9, R30).
On the way, ``/healthz`` and ``/readyz`` answer 200, and ``/metrics`` is scraped twice from the same worker: the named counters move as
events flow, and the consumer-lag gauge falls.
"""

from __future__ import annotations

import asyncio
import re
import time
import json
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from streams.clickhouse.client import connect
from streams.worker.supervise import start_worker, stop_worker
from streams.kafka.admin import committed_lag
from streams.edge.publish import produce_events
from streams.dev.simulate import SimulationSpec, simulate

from streams.worker import settings_log
from tests.integration.helpers import (
    live_states,
    oracle,
    run_worker_to_end,
    state_differences,
    unique_calls,
    wait_until_ready,
)


def scrape(settings) -> dict[str, float]:
    """Every ``voiceledger_*`` sample of the worker's /metrics: by name summed over labels, and
    by ``name{labels}`` one by one."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=5).read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r"^(voiceledger_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", line)
        if match:
            name, labels, value = match.group(1), match.group(2) or "", float(match.group(3))
            samples[name] = samples.get(name, 0.0) + value
            samples[name + labels] = value
    return samples


def probe(settings, name: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/{name}", timeout=5) as response:
            return response.status, json.loads(response.read())["status"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["status"]


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


def test_R7_R9_R30_sigterm_mid_stream_drains_commits_and_exits_zero(settings, tmp_path):
    settings = replace(settings, batch_messages_max=40, commit_interval_seconds=0.2)
    events = simulate(SimulationSpec(accounts=400, calls=40_000, days=2, seed=51))
    offsets = asyncio.run(produce_events(settings, events, envelope_max=10))
    total = asyncio.run(committed_lag(settings, offsets))

    log = tmp_path / "worker-1.log"
    worker = start_worker(settings, log)
    wait_until_ready(log)
    # Two scrapes of the same process while it works (a restarted process starts its counters anew).
    first = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            worker = start_worker(settings, log)
            wait_until_ready(log)
            first = None
        lag = asyncio.run(committed_lag(settings, offsets))
        if first is None and lag < total * 7 // 8:
            first, first_pid = scrape(settings), worker.pid
        if first is not None and lag <= total * 3 // 4 and worker.pid == first_pid:
            second = scrape(settings)
            break
        time.sleep(0.05)
    for name in ("voiceledger_events_consumed_total", "voiceledger_events_applied_total",
                 "voiceledger_calls_rated_total", "voiceledger_clickhouse_insert_rows_total",
                 "voiceledger_batch_processing_seconds_count",
                 "voiceledger_sealed_cdrs_opened_total"):  # by the opening process, or the worker itself
        assert second[name] > first[name] > 0, name
    # The version of the settings it checked at start, as settings history names it.
    (recorded,) = asyncio.run(settings_log.versions(settings))
    assert second[f'voiceledger_settings_version{{digest="{recorded["digest"][:12]}"}}'] == 1
    # The probes of the same endpoint: alive, and ready once partitions are assigned and recovered.
    assert probe(settings, "healthz") == (200, "ok")
    ready_deadline = time.monotonic() + 20
    while probe(settings, "readyz") != (200, "ok") and time.monotonic() < ready_deadline:
        time.sleep(0.2)
    assert probe(settings, "readyz") == (200, "ok")
    # Nothing new is produced, so no partition's lag may rise, and some must fall.
    lags = [(first[k], second[k]) for k in first if k.startswith("voiceledger_consumer_lag_messages{") and k in second]
    assert lags and all(b <= a for a, b in lags) and any(b < a for a, b in lags), lags

    while asyncio.run(committed_lag(settings, offsets)) > total * 3 // 4 and time.monotonic() < deadline:
        if worker.poll() is not None:  # stopped itself on dropped records: restart, as a supervisor
            worker = start_worker(settings, log)
            wait_until_ready(log)
        time.sleep(0.05)
    lag_at_stop = asyncio.run(committed_lag(settings, offsets))
    assert 0 < lag_at_stop < total, "the stop must come mid-stream"
    assert stop_worker(worker) == 0, log.read_text()[-3000:]
    lag_after_stop = asyncio.run(committed_lag(settings, offsets))
    assert lag_after_stop <= lag_at_stop, "what was processed before the stop is committed"
    assert "Signal received: 15" in log.read_text()

    assert run_worker_to_end(settings, offsets, tmp_path / "worker-2.log") == 0
    assert state_differences(live_states(settings), oracle(settings, events)) == []
    ch = connect(settings.clickhouse_url)
    try:
        calls = len(unique_calls(events))
        assert ch.query("SELECT count(), uniqExact(call_key) FROM call_log FINAL") == [(calls, calls)]
    finally:
        ch.close()

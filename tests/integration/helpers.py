"""Shared steps of the integration tests: run a worker process, read results, build the oracle."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import fields, replace
from pathlib import Path

import pytest

from projections.account import AccountState, Positioned, fold_all
from projections.events import AccountEvent, CallDetailRecord
from projections.rating import RateCard
from streams.worker.fold_settings import fold_settings_from
from streams.config.settings import Settings
from streams.worker.supervise import start_worker, stop_worker, wait_until_committed
from streams.kafka.admin import committed_lag
from streams.kafka.reader import read_account_states
from streams.edge.sealing import sealer_for

# A module's tests on the ClickHouse server only (``pytestmark = ON_THE_SERVER``): where the worker
# and the test or the API are separate processes on one database, which chDB's files are not.
ON_THE_SERVER = pytest.mark.parametrize("clickhouse_url", ["server"], indirect=True)

FAR_FUTURE_MS = 2**62  # the oracle has no log timestamps; nothing is "in the future" for it


def wait_until_ready(log: Path, timeout_s: float = 60) -> None:
    """Until the worker has started (Faust logs it at info level, which the tests set).

    A worker stopped before Faust installs its signal handlers dies of the SIGTERM itself
    instead of shutting down cleanly, which would make a clean stop look like a failure.
    """
    deadline = time.monotonic() + timeout_s
    while "[^Worker]: Ready" not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise AssertionError(f"worker not ready within {timeout_s} s; log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def kill_mid_stream(settings: Settings, next_offsets: dict[int, int], kill_at_lag: int, log: Path,
                    then_wait_s: float = 0.0, timeout_s: float = 120) -> tuple[list[int], bool]:
    """Start a worker, and SIGKILL it once the group's committed lag is down to ``kill_at_lag``
    (and ``then_wait_s`` more). A worker that stops itself (exit 75) is restarted, as a
    supervisor would. Returns the exit codes seen and whether the kill hit a running worker."""
    exits = []
    worker = start_worker(settings, log)
    deadline = time.monotonic() + timeout_s
    while asyncio.run(committed_lag(settings, next_offsets)) > kill_at_lag and time.monotonic() < deadline:
        if worker.poll() is not None:
            exits.append(worker.returncode)
            worker = start_worker(settings, log)
        time.sleep(0.02)
    time.sleep(then_wait_s)
    landed = worker.poll() is None
    if landed:
        worker.send_signal(signal.SIGKILL)
    exits.append(worker.wait())
    return exits, landed


def run_worker_to_end(settings: Settings, next_offsets: dict[int, int], log: Path,
                      timeout_s: float = 180) -> int:
    try:
        worker = start_worker_caught_up(settings, next_offsets, log, timeout_s)
    except Exception:
        raise AssertionError(f"worker did not finish; log:\n{log.read_text()[-4000:]}") from None
    return stop_worker(worker)


def start_worker_caught_up(settings: Settings, next_offsets: dict[int, int], log: Path, timeout_s: float = 120):
    """A running worker that has committed ``next_offsets`` (the caller stops it)."""
    worker = start_worker(settings, log)
    try:
        worker = wait_until_committed(settings, worker, timeout_s, next_offsets, show_progress=False, log_path=log)
        wait_until_ready(log)
    except Exception:
        stop_worker(worker)
        raise
    return worker


def merge_offsets(*maps: dict[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for m in maps:
        for p, o in m.items():
            out[p] = max(out.get(p, 0), o)
    return out


def at_the_edge(settings: Settings, events: list[AccountEvent]) -> list[AccountEvent]:
    """The events as ``produce_events`` and ``ingest`` put them on the log: personal fields sealed
    with the subscriber's key (R32). For tests that produce prepared messages themselves."""
    sealer = sealer_for(settings)
    return list(events) if sealer is None else sealer.seal_events(events)


def oracle(settings: Settings, events: list[AccountEvent],
           published_cards: tuple[RateCard, ...] = ()) -> dict[str, AccountState]:
    """A pure fold of the same events, in the same per-account order, from nothing, as the
    edge put them on the log (sealed: the tokens are deterministic, so these are the same)."""
    items = [Positioned("oracle/0", i, 0, FAR_FUTURE_MS, e) for i, e in enumerate(at_the_edge(settings, events))]
    return fold_all(items, fold_settings_from(settings, published_cards))


def without_positions(states: dict[str, AccountState]) -> dict[str, AccountState]:
    """Log positions differ between the worker and the oracle by construction; all else must not."""
    return {k: replace(v, positions={}) for k, v in states.items()}


def state_differences(live: dict[str, AccountState], expected: dict[str, AccountState],
                      shown_max: int = 10) -> list[str]:
    """Readable differences, field by field, for the first accounts that differ (positions aside)."""
    out = []
    for account_id in sorted(set(live) | set(expected)):
        a, b = live.get(account_id), expected.get(account_id)
        if a is None or b is None:
            out.append(f"{account_id}: live={'present' if a else 'missing'} oracle={'present' if b else 'missing'}")
        else:
            for f in fields(a):
                if f.name in ("positions", "recent_keys"):
                    continue
                if getattr(a, f.name) != getattr(b, f.name):
                    out.append(f"{account_id}: {f.name} live={getattr(a, f.name)} oracle={getattr(b, f.name)}")
            if a.recent_keys != b.recent_keys:
                only_live = sorted(set(a.recent_keys) - set(b.recent_keys))[:3]
                only_oracle = sorted(set(b.recent_keys) - set(a.recent_keys))[:3]
                changed = sorted(k for k in set(a.recent_keys) & set(b.recent_keys)
                                 if a.recent_keys[k] != b.recent_keys[k])[:3]
                out.append(f"{account_id}: recent_keys only-live={only_live} only-oracle={only_oracle} "
                           f"changed={changed}")
        if len(out) >= shown_max:
            break
    return out


def live_states(settings: Settings) -> dict[str, AccountState]:
    return asyncio.run(read_account_states(settings))


def unique_calls(events: list[AccountEvent]) -> set[str]:
    return {e.call_key for e in events if isinstance(e, CallDetailRecord)}


def log_events(settings: Settings) -> tuple[list[AccountEvent], dict[int, int]]:
    """Every event on the events topic, in partition and offset order, and each partition's
    next offset (what a worker must commit to have folded them all)."""
    from streams.kafka.codec import codec_for
    from streams.kafka.reader import read_topic

    codec, events, offsets = codec_for(settings), [], {}
    for record in asyncio.run(read_topic(settings.broker, settings.events_topic)):
        offsets[record.partition] = max(offsets.get(record.partition, 0), record.offset + 1)
        events += codec.decode_message(record.value)[0]
    return events, offsets


def calls_by_node(ch) -> dict:  # noqa: ANN001 - a ClickHouse client
    """On a cluster: every node's call keys (its own replica, after FINAL), once every replica
    has fetched its shard's log. Asserts no node holds a call twice."""
    from streams.clickhouse import cluster

    cluster.sync_replicas(ch, "call_log")

    def keys(node) -> set[str]:  # noqa: ANN001
        rows = [k for (k,) in node.query(f"SELECT call_key FROM {cluster.stored(node, 'call_log')} FINAL")]
        assert len(rows) == len(set(rows)), f"{node.url}: a call twice after FINAL"
        return set(rows)

    found, down = cluster.on_every_node(ch, keys)
    assert not down, f"nodes down: {down}"
    return found


def assert_each_call_on_one_shard(ch, calls: set[str]) -> None:  # noqa: ANN001 - a ClickHouse client
    """Every call on exactly one shard, the same on each of its replicas (on a cluster only)."""
    if not ch.cluster:
        return
    by_shard: dict[int, list[set[str]]] = {}
    for node, keys in calls_by_node(ch).items():
        by_shard.setdefault(node.shard, []).append(keys)
    for shard, replicas in by_shard.items():
        assert all(r == replicas[0] for r in replicas), f"the replicas of shard {shard} differ"
    shards = [replicas[0] for replicas in by_shard.values()]
    assert len(shards) > 1 and all(shards), "every shard holds calls"
    assert sum(len(s) for s in shards) == len(set().union(*shards)), "a call on two shards"
    assert set().union(*shards) == calls

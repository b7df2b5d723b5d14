"""The call log on a ClickHouse cluster (issue 21): a replica that is down while the worker inserts
and while a subscriber is erased catches up when it returns, and nothing is lost or doubled.

The cluster is 2 shards x 2 replicas of Debian's 18.16 server with ZooKeeper
(``streams/dev/cluster.py``). The worker writes through node (1, 1). The replica killed is the
*first* replica of shard 2, the one that takes that shard's inserts while it is up
(``load_balancing = in_order``), so the inserts in flight fail over to the second replica.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.clickhouse import cluster
from streams.clickhouse.client import connect
from streams.clickhouse.privacy import ErasureIncomplete, erase_in_clickhouse
from streams.clickhouse.reconcile import reconcile
from streams.dev.simulate import SimulationSpec, simulate
from streams.edge.publish import produce_events
from streams.kafka.admin import committed_lag
from streams.worker.supervise import start_worker, stop_worker, wait_until_committed

from tests.integration.conftest import engine_url
from tests.integration.helpers import (
    assert_each_call_on_one_shard,
    live_states,
    merge_offsets,
    oracle,
    state_differences,
    unique_calls,
    without_positions,
)

pytestmark = pytest.mark.cluster


@pytest.fixture
def clickhouse_url(request, tmp_path):
    return engine_url(request, "cluster", tmp_path)


def wait_for_lag_below(settings, offsets: dict[int, int], lag: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while asyncio.run(committed_lag(settings, offsets)) > lag:
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.05)


def account_on_shard(ch, shard: int) -> str:  # noqa: ANN001 - a ClickHouse client
    """An account whose calls the given shard holds."""
    found, _ = cluster.on_every_node(ch, lambda node: node.query(
        f"SELECT account_id FROM {cluster.stored(node, 'call_log')} WHERE caller != '' ORDER BY account_id LIMIT 1"))
    return next(rows[0][0] for node, rows in found.items() if node.shard == shard and rows)


def numbers_left(ch, account: str) -> dict:  # noqa: ANN001 - a ClickHouse client
    """Per node, the subscriber's call-log rows that still hold a number, once its mutations ran."""
    def count(node) -> int:  # noqa: ANN001
        deadline = time.monotonic() + 60
        while node.query("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0")[0][0]:
            assert time.monotonic() < deadline, f"{node.url}: mutations not done"
            time.sleep(0.2)
        return node.query(f"SELECT count() FROM {cluster.stored(node, 'call_log')} WHERE account_id = '{account}' "
                          "AND (caller != '' OR match(callee, '[0-9]{7,}'))")[0][0]
    found, down = cluster.on_every_node(ch, count)
    assert not down
    return found


def rows_on(ch, shard: int, replica: int) -> int:  # noqa: ANN001 - a ClickHouse client
    node = next(n for n in cluster.nodes(ch) if (n.shard, n.replica) == (shard, replica))
    client = cluster.node_client(ch, node)
    try:
        return client.query(f"SELECT count() FROM {cluster.stored(client, 'call_log')}")[0][0]
    finally:
        client.close()


def stream_and_erase_while_down(settings, events, offsets, worker, log):  # noqa: ANN001
    """With replica (2, 1) down: the rest of the stream goes in, then a subscriber of shard 2 is
    erased. Returns the worker (restarted if it had to be) and the subscriber."""
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        at_kill = rows_on(ch, 2, 2)
        offsets = merge_offsets(offsets, asyncio.run(produce_events(settings, events, envelope_max=20)))
        worker = wait_until_committed(settings, worker, 240, offsets, show_progress=False, log_path=log)
        # Shard 2's inserts went on to its other replica: what the returning one must fetch.
        assert rows_on(ch, 2, 2) > at_kill
        # An erasure while the replica is down: done on the shard's live replica, and said to
        # be pending on the one that is down.
        subscriber = account_on_shard(ch, 2)
        with pytest.raises(ErasureIncomplete, match="did not answer"):
            erase_in_clickhouse(ch, subscriber)
        return worker, subscriber
    finally:
        ch.close()


def test_a_replica_down_mid_stream_and_during_an_erasure_catches_up_and_nothing_is_lost_or_doubled(
        settings, clickhouse_cluster, tmp_path):
    events = simulate(SimulationSpec(accounts=200, calls=12_000, days=2, seed=21, duplicate_ratio_percent=3))
    half = len(events) // 2
    log = tmp_path / "worker.log"
    offsets = asyncio.run(produce_events(settings, events[:half], envelope_max=20))
    worker = start_worker(settings, log)
    try:
        wait_for_lag_below(settings, offsets, sum(offsets.values()) // 2)  # mid-stream, inserts in flight
        clickhouse_cluster.stop_node(2, 1, kill=True)
        try:
            worker, subscriber = stream_and_erase_while_down(settings, events[half:], offsets, worker, log)
        finally:
            clickhouse_cluster.start_node(2, 1)
        ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
        try:
            # It catches up: the same rows on both replicas of each shard, each call once, none lost.
            assert_each_call_on_one_shard(ch, unique_calls(events))
            assert set(numbers_left(ch, subscriber).values()) == {0}, "the erasure reached the replica that was down"
            assert erase_in_clickhouse(ch, subscriber) > 0  # now confirmed everywhere
            (rows, distinct), = ch.query("SELECT count(), uniqExact(call_key) FROM call_log FINAL")
            assert rows == distinct == len(unique_calls(events))
            for month in ("2026-10", "2026-11"):
                problems, _ = reconcile(ch, month, settings.country_code)
                assert problems == [], problems
        finally:
            ch.close()
    finally:
        assert stop_worker(worker) == 0, log.read_text()[-3000:]
    # Crashes of the servers themselves (18.16's, restarted as a supervisor would) are no failure
    # of the ledger's: they are printed for the record.
    print("servers that crashed and were restarted:", clickhouse_cluster.crashes)
    live, expected = live_states(settings), oracle(settings, events)
    assert without_positions(live) == without_positions(expected), "\n".join(state_differences(live, expected))

"""A table restored from its changelog in bulk (streams/worker/restore.py), against the real
broker: the reader applies the newest value of each key and the tombstones, in log order, and
a restarted worker restores its accounts that way (not record by record through Faust) and
bills the next events on the restored states (R7, R9).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.types import TP

from streams.edge.publish import produce_events
from streams.kafka.producer import new_producer
from streams.kafka.reader import read_topic
from streams.worker.restore import restore
from streams.dev.simulate import SimulationSpec, simulate

from tests.integration.helpers import live_states, merge_offsets, oracle, run_worker_to_end, state_differences


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


async def _changelog(settings, topic: str, records: list[tuple[int, bytes, bytes | None]]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    producer = new_producer(settings)
    await producer.start()
    try:
        for partition, key, value in records:
            await producer.send_and_wait(topic, key=key, value=value, partition=partition)
    finally:
        await producer.stop()


def test_restore_keeps_the_newest_value_of_each_key_and_applies_tombstones(settings):
    topic = f"{settings.app_id}-restore-changelog"
    records = [(0, b"a", b"a1"), (1, b"b", b"b1"), (0, b"a", b"a2"), (0, b"c", b"c1"), (1, b"b", None),
               (0, b"c", None), (0, b"c", b"c2"), (1, b"d", b"d1"), (1, None, b"no key: not a state")] + [(0, b"k%d" % i, b"v%d" % i) for i in range(300)]
    asyncio.run(_changelog(settings, topic, records))
    # What the dict held before: a stale value the changelog overwrites, and a key of a
    # partition that is not read (left alone).
    data, key_partition = {b"a": b"stale", b"z": b"other"}, {b"a": 0, b"z": 2}
    tps = [TP(topic, 0), TP(topic, 1), TP(topic, 2)]
    read_to, count = asyncio.run(restore(settings, tps, data, key_partition))
    expected = {b"a": b"a2", b"c": b"c2", b"d": b"d1", b"z": b"other", **{b"k%d" % i: b"v%d" % i for i in range(300)}}
    assert data == expected
    assert key_partition == {b"a": 0, b"c": 0, b"d": 1, b"z": 2, **{b"k%d" % i: 0 for i in range(300)}}
    assert count == len(records)
    # The last offset read of each partition (Faust's recovery reads on from there); none for an empty one.
    assert read_to == {TP(topic, 0): sum(1 for r in records if r[0] == 0) - 1, TP(topic, 1): 3}


def test_R7_R9_a_restarted_worker_restores_its_accounts_in_bulk_and_bills_on_them(settings, tmp_path):
    settings = replace(settings, batch_messages_max=50)
    events = simulate(SimulationSpec(accounts=60, calls=3_000, days=2, seed=17))
    first, rest = events[: len(events) // 2], events[len(events) // 2:]
    offsets = asyncio.run(produce_events(settings, first))
    assert run_worker_to_end(settings, offsets, tmp_path / "worker-1.log") == 0
    changelog = asyncio.run(read_topic(settings.broker, settings.accounts_changelog_topic()))
    offsets = merge_offsets(offsets, asyncio.run(produce_events(settings, rest)))
    assert run_worker_to_end(settings, offsets, tmp_path / "worker-2.log") == 0
    restored = [int(m) for m in re.findall(r"accounts-changelog: restored (\d+) records",
                                           (tmp_path / "worker-2.log").read_text())]
    # The second worker read every state record the first one wrote, in bulk, before folding:
    # the second half's calls are billed on those states, and every balance equals a pure fold.
    assert restored == [len(changelog)] and len(changelog) > 60
    assert state_differences(live_states(settings), oracle(settings, events)) == []

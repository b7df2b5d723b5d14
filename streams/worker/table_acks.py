"""A Faust table as ``BatchCommit``'s state store, its changelog written in record batches.

A batch must not be committed before its state records are on the broker
(``streams/worker/commit.py``, step 5), so ``flush`` returns only once the broker has
acknowledged every record put since the last one.

Why not ``table[key] = value``: Faust's write path (``on_key_set`` -> ``send_changelog`` -> a
``FutureMessage`` through the topic's serializers, the producer's buffer and aiokafka's
``send``) costs tens of microseconds a state, and at 20,000 accounts a batch writes about one
state per CDR (``bench/pipeline.py --accounts 20000``: 3.6k-4.3k CDR/s with Faust's path, see
docs/performance.md). Here ``put`` sets the table's in-memory store at once (the batch's next
part reads it) and ``flush`` appends the records to one aiokafka record batch per partition.

The records are Faust's own: the raw key and value, in the partition aiokafka's default
partitioner picks for the key (the tables have ``use_partitioner=True``, which sends Faust's
records there too, and the worker sets no other partitioner), in the order put, and a tombstone
for a deleted key. Faust's recovery reads them back as it reads its own, and so does the bulk
restore of a restart (streams/worker/restore.py). ``tests/integration/
test_pipeline.py`` checks that every state record lies in its account's events partition.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

from aiokafka.partitioner import DefaultPartitioner

_PARTITIONER = DefaultPartitioner()


def aiokafka_producer(app: Any) -> Any:
    """The aiokafka producer under the Faust app's (faust-streaming 0.15, pinned in pyproject:
    its driver keeps it as ``_producer`` and hands it out through ``_ensure_producer``)."""
    return app.producer._ensure_producer()


class ChangelogStore:
    """``put`` sets or deletes a key (None deletes); ``flush`` writes the records put since the
    last flush to the table's changelog and waits for the broker's ack of each."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._records: list[tuple[bytes, bytes | None]] = []

    def put(self, key: bytes, value: bytes | None) -> None:
        store = self.table.data  # the in-memory store, below Faust's write path
        if value is not None:
            store[key] = value
        elif key in store:
            del store[key]
        else:
            return  # nothing to delete: Faust's own path sent no tombstone either
        self._records.append((key, value))

    async def flush(self) -> None:
        records, self._records = self._records, []
        if not records:
            return
        producer = aiokafka_producer(self.table.app)
        topic = self.table.changelog_topic.get_topic_name()
        partitions = sorted(await producer.partitions_for(topic))
        # Each state tagged with its partition, as Faust's own restore tags what it reads: when
        # a rebalance takes the partition away, Faust drops its states from this worker's memory.
        tags = getattr(self.table.data, "_key_partition", None)
        acks = [await producer.send_batch(batch, topic, partition=partition)
                for partition, batch in _batches(producer, records, partitions, tags)]
        await asyncio.gather(*acks)


def _batches(producer: Any, records: list[tuple[bytes, bytes | None]], partitions: list[int],
             tags: dict | None = None) -> Iterator[tuple[int, Any]]:
    """Record batches of at most the producer's batch size (a record larger than that alone in
    its own, as aiokafka does), each partition's records in the order put. Each is closed, so
    the producer sends it without lingering for records that will not come. ``tags``: key ->
    partition of each key set (a deleted key's tag removed)."""
    by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
    for key, value in records:
        partition = _PARTITIONER(key, partitions, partitions)
        by_partition.setdefault(partition, []).append((key, value))
        if tags is not None:
            if value is None:
                tags.pop(key, None)
            else:
                tags[key] = partition
    for partition, items in by_partition.items():
        batch = producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full (and closed)
                yield partition, batch
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)  # the first record always fits
        batch.close()  # every record is in: sent at once, without the producer's linger
        yield partition, batch

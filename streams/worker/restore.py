"""The worker's tables restored from their changelogs in bulk when partitions are assigned.

Why: Faust restores an in-memory table one changelog record at a time (a Faust event, a queue
turn and a timer each, ~125 us of CPU a record: ~8k records a second here), so a restarted
worker, and every worker a rebalance hands a partition, waited ~25 s per 200,000 changelog
records before it folded a CDR (docs/performance.md). A switch waits that long for its
authorizations too.

``RestoringStore`` is Faust's memory store with one difference: when its table's changelog
partitions are assigned, it reads the new ones itself, with a consumer of its own, a fetch of
record batches at a time, straight into the in-memory dict (the newest value of each key; a
tombstone deletes), and reports the last offset it read as the partition's *persisted offset*.
That is the hook Faust's RocksDB store uses: Faust's own recovery then starts from there and
reads only what was written since (the records of a worker that was still writing, a
rebalance's last batch). Partitions the worker kept across a rebalance are left to Faust, which
remembers how far it read them: each offset is handed to Faust once (``persisted_offset``), at
the rebalance whose recovery starts from it.

Nothing else changes: the keys are tagged with their partition as Faust's own restore tags
them, so a revoked partition's keys are dropped when recovery completes. If the bulk read fails
(a broker that does not answer in time), the partition's offset is not reported and Faust
restores it from the start as before: slower, never wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Iterable, Optional

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.stores import STORES
from faust.stores.memory import Store as MemoryStore
from faust.types import TP

from streams.config.settings import Settings
from streams.kafka.security import client_kwargs
from streams.kafka.topics import RECORD_BYTES_MAX
from streams.observe import metrics

log = logging.getLogger("voiceledger.restore")

# The tables' store (streams/worker/app.py). It names a host because Faust falls back to the
# app's store for a URL that tests false, as yarl's URL does with no host and no path.
STORE_URL = "voiceledger-memory://tables"
RESTORE_TIMEOUT_S = 300.0  # a bulk read slower than this falls back to Faust's own restore
FETCH_RECORDS = 50_000  # records taken from the consumer's buffer at a time


class RestoringStore(MemoryStore):
    """Faust's in-memory store, restored in bulk (module docstring). The table's ``options``
    carry the worker's ``Settings`` under "settings": the broker and its security."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._read_to: dict[TP, int] = {}  # partitions read in bulk, not yet handed to Faust: last offset read

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # runs __post_init__ before it sets self.table
        # What the worker holds, counted at each scrape: an operator sees a worker's memory follow
        # its partitions across rebalances (a revoked partition's states dropped, as Faust does).
        metrics.TABLE_STATES.labels(self.table.name).set_function(self.data.__len__)

    def persisted_offset(self, tp: TP) -> Optional[int]:
        # Faust asks once per partition, when its recovery takes the partition on. Handed over
        # once: a partition kept across a later rebalance is one Faust remembers reading
        # further, and an offset of ours would make it read that stretch again, record by record.
        return self._read_to.pop(tp, None)

    async def on_rebalance(self, assigned: set, revoked: set, newly_assigned: set, generation_id: int = 0) -> None:
        for tp in revoked:
            self._read_to.pop(tp, None)
        topic = self.table.changelog_topic.get_topic_name()
        fresh = sorted(tp for tp in newly_assigned if tp.topic == topic)
        if not fresh:
            return
        settings: Settings = (self.options or {})["settings"]
        started = time.perf_counter()
        try:
            read_to, records = await asyncio.wait_for(
                restore(settings, fresh, self.data, self._key_partition), RESTORE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - Faust's own restore takes over: slower, never wrong
            log.warning("%s: the bulk restore of %d changelog partitions failed (%s: %s); Faust restores them "
                        "record by record", topic, len(fresh), type(exc).__name__, exc)
            return
        seconds = time.perf_counter() - started
        self._read_to.update(read_to)
        metrics.TABLE_RESTORED_RECORDS.labels(self.table.name).inc(records)
        log.info("%s: restored %d records of %d partitions in %.2f s (%.0f records/s)", topic, records, len(fresh),
                 seconds, records / seconds if seconds else 0.0)


async def restore(settings: Settings, tps: Iterable[TP], data: dict, key_partition: dict) -> tuple[dict[TP, int], int]:
    """Every record of the changelog partitions ``tps`` up to their end offsets now, applied
    to ``data`` in log order (None deletes), each key tagged with its partition in
    ``key_partition``. Returns the last offset read per partition (none for an empty one) and
    the number of records read."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=RECORD_BYTES_MAX,
                                fetch_max_bytes=4 * RECORD_BYTES_MAX, **client_kwargs(settings))
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await consumer.start()
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in tps]
        consumer.assign(wanted)
        await consumer.seek_to_beginning(*wanted)
        # At once: Tansu takes ~0.5 s to answer either for an empty partition.
        starts, ends = await asyncio.gather(consumer.beginning_offsets(wanted), consumer.end_offsets(wanted))
        pending = {tp for tp in wanted if starts[tp] < ends[tp]}  # an empty partition: nothing to wait for
        return await _read_to_ends(consumer, pending, ends, data, key_partition)
    finally:
        await consumer.stop()


async def _read_to_ends(consumer: AIOKafkaConsumer, pending: set, ends: dict, data: dict,
                        key_partition: dict) -> tuple[dict[TP, int], int]:
    read_to: dict[TP, int] = {}
    records = 0
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=500, max_records=FETCH_RECORDS)
        for tp, recs in batch.items():
            end = ends[tp]
            recs = [r for r in recs if r.offset < end]  # what was written after the end is Faust's to read
            records += len(recs)
            _apply(recs, tp.partition, data, key_partition)
            if recs:
                read_to[TP(tp.topic, tp.partition)] = recs[-1].offset
        # By position, not by the last record: a compacted or transactional log's last offsets
        # may hold no record to read.
        pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    return read_to, records


def _apply(records: list, partition: int, data: dict, key_partition: dict) -> None:
    """A changelog's records in log order: the newest value of a key wins, None deletes it
    (as Faust's ``apply_changelog_batch`` of the memory store)."""
    for record in records:
        key = record.key
        if key is None:  # not a state: anyone who may write the topic may write anything there
            continue
        if record.value is None:
            data.pop(key, None)
            key_partition.pop(key, None)
        else:
            data[key] = record.value
            key_partition[key] = partition


STORES.aliases[STORE_URL.partition(":")[0]] = f"{__name__}:RestoringStore"

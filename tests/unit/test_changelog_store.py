"""The worker's own changelog writes (``streams/worker/table_acks.py``), without a broker.

The record batches are aiokafka's real ``BatchBuilder``s; only the producer that would send them
is absent. What must hold for Faust's recovery to read the records as its own: each record in
the partition Kafka's default partitioner gives its key (the account's events partition), each
partition's records in the order put, no record lost at a batch's bound, a record larger than a
batch alone in one, and the table's store set (or its key deleted) at once.
"""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from streams.kafka.partitioning import partition_for
from streams.worker.table_acks import ChangelogStore, _batches


class Producer:
    """Makes aiokafka's batches of a small size, as the real producer's ``create_batch`` does."""

    def __init__(self, batch_bytes: int) -> None:
        self.batch_bytes = batch_bytes

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_bytes, 0)


def records_of(batch: BatchBuilder) -> list[tuple[bytes, bytes | None]]:
    """What the broker would store: the batch's bytes read back as Kafka reads them."""
    batch.close()
    return [(r.key, r.value) for r in DefaultRecordBatch(bytes(batch._builder.build()))]


def test_records_go_to_their_accounts_partition_in_order_across_batch_bounds():
    records = [(f"acct-{i % 37}".encode(), b"state %d " % i + b"x" * (i % 50)) for i in range(600)]
    records[300] = (b"acct-5", None)  # a tombstone keeps its place too
    written: dict[int, list] = {}
    n_batches = 0
    for partition, batch in _batches(Producer(1_000), records, [0, 1, 2, 3]):
        assert batch.closed(), "all its records are in: the producer need not linger for more"
        written.setdefault(partition, []).extend(records_of(batch))
        n_batches += 1
    assert n_batches > 4 * 5, "small batches: the records cross many bounds"
    for partition, got in written.items():
        assert got == [r for r in records if partition_for(r[0].decode(), 4) == partition]
    assert sum(len(v) for v in written.values()) == len(records)


def test_a_record_larger_than_a_batch_is_alone_in_its_own():
    big = (b"acct-1", b"y" * 5_000)
    records = [(b"acct-1", b"a"), big, (b"acct-1", b"b")]
    batches = [records_of(batch) for _, batch in _batches(Producer(1_000), records, [0])]
    assert batches == [[records[0]], [big], [records[2]]]


def test_put_sets_the_store_at_once_and_deletes_only_what_is_there():
    table = SimpleNamespace(data={b"old": b"1"})
    store = ChangelogStore(table)
    store.put(b"new", b"2")
    store.put(b"old", None)
    store.put(b"never-written", None)  # no tombstone for a key the table does not hold
    assert table.data == {b"new": b"2"}
    assert store._records == [(b"new", b"2"), (b"old", None)]


def test_each_state_written_is_tagged_with_its_partition_and_a_deleted_one_untagged():
    """Faust drops a revoked partition's keys by these tags when recovery completes (its memory
    store's ``on_recovery_completed``); untagged, the states a worker wrote itself stayed in its
    memory after a rebalance took their partition away."""
    records = [(f"acct-{i}".encode(), b"state") for i in range(40)] + [(b"acct-3", None)]
    tags = {b"acct-3": 9, b"elsewhere": 2}
    list(_batches(Producer(1_000), records, [0, 1, 2, 3], tags))
    expected = {f"acct-{i}".encode(): partition_for(f"acct-{i}", 4) for i in range(40) if i != 3}
    assert tags == {**expected, b"elsewhere": 2}

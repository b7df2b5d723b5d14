"""In-order delivery per partition, checked: the guard that keeps log positions trustworthy.

The fold skips an event at or before an account's recorded log position, as a redelivery.
That is exact only if a worker applies each partition's records in log order, none left out.
faust-streaming 0.15.3 does not guarantee it: during recovery it resumes the stream partitions,
seeks them, and then resumes its flow control, which clears the stream's queue. Records fetched
in that window are dropped while the fetcher moves past them. Faust never commits them (they
are never acked), but this worker would apply *later* records of the same partition first, move
accounts' positions past the dropped ones, and skip them as redeliveries when a restart brings
them back: lost charges. The SIGKILL test caught it.

So the worker keeps, per partition, the next offset it expects (the group's committed offset
when it first sees a partition, then the record after the last it applied). A record further
ahead leaves a gap. Gaps are legitimate on real Kafka (transaction markers, compaction), so the
worker asks the broker whether data records sit in the gap; if they do, the batch stops the
worker before anything is written or acked, and the restart replays in order.

Measured on Tansu: the dropped records are those fetched while table recovery runs (about 2 s
here); roughly one restart or rebalance in three trips the guard, sometimes twice in a row.
Filling the gap in-process (seek back, skip the early records) was considered and rejected:
Faust commits over a single un-acked record at the committed offset (its ``_new_offset``
tolerates ``min(acked) - committed == 1``), so a one-record gap could be committed unprocessed.

A record *behind* the expected offset is a redelivery (after a rebalance or a restart's seek):
the fold recognises it, and the expected offset moves back with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Gap:
    partition: int
    start: int  # the first offset not delivered
    end: int  # the offset delivered instead (exclusive end of the gap)


@dataclass
class PartitionSequence:
    """Next expected offset per partition, and the gaps a batch of (partition, offset) leaves."""

    expected: dict[int, int] = field(default_factory=dict)

    def unknown(self, partitions: set[int]) -> set[int]:
        """Partitions seen for the first time: their start (the committed offset) is needed."""
        return {p for p in partitions if p not in self.expected}

    def start(self, partition: int, committed_offset: int | None) -> None:
        """Where a partition starts: its committed offset, or None when the group has none."""
        if committed_offset is not None and committed_offset >= 0:
            self.expected[partition] = committed_offset

    def forget(self, partitions: set[int]) -> None:
        """Partitions revoked by a rebalance: when they come back, they start at the committed offset."""
        for p in partitions:
            self.expected.pop(p, None)

    def gaps(self, records: list[tuple[int, int]]) -> list[Gap]:
        """The gaps in ``records`` (partition, offset), in delivery order, without advancing."""
        expected = dict(self.expected)
        found = []
        for partition, offset in records:
            want = expected.get(partition)
            if want is not None and offset > want:
                found.append(Gap(partition, want, offset))
            expected[partition] = offset + 1
        return found

    def advance(self, records: list[tuple[int, int]]) -> None:
        """Accept ``records`` as applied: each partition now expects the record after its last."""
        for partition, offset in records:
            self.expected[partition] = offset + 1

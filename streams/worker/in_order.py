"""The events agent's in-order check before a batch is folded (``streams/worker/sequence.py``
explains why it is needed).

A batch that skips records of a partition is filled in place: the skipped records are read from
the broker and folded first, in log order, with the batch, so the worker does not have to stop
and replay (faust-streaming drops fetched records after one restart or rebalance in three here).
Once the batch's effects are written (``release``), the filled offsets are marked for Faust as
done, so that its commits pass over records it never delivered. A gap that holds no records
(transaction markers, compaction) is marked at once. A gap too large to hold in memory stops the
worker as before (exit 75, a replay from the committed offset).
"""

from __future__ import annotations

import logging
from typing import Callable

from streams.config.settings import Settings
from streams.kafka.admin import RangeTooLarge, beginning_offsets, committed_offsets, records_in_range
from streams.worker.exits import RecordsDropped
from streams.worker.processor import InMessage
from streams.worker.sequence import Gap, PartitionSequence

log = logging.getLogger("voiceledger.worker")

# The most a batch part fills in place; a larger gap stops the worker for a replay instead.
FILL_RECORDS_MAX = 20_000
FILL_BYTES_MAX = 64 * 1024 * 1024


async def read_skipped(settings: Settings, topic: str, partition: int, start: int, end: int,
                       security: dict) -> list:
    """The records at ``[start, end)`` of a partition, which the consumer skipped, read from the
    broker (for the events agent and the numbering stage). Raises ``RecordsDropped`` (the worker
    stops, nothing acked, and replays) past what a batch may hold in memory."""
    try:
        return await records_in_range(settings.broker, topic, partition, start, end, records_max=FILL_RECORDS_MAX,
                                      bytes_max=FILL_BYTES_MAX, security=security)
    except RangeTooLarge as exc:
        raise RecordsDropped(f"{topic}/{partition}: records {start}..{end - 1} were not delivered and are too many "
                             f"to fill ({exc}); replaying in order") from None


class InOrderGuard:
    def __init__(self, settings: Settings, security: dict, mark_empty: Callable[[int, int, int], None]) -> None:
        self.settings = settings
        self.security = security
        self.mark_empty = mark_empty  # (partition, start, end): Faust may commit over these offsets
        self.sequence = PartitionSequence()
        self._filled: list[Gap] = []  # filled in the part being written, released after it

    async def check(self, records: list[tuple[int, int]]) -> list[InMessage]:
        """The records of every gap before these (partition, offset) records, to fold first.
        Raises ``RecordsDropped`` (the worker stops, nothing acked) for a gap too large to fill."""
        new = self.sequence.unknown({p for p, _ in records})
        if new:
            start = await self._start_offsets(sorted(new))
            for p in new:
                self.sequence.start(p, start.get(p))
        fills: list[InMessage] = []
        for gap in self.sequence.gaps(records):
            missing = await self._read(gap)
            if not missing:
                log.info("partition %d: offsets %d..%d hold no records (transaction markers or compaction)",
                         gap.partition, gap.start, gap.end - 1)
                self.mark_empty(gap.partition, gap.start, gap.end)  # proven empty (faust_patches.py)
                continue
            log.info("partition %d: records %d..%d were not delivered; read from the broker and folded in order",
                     gap.partition, gap.start, gap.end - 1)
            fills += [InMessage(r.topic, r.partition, r.offset, r.timestamp, r.value) for r in missing]
            self._filled.append(gap)
        return fills

    async def _read(self, gap: Gap) -> list:
        return await read_skipped(self.settings, self.settings.events_topic, gap.partition, gap.start, gap.end,
                                  self.security)

    def release(self) -> None:
        """The part's effects are written: Faust may now commit over the offsets filled for it."""
        for gap in self._filled:
            self.mark_empty(gap.partition, gap.start, gap.end)
        self._filled.clear()

    def advance(self, records: list[tuple[int, int]]) -> None:
        self.sequence.advance(records)

    def forget(self, partitions: set[int]) -> None:
        self.sequence.forget(partitions)

    def next_offset(self, partition: int) -> int | None:
        """The record after the last one applied, None before this worker's first batch of it."""
        return self.sequence.expected.get(partition)

    async def _start_offsets(self, partitions: list[int]) -> dict[int, int]:
        """Where the group starts reading: its committed offset, else the log's start (earliest)."""
        committed = await committed_offsets(self.settings, partitions)
        uncommitted = [p for p in partitions if p not in committed]
        return {**(await beginning_offsets(self.settings, uncommitted) if uncommitted else {}), **committed}

"""The events agent's in-order check before a batch is folded (``streams/worker/sequence.py``
explains why it is needed): a batch that skips records of a partition stops the worker, unless
the broker shows the skipped offsets hold no records."""

from __future__ import annotations

import logging
from typing import Callable

from streams.config.settings import Settings
from streams.kafka.admin import beginning_offsets, committed_offsets, data_in_range
from streams.worker.exits import RecordsDropped
from streams.worker.sequence import PartitionSequence

log = logging.getLogger("voiceledger.worker")


class InOrderGuard:
    def __init__(self, settings: Settings, security: dict, mark_empty: Callable[[int, int, int], None]) -> None:
        self.settings = settings
        self.security = security
        self.mark_empty = mark_empty  # (partition, start, end): Faust may commit over these offsets
        self.sequence = PartitionSequence()

    async def check(self, records: list[tuple[int, int]]) -> None:
        """Raise ``RecordsDropped`` (the worker stops, nothing acked) if records of a partition
        were not delivered before these (partition, offset) records."""
        new = self.sequence.unknown({p for p, _ in records})
        if new:
            start = await self._start_offsets(sorted(new))
            for p in new:
                self.sequence.start(p, start.get(p))
        for gap in self.sequence.gaps(records):
            if await data_in_range(self.settings.broker, self.settings.events_topic, gap.partition, gap.start,
                                   gap.end, security=self.security):
                raise RecordsDropped(f"partition {gap.partition}: records {gap.start}..{gap.end - 1} were "
                                     f"not delivered before offset {gap.end}; replaying in order")
            log.info("partition %d: offsets %d..%d hold no records (transaction markers or compaction)",
                     gap.partition, gap.start, gap.end - 1)
            self.mark_empty(gap.partition, gap.start, gap.end)  # proven empty (faust_patches.py)

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

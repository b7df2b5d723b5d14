"""The invoice numbering stage: a Faust agent on the one-partition numbering topic.

Every worker runs it; Faust gives the topic's one partition, and the ``numbering`` table's one
changelog partition, to one worker at a time. Its input is what each events partition's batch
sends (``BatchProcessor``: drafts of issued invoices and ticks passed, in log order); its output
is ``InvoiceNumbered`` on ``invoice_numbers_topic`` and the ClickHouse table
``invoice_numbers``. The numbering rule is pure: ``projections/numbering.py``.

Per batch: apply the records in log order from the state's ``next_offset``, reading from the
broker any that Faust skipped (it drops fetched records after a restart or rebalance); then
write through the same ``BatchCommit`` as the fold stage (``streams/worker/commit.py``): the
numbers and their rows first, then the state, which carries ``next_offset`` (in records of
bounded size: ``streams/worker/numbering_store.py``). A replay
after a crash skips what the state has applied and numbers the rest again, identically.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from faust.types import TP

from projections import numbering
from schemas.codec import DecodeError, EventCodec
from streams.clickhouse.invoices import INVOICE_NUMBER_COLUMNS, number_row
from streams.config.settings import Settings
from streams.kafka.admin import beginning_offsets
from streams.observe import metrics
from streams.worker.commit import BatchCommit, CommitPlan, OutMessage
from streams.worker.in_order import read_skipped
from streams.worker.numbering_store import NumberingStore

log = logging.getLogger("voiceledger.numbering")

NUMBERING_TABLE = "numbering"
NUMBERING_BATCH_MAX = 1_000


class NumberingStage:
    def __init__(self, settings: Settings, codec: EventCodec, table: Any, commit: BatchCommit, security: dict,
                 mark_empty: Callable[[int, int], None]) -> None:
        self.settings = settings
        self.codec = codec
        self.store = NumberingStore(codec, table, commit.states, settings.numbering_record_drafts)
        self.commit = commit
        self.security = security
        self.mark_empty = mark_empty  # (start, end): Faust may commit over these offsets
        # What the watchdog needs: the first numbering-topic offset not yet applied by this
        # worker (None until its first batch since the partition was assigned).
        self.next_offset: int | None = None

    def forget(self, revoked: set[TP]) -> None:
        if any(tp.topic == self.settings.invoice_numbering_topic for tp in revoked):
            self.next_offset = None

    async def process(self, events: list) -> None:  # Faust's events
        state = await self._load_state()
        records, filled = await self._in_order(state.next_offset, [(e.message.offset, e.message.value) for e in events])
        plan = CommitPlan()
        numbered: list = []
        for offset, value in records:
            numbered += self._apply(state, offset, value, plan)
            state.next_offset = offset + 1
        plan.messages = [OutMessage(self.settings.invoice_numbers_topic, n.reference.encode(), self.codec.encode(n))
                         for n in numbered] + plan.messages
        plan.inserts = [("invoice_numbers", INVOICE_NUMBER_COLUMNS, [number_row(n) for n in numbered])]
        plan.states = await self.store.records(state)
        await self.commit.commit(plan)
        for start, end in filled:  # applied and written: Faust may commit over them
            self.mark_empty(start, end)
        self.next_offset = state.next_offset
        metrics.INVOICES_NUMBERED.inc(len(numbered))
        rejected = len(plan.messages) - len(numbered)
        if numbered or rejected:
            log.info("numbering batch messages=%d numbered=%d rejected=%d next_offset=%d", len(events),
                     len(numbered), rejected, state.next_offset)

    def _apply(self, state: numbering.NumberingState, offset: int, value: bytes | None, plan: CommitPlan) -> list:
        """The numbers one record gives; a record that cannot be read is dead-lettered. Only
        workers write this topic, so that is a bug or a foreign writer (a tombstone, another
        partition count), and the stage goes on."""
        try:
            if value is None:  # decoding it would raise TypeError, and the worker replay it forever
                raise DecodeError("tombstone", "a message with no value (a tombstone)")
            out = []
            for item in self.codec.decode_numbering_batch(value):
                out.extend(numbering.apply(state, item))
            return out
        except (DecodeError, ValueError) as exc:
            topic = self.settings.invoice_numbering_topic
            code = exc.code if isinstance(exc, DecodeError) else "invalid_numbering_item"
            plan.messages.append(OutMessage(self.settings.dead_letter_topic, f"{topic}/0/{offset}/0".encode(),
                                            self.codec.encode_dead_letter(
                                                reason_code=code, reason=str(exc), source_topic=topic,
                                                source_partition=0, source_offset=offset, source_index=0,
                                                original=value or b"")))
            metrics.EVENTS_REJECTED.labels(topic=topic, reason=code).inc()
            return []

    async def _load_state(self) -> numbering.NumberingState:
        state = self.store.load()
        if state is not None:
            if state.partitions != self.settings.partitions:
                raise RuntimeError(f"numbering state is for {state.partitions} events partitions, the settings say "
                                   f"{self.settings.partitions}: changing the partition count needs a new numbering")
            return state
        start = await beginning_offsets(self.settings, [0], topic=self.settings.invoice_numbering_topic)
        return numbering.NumberingState(self.settings.partitions, next_offset=start.get(0, 0))

    async def _in_order(self, expected: int, delivered: list[tuple[int, bytes]]
                        ) -> tuple[list[tuple[int, bytes]], list[tuple[int, int]]]:
        """The (offset, value) records to apply, in log order from ``expected``: those delivered,
        and those Faust skipped (it drops fetched records after a restart or rebalance) read from
        the broker in their place; and the ranges read so, for Faust to commit over once the batch
        is written. A range with no records (transaction markers) is marked at once; one too
        large to hold stops the worker for a replay (exit 75), as the events agent does."""
        records: list[tuple[int, bytes]] = []
        filled: list[tuple[int, int]] = []
        for offset, value in sorted(delivered):
            if offset < expected:
                continue  # applied before a crash: its effect is in the state
            if offset > expected:
                missing = await self._read(expected, offset)
                if missing:
                    log.info("numbering: records %d..%d were not delivered; read from the broker and applied in "
                             "order", expected, offset - 1)
                    records += [(r.offset, r.value) for r in missing]
                    filled.append((expected, offset))
                else:
                    self.mark_empty(expected, offset)  # proven empty (transaction markers)
            records.append((offset, value))
            expected = offset + 1
        return records, filled

    async def _read(self, start: int, end: int) -> list:
        return await read_skipped(self.settings, self.settings.invoice_numbering_topic, 0, start, end, self.security)

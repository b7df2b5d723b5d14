"""The invoice numbering stage: a Faust agent on the one-partition numbering topic.

Every worker runs it; Faust gives the topic's one partition, and the ``numbering`` table's one
changelog partition, to one worker at a time. Its input is what each events partition's batch
sends (``BatchProcessor``: drafts of issued invoices and ticks passed, in log order); its output
is ``InvoiceNumbered`` on ``invoice_numbers_topic`` and the ClickHouse table
``invoice_numbers``. The numbering rule is pure: ``projections/numbering.py``.

Per batch, in the same order as the folding agent (``streams/worker/app.py``) and for the same
reasons: check that no record was skipped since the state's ``next_offset`` (Faust can drop
fetched records during recovery); fold; send the numbers and insert their rows and wait for
both; then write the state, which carries ``next_offset``, and wait for its ack. A replay
after a crash skips what the state has applied and numbers the rest again, identically.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Callable

import faust

from projections import numbering
from schemas.codec import DecodeError, EventCodec
from faust.types import TP

from streams.observe import metrics
from streams.worker import faust_patches
from streams.config.settings import Settings
from streams.clickhouse.invoices import INVOICE_NUMBER_COLUMNS, number_row
from streams.kafka.admin import beginning_offsets, data_in_range
from streams.worker.table_acks import track_changelog_acks

log = logging.getLogger("voiceledger.numbering")

NUMBERING_TABLE = "numbering"
STATE_KEY = b"state"
EXIT_BATCH_FAILED = 75  # as streams/worker/app.py


class Progress:
    """What the worker's progress watchdog needs: the first numbering-topic offset not yet
    applied by this worker (None until its first batch since the partition was assigned)."""

    def __init__(self) -> None:
        self.next_offset: int | None = None


def install(app: faust.App, settings: Settings, codec: EventCodec, run_insert: Callable[[str, tuple, list], Any],
            dead_letters: Any, security: dict) -> Progress:
    """Add the numbering topic, table and agent to ``app``. ``run_insert(table, columns, rows)``
    is awaitable and runs in the worker's ClickHouse thread."""
    progress = Progress()
    source = app.topic(settings.invoice_numbering_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                       value_serializer="raw", partitions=1)
    numbers = app.topic(settings.invoice_numbers_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                        value_serializer="raw", partitions=1)
    table = app.Table(NUMBERING_TABLE, default=None, partitions=1, use_partitioner=True, key_type=bytes,
                      value_type=bytes)
    # The state's changelog acks (and dead letters' sends), awaited before a batch ends.
    unacked = track_changelog_acks(table)

    async def load_state() -> numbering.NumberingState:
        raw = table.get(STATE_KEY)
        if raw is not None:
            state = codec.decode_numbering_state(raw)
            if state.partitions != settings.partitions:
                raise RuntimeError(f"numbering state is for {state.partitions} events partitions, the settings say "
                                   f"{settings.partitions}: changing the partition count needs a new numbering")
            return state
        start = await beginning_offsets(settings, [0], topic=settings.invoice_numbering_topic)
        return numbering.NumberingState(settings.partitions, next_offset=start.get(0, 0))

    async def process(events: list) -> None:  # noqa: ANN001 - Faust's event type
        state = await load_state()
        first = min(e.message.offset for e in events)
        if first > state.next_offset:
            if await data_in_range(settings.broker, settings.invoice_numbering_topic, 0, state.next_offset, first,
                                   security=security):
                raise RuntimeError(f"numbering: records {state.next_offset}..{first - 1} were not delivered; "
                                   "replaying in order")
            # Proven empty (compaction, transaction markers), so Faust may commit over it.
            faust_patches.mark_empty(app.consumer, TP(settings.invoice_numbering_topic, 0), state.next_offset, first)
        out = []
        rejected = 0
        for e in sorted(events, key=lambda e: e.message.offset):
            offset = e.message.offset
            if offset < state.next_offset:
                continue  # applied before a crash: its effect is in the state
            try:
                items = codec.decode_numbering_batch(e.message.value)
                for item in items:
                    out.extend(numbering.apply(state, item))
            except (DecodeError, ValueError) as exc:
                # Only workers write this topic, so this is a bug or a foreign writer; it is kept
                # on the dead-letter topic and the stage goes on.
                code = exc.code if isinstance(exc, DecodeError) else "invalid_numbering_item"
                unacked.append(await dead_letters.send(
                    key=f"{settings.invoice_numbering_topic}/0/{offset}/0".encode(),
                    value=codec.encode_dead_letter(reason_code=code, reason=str(exc),
                                                   source_topic=settings.invoice_numbering_topic, source_partition=0,
                                                   source_offset=offset, source_index=0, original=e.message.value)))
                metrics.EVENTS_REJECTED.labels(topic=settings.invoice_numbering_topic, reason=code).inc()
                rejected += 1
            state.next_offset = offset + 1
        writes = [await numbers.send(key=n.reference.encode(), value=codec.encode(n)) for n in out]
        if out:
            await run_insert("invoice_numbers", INVOICE_NUMBER_COLUMNS, [number_row(n) for n in out])
        outputs = writes + unacked[:]
        unacked.clear()
        if outputs:
            await asyncio.gather(*outputs)
        table[STATE_KEY] = codec.encode_numbering_state(state)  # after its outputs (streams/worker/app.py)
        states = unacked[:]
        unacked.clear()
        await asyncio.gather(*states)
        progress.next_offset = state.next_offset
        metrics.INVOICES_NUMBERED.inc(len(out))
        if out or rejected:
            log.info("numbering batch messages=%d numbered=%d rejected=%d next_offset=%d", len(events), len(out),
                     rejected, state.next_offset)

    @app.agent(source, name="number-invoices")
    async def number_invoices(stream):  # noqa: ANN001 - Faust's stream type
        async for events in stream.take_events(1_000, within=settings.batch_wait_seconds):
            try:
                await process(events)
            except BaseException as exc:  # as in streams/worker/app.py: never ack a batch that did not complete
                log.critical("numbering batch failed, exiting without commit so it is replayed: %r", exc)
                logging.shutdown()
                os._exit(EXIT_BATCH_FAILED)

    @app.on_partitions_revoked.connect
    async def forget_numbering(app_: faust.App, revoked: set, **_: object) -> None:  # noqa: ANN001
        if any(tp.topic == settings.invoice_numbering_topic for tp in revoked):
            progress.next_offset = None

    return progress

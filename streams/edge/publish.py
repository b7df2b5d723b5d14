"""Putting events on the log from the edge: every personal field is sealed here, before it is
produced (R32), and operator requests such as an erasure enter the log here with their time."""

from __future__ import annotations

import asyncio
import time
from typing import Iterable

from projections.events import AccountEvent, SubscriberErasureRequested
from schemas.codec import EventCodec
from streams.config.settings import Settings
from streams.edge.sealing import sealer_for
from streams.kafka.topics import ensure_topics
from streams.kafka.codec import codec_for
from streams.kafka.producer import new_producer, plan_messages


async def produce_events(settings: Settings, events: Iterable[AccountEvent], *, envelope_max: int = 1,
                         codec: EventCodec | None = None, progress=None, producer=None) -> dict[int, int]:
    """Produce events to the events topic.

    Returns, per partition, the offset after the last message sent (from the broker's acks).
    Progress is measured against these: Tansu 0.6's ListOffsets answers with a count of record
    batches rather than the next offset, so end offsets cannot be trusted on it.
    This is an edge of the log: personal fields are sealed here (``streams/edge/sealing.py``).
    ``producer``: a started producer the caller keeps (the API's, long-lived; the caller made
    the topics); without one, a producer is started and stopped for these events.
    """
    codec = codec or codec_for(settings)
    sealer = sealer_for(settings)
    if sealer is not None:
        events = map(sealer.seal_event, events)
    own = producer is None
    if own:
        await ensure_topics(settings)  # created with their retention, never by a first write's defaults
        producer = new_producer(settings)
        await producer.start()
    sent = 0
    next_offsets: dict[int, int] = {}

    def note(metadata_list) -> None:
        for md in metadata_list:
            next_offsets[md.partition] = max(next_offsets.get(md.partition, 0), md.offset + 1)

    try:
        futures = []
        for partition, key, value in plan_messages(events, codec, settings.partitions, envelope_max):
            futures.append(await producer.send(settings.events_topic, value=value, key=key, partition=partition))
            sent += 1
            if len(futures) >= 5_000:
                note(await asyncio.gather(*futures))
                futures.clear()
                if progress:
                    progress(sent)
        note(await asyncio.gather(*futures))
        await producer.flush()
    finally:
        if own:
            await producer.stop()
    return next_offsets


def log_erasure(settings, account_id: str, request_ref: str = "") -> str:  # noqa: ANN001 - Settings
    """Log the erasure on the events topic (R32), so the worker drops the subscriber's numbers
    from the account's state, and a rebuild does too. Returns the event id. The time is the
    wall clock: this is the edge where the request enters the log."""
    now_ms = int(time.time() * 1000)
    ref = request_ref or f"cli-{now_ms}"
    event = SubscriberErasureRequested(f"erase:{account_id}:{ref}", account_id, now_ms, ref)
    asyncio.run(produce_events(settings, [event]))
    return event.event_id

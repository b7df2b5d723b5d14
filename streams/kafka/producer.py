"""Producers: the shared producer settings, the plan that packs CDRs into envelopes by partition,
ticks, and raw messages.

Producers key every message by account and choose its partition with the same function the
worker checks (``streams/kafka/partitioning.py``). CDRs can go one per message or in envelopes of
many CDRs of the same partition, which is how the ledger gets past Faust's per-message cost.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Iterator

from aiokafka import AIOKafkaProducer

from projections.events import AccountEvent, CallDetailRecord
from schemas.codec import EventCodec
from streams.config.settings import Settings
from streams.kafka.codec import codec_for
from streams.kafka.partitioning import partition_for
from streams.kafka.security import client_kwargs
from streams.kafka.topics import RECORD_BYTES_MAX, ensure_topics


def new_producer(settings: Settings) -> AIOKafkaProducer:
    # No idempotent producer: Tansu lacks InitProducerId. Duplicates a retry might cause are
    # harmless because the fold is idempotent.
    return AIOKafkaProducer(
        **client_kwargs(settings), bootstrap_servers=settings.broker, enable_idempotence=False, acks="all", linger_ms=5,
        max_batch_size=settings.producer_batch_bytes_max(), max_request_size=RECORD_BYTES_MAX, request_timeout_ms=30_000,
    )


# CDRs per envelope at the most: the worker dead-letters a bigger envelope (~3 MB when sealed).
ENVELOPE_CDRS_MAX = 10_000


def plan_messages(events: Iterable[AccountEvent], codec: EventCodec, partitions: int,
                  envelope_max: int) -> Iterator[tuple[int, bytes, bytes]]:
    """(partition, key, value) per message, keeping every account's events in input order.

    With ``envelope_max > 1`` CDRs of one partition are packed into envelopes. A non-CDR event
    flushes its partition's pending envelope only if that envelope holds a CDR of the same
    account, which is all per-account order needs.
    """
    envelope_max = min(envelope_max, ENVELOPE_CDRS_MAX)
    pending: dict[int, list[CallDetailRecord]] = defaultdict(list)
    pending_accounts: dict[int, set[str]] = defaultdict(set)

    def flush(p: int) -> Iterator[tuple[int, bytes, bytes]]:
        batch = pending.pop(p, [])
        pending_accounts.pop(p, None)
        if batch:
            key = batch[0].account_id.encode() if len(batch) == 1 else f"envelope/{p}".encode()
            value = codec.encode(batch[0]) if len(batch) == 1 else codec.encode_cdr_batch(batch)
            yield p, key, value

    for event in events:
        p = partition_for(event.account_id, partitions)
        if envelope_max > 1 and isinstance(event, CallDetailRecord):
            pending[p].append(event)
            pending_accounts[p].add(event.account_id)
            if len(pending[p]) >= envelope_max:
                yield from flush(p)
            continue
        if event.account_id in pending_accounts.get(p, ()):
            yield from flush(p)
        yield p, event.account_id.encode(), codec.encode(event)
    for p in list(pending):
        yield from flush(p)


async def publish_tick(settings: Settings, at_ms: int, codec: EventCodec | None = None) -> dict[int, int]:
    """One hourly ``PeriodTicked`` at ``at_ms`` (truncated to the hour) on every partition.

    Every partition gets it, so each account sees the tick at one place in its own order, the
    same live and on a rebuild. Publishing the same hour twice is harmless: a tick that finds
    nothing to do changes nothing. Returns the offset after each tick, per partition.
    """
    from projections.events import PeriodTicked, TickKind
    from projections.periods import period_of

    hour_ms = at_ms - at_ms % 3_600_000
    codec = codec or codec_for(settings)
    tick = PeriodTicked(f"tick:{hour_ms}", hour_ms, TickKind.HOUR, period_of(hour_ms, "UTC"), "UTC")
    value = codec.encode(tick)
    return await produce_raw(settings, settings.events_topic,
                             [(p, b"tick", value) for p in range(settings.partitions)])


async def produce_raw(settings: Settings, topic: str,
                      items: list[tuple[int, bytes | None, bytes]]) -> dict[int, int]:
    """Produce raw (partition, key, value) messages: for bad-input tests and replays.

    Returns the offset after the last message sent, per partition.
    """
    await ensure_topics(settings)  # created with their retention, never by a first write's defaults
    producer = new_producer(settings)
    await producer.start()
    next_offsets: dict[int, int] = {}
    try:
        for partition, key, value in items:
            md = await producer.send_and_wait(topic, value=value, key=key, partition=partition)
            next_offsets[md.partition] = max(next_offsets.get(md.partition, 0), md.offset + 1)
    finally:
        await producer.stop()
    return next_offsets

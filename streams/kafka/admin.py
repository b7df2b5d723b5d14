"""Topic administration and offsets: create and check topics, read committed and first offsets,
and prove a range of offsets empty (the in-order guard's question)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.config.settings import Settings
from streams.kafka.security import client_kwargs


async def committed_offsets(settings: Settings, partitions: Iterable[int] | None = None,
                            group_id: str | None = None, topic: str | None = None) -> dict[int, int]:
    """A topic's committed offsets of a consumer group, per partition (the events topic's and
    the worker group's unless told otherwise).

    Asked through the admin client (OffsetFetch), never through a consumer carrying the group's
    id, so that looking never disturbs the group's members.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker, request_timeout_ms=10_000, **client_kwargs(settings))
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await admin.start()
        # Partitions are named: Tansu 0.6 answers an all-partitions OffsetFetch with bytes
        # aiokafka cannot parse.
        topic = topic or settings.events_topic
        wanted = [TopicPartition(topic, p) for p in (range(settings.partitions) if partitions is None else partitions)]
        offsets = await admin.list_consumer_group_offsets(group_id or settings.app_id, partitions=wanted)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


async def beginning_offsets(settings: Settings, partitions: Iterable[int], topic: str | None = None) -> dict[int, int]:
    """The first offset still in the log, per partition of a topic (the events topic by default)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker, enable_auto_commit=False, group_id=None,
                                **client_kwargs(settings))
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await consumer.start()
        tps = [TopicPartition(topic or settings.events_topic, p) for p in partitions]
        return {tp.partition: offset for tp, offset in (await consumer.beginning_offsets(tps)).items()}
    finally:
        await consumer.stop()


@asynccontextmanager
async def _reading_at(bootstrap: str, topic: str, partition: int, start: int,
                      security: dict | None) -> AsyncIterator[tuple[AIOKafkaConsumer, TopicPartition]]:
    """A group-less consumer of one partition, positioned at ``start``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="earliest", **(security or {}))
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await consumer.start()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        yield consumer, tp
    finally:
        await consumer.stop()


async def data_in_range(bootstrap: str, topic: str, partition: int, start: int, end: int,
                        timeout_s: float = 30.0, security: dict | None = None) -> bool:
    """Whether any record a consumer can read sits at an offset in ``[start, end)``.

    Transaction markers and compacted-away records leave offsets without data; a consumer never
    sees them. Used to tell such a gap from records that were fetched and then dropped.
    """
    async with _reading_at(bootstrap, topic, partition, start, security) as (consumer, tp):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=1)
            for record in batch.get(tp, []):
                if record.offset >= start:
                    return record.offset < end
        raise TimeoutError(f"{topic}/{partition}: no record at or after offset {start} within {timeout_s} s")


class RangeTooLarge(RuntimeError):
    """More records in a range than the caller would hold in memory."""


async def records_in_range(bootstrap: str, topic: str, partition: int, start: int, end: int, *,
                           records_max: int, bytes_max: int, timeout_s: float = 30.0,
                           security: dict | None = None) -> list:
    """Every record a consumer can read at an offset in ``[start, end)``, in order. Raises
    ``RangeTooLarge`` past ``records_max`` records or ``bytes_max`` bytes of values."""
    found: list = []
    size = 0
    async with _reading_at(bootstrap, topic, partition, start, security) as (consumer, tp):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            for record in (await consumer.getmany(tp, timeout_ms=500, max_records=500)).get(tp, []):
                if record.offset >= end:
                    return found
                if record.offset >= start:
                    found.append(record)
                    size += len(record.value or b"")
                    if len(found) > records_max or size > bytes_max:
                        raise RangeTooLarge(f"{topic}/{partition}: over {records_max} records or {bytes_max} "
                                            f"bytes in {start}..{end - 1}")
            if found and found[-1].offset >= end - 1:
                return found
        raise TimeoutError(f"{topic}/{partition}: offsets {start}..{end - 1} not read within {timeout_s} s")


async def committed_lag(settings: Settings, next_offsets: dict[int, int]) -> int:
    """Messages up to ``next_offsets`` (per partition) not yet committed by the worker group."""
    committed = await committed_offsets(settings, next_offsets.keys())
    return sum(max(0, target - committed.get(p, 0)) for p, target in next_offsets.items())

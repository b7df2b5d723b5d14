"""Reading topics back: a whole topic up to its end, and the accounts table's latest states."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import EventCodec
from streams.config.settings import Settings
from streams.kafka.codec import codec_for
from streams.kafka.security import client_kwargs


async def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0, idle_s: float = 1.5,
                     security: dict | None = None, starts: dict[int, int] | None = None) -> list:
    """Every record of a topic from offset 0 (or, per partition, from ``starts``), for topics
    whose writers have stopped, in (partition, offset) order. ``topic_batches`` says when the
    reading ends."""
    records = []
    async with contextlib.aclosing(topic_batches(bootstrap, topic, timeout_s, idle_s, security, starts)) as batches:
        async for batch in batches:
            records.extend(batch)
    records.sort(key=lambda r: (r.partition, r.offset))
    return records


async def topic_batches(bootstrap: str, topic: str, timeout_s: float = 60.0, idle_s: float = 1.5,
                        security: dict | None = None, starts: dict[int, int] | None = None) -> AsyncIterator[list]:
    """A topic's records from offset 0 (or, per partition, from ``starts``) as fetched: each
    partition's in log order, partitions interleaved. A reader that holds only what it keeps
    (``streams/ledger/dead_letters.py``) can so read a topic larger than its memory, and stop
    early (close the generator: ``contextlib.aclosing``).

    It reads at least up to the end offsets the broker reports when it starts, so a slow fetch
    on a loaded machine cannot cut the result short. It then goes on until nothing new arrives
    for ``idle_s``, because Tansu 0.6 reports too low an end offset for partitions written in
    multi-record batches (see ``produce_events``). ``TimeoutError`` if the end is not reached
    within ``timeout_s``.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None, **(security or {}))
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await consumer.start()
        await consumer.topics()  # loads metadata for every topic
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:
            if starts and starts.get(tp.partition):
                consumer.seek(tp, starts[tp.partition])
        ends = await consumer.end_offsets(tps)
        next_offset = {tp: (starts or {}).get(tp.partition, 0) for tp in tps}
        async for batch in _until_quiet(consumer, topic, tps, ends, next_offset, timeout_s, idle_s):
            yield batch
    finally:
        await consumer.stop()


async def _until_quiet(consumer: AIOKafkaConsumer, topic: str, tps: list, ends: dict, next_offset: dict,
                       timeout_s: float, idle_s: float) -> AsyncIterator[list]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    quiet_since = loop.time()
    while True:
        reached = all(next_offset[tp] >= ends[tp] for tp in tps)
        # Quiet counts only once every partition has answered a fetch (aiokafka knows its high
        # watermark then): on a loaded machine the first fetch can take longer than idle_s.
        if not all(consumer.highwater(tp) is not None for tp in tps):
            quiet_since = loop.time()
        elif reached and loop.time() - quiet_since >= idle_s:
            return
        if loop.time() > deadline:
            behind = {tp.partition: (next_offset[tp], ends[tp]) for tp in tps if next_offset[tp] < ends[tp]}
            raise TimeoutError(f"{topic}: not read to its end within {timeout_s} s "
                               f"(partition: (read up to, end offset) {behind})")
        batch = await consumer.getmany(timeout_ms=300, max_records=50_000)
        if any(batch.values()):
            quiet_since = loop.time()
            for tp, recs in batch.items():
                next_offset[tp] = max(next_offset[tp], recs[-1].offset + 1)
                yield recs


async def end_offsets(bootstrap: str, topic: str, security: dict | None = None) -> dict[int, int]:
    """Per partition, the end offset the broker reports: a lower bound of where the next record
    goes (Tansu 0.6 may report less than the true end, never more)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                **(security or {}))
    try:
        await consumer.start()
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(tps)).items()} if tps else {}
    finally:
        await consumer.stop()


async def read_account_states(settings: Settings, codec: EventCodec | None = None, timeout_s: float = 30.0) -> dict:
    """The accounts table as the worker left it: the newest state per key in its changelog."""
    codec = codec or codec_for(settings)
    latest = await read_latest_values(settings, settings.accounts_changelog_topic(), timeout_s)
    return {k.decode(): codec.decode_state(v) for k, v in latest.items()}


async def read_latest_values(settings: Settings, topic: str, timeout_s: float = 30.0) -> dict[bytes, bytes]:
    """The newest value per key of a keyed topic (a changelog), keys whose newest is a
    tombstone left out. Read as fetched, holding one value per key and never every record: an
    uncompacted changelog (Tansu never compacts) holds each state as often as it was written."""
    latest: dict[bytes, bytes | None] = {}
    async with contextlib.aclosing(topic_batches(settings.broker, topic, timeout_s, security=client_kwargs(settings))) \
            as batches:
        async for batch in batches:
            for record in batch:  # a key lives in one partition, whose records come in log order
                latest[record.key] = record.value
    return {k: v for k, v in latest.items() if v is not None}

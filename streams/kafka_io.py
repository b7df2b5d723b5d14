"""Kafka plumbing outside the worker: create topics, produce events, read topics back.

Producers key every message by account and choose its partition with the same function the
worker checks (``partition_for``). CDRs can go one per message or in envelopes of many CDRs of
the same partition, which is how the ledger gets past Faust's per-message cost.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Iterable, Iterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from projections.events import AccountEvent, CallDetailRecord
from schemas.codec import EventCodec
from streams.kafka_security import client_kwargs
from streams.config import ConfigError, Settings
from streams.sealing import sealer_for
from streams.processor import partition_for


def codec_for(settings: Settings) -> EventCodec:
    """The codec with the configured registry: a Schema Registry's, or the committed files'."""
    if settings.schema_registry_url:
        from schemas.confluent import ConfluentSchemaRegistry

        return EventCodec(ConfluentSchemaRegistry(settings.schema_registry_url))
    return EventCodec()


async def ensure_topics(settings: Settings) -> None:
    """Create the events, output and rates topics, if missing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker, request_timeout_ms=10_000, **client_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=settings.partitions, replication_factor=settings.replication_factor)
            for name in (settings.events_topic, settings.dead_letter_topic, settings.ledger_entries_topic,
                         settings.calls_rated_topic, settings.account_status_topic,
                         settings.invoices_topic)
            if name not in existing
        ]
        # One partition each: the numbering stage sees every events partition's drafts in one
        # order and gives one sequence per issuer (projections/numbering.py).
        wanted += [NewTopic(name, num_partitions=1, replication_factor=settings.replication_factor)
                   for name in (settings.invoice_numbering_topic, settings.invoice_numbers_topic)
                   if name not in existing]
        if settings.rates_topic not in existing:
            # One partition: a card's parts and the cards keep one order. Compacted: keys are
            # card_id/part and cards are immutable, so compaction only drops re-sent parts.
            wanted.append(NewTopic(settings.rates_topic, num_partitions=1,
                                   replication_factor=settings.replication_factor,
                                   topic_configs={"cleanup.policy": "compact"}))
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
        await _check_partition_counts(admin, settings, existing)
    finally:
        await admin.close()


async def _check_partition_counts(admin: AIOKafkaAdminClient, settings: Settings, existing: set[str]) -> None:
    """Refuse to run when a topic keyed by account has another partition count than ``partitions``.

    An account's partition is murmur2(account) mod the count: with another count, producers and
    the worker would disagree on where accounts live (every event dead-lettered as ``misrouted``),
    states would sit in the wrong changelog partitions, and the invoice numbering stage would
    wait for ticks from partitions that do not exist. Kafka lets anyone add partitions to a topic,
    so this is checked at every start, before any event is read."""
    # The changelog only once Faust has made it (asking a broker about a missing topic may create it).
    changelog = settings.accounts_changelog_topic()
    described = await admin.describe_topics([settings.events_topic, *([changelog] if changelog in existing else [])])
    for topic in described:
        count = len(topic.get("partitions") or ())
        if topic.get("error_code", 0) or not count:
            continue  # not there (yet): Faust creates the changelog with the configured count
        if count != settings.partitions:
            raise ConfigError(
                f"partitions: topic {topic['topic']} has {count} partitions, but partitions = {settings.partitions}. "
                "An account's partition is murmur2(account) mod the partition count, so the two must agree; "
                "changing the count needs the workers stopped and the state rebuilt from the log (README: "
                "Partitions, keys and state)")


def new_producer(settings: Settings) -> AIOKafkaProducer:
    # No idempotent producer: Tansu lacks InitProducerId. Duplicates a retry might cause are
    # harmless because the fold is idempotent.
    return AIOKafkaProducer(
        **client_kwargs(settings), bootstrap_servers=settings.broker, enable_idempotence=False, acks="all", linger_ms=5,
        max_batch_size=settings.producer_batch_bytes_max(), max_request_size=8_388_608, request_timeout_ms=30_000,
    )


def plan_messages(events: Iterable[AccountEvent], codec: EventCodec, partitions: int,
                  envelope_max: int) -> Iterator[tuple[int, bytes, bytes]]:
    """(partition, key, value) per message, keeping every account's events in input order.

    With ``envelope_max > 1`` CDRs of one partition are packed into envelopes. A non-CDR event
    flushes its partition's pending envelope only if that envelope holds a CDR of the same
    account, which is all per-account order needs.
    """
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


async def produce_events(settings: Settings, events: Iterable[AccountEvent], *, envelope_max: int = 1,
                         codec: EventCodec | None = None, progress=None) -> dict[int, int]:
    """Produce events to the events topic.

    Returns, per partition, the offset after the last message sent (from the broker's acks).
    Progress is measured against these: Tansu 0.6's ListOffsets answers with a count of record
    batches rather than the next offset, so end offsets cannot be trusted on it.
    This is an edge of the log: personal fields are sealed here (``streams/sealing.py``).
    """
    codec = codec or codec_for(settings)
    sealer = sealer_for(settings)
    if sealer is not None:
        events = map(sealer.seal_event, events)
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
        await producer.stop()
    return next_offsets


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


async def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0, idle_s: float = 1.5,
                     security: dict | None = None) -> list:
    """Every record of a topic from offset 0, for topics whose writers have stopped.

    It reads at least up to the end offsets the broker reports when it starts, so a slow fetch
    on a loaded machine cannot cut the result short. It then goes on until nothing new arrives
    for ``idle_s``, because Tansu 0.6 reports too low an end offset for partitions written in
    multi-record batches (see ``produce_events``).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None, **(security or {}))
    await consumer.start()
    try:
        await consumer.topics()  # loads metadata for every topic
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        next_offset = {tp: 0 for tp in tps}
        records = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        quiet_since = loop.time()
        while True:
            reached = all(next_offset[tp] >= ends[tp] for tp in tps)
            if reached and loop.time() - quiet_since >= idle_s:
                break
            if loop.time() > deadline:
                behind = {tp.partition: (next_offset[tp], ends[tp]) for tp in tps if next_offset[tp] < ends[tp]}
                raise TimeoutError(f"{topic}: not read to its end within {timeout_s} s "
                                   f"(partition: (read up to, end offset) {behind})")
            batch = await consumer.getmany(timeout_ms=300, max_records=50_000)
            if any(batch.values()):
                quiet_since = loop.time()
                for tp, recs in batch.items():
                    records.extend(recs)
                    next_offset[tp] = max(next_offset[tp], recs[-1].offset + 1)
        records.sort(key=lambda r: (r.partition, r.offset))
        return records
    finally:
        await consumer.stop()


async def committed_offsets(settings: Settings, partitions: Iterable[int] | None = None,
                            group_id: str | None = None, topic: str | None = None) -> dict[int, int]:
    """A topic's committed offsets of a consumer group, per partition (the events topic's and
    the worker group's unless told otherwise).

    Asked through the admin client (OffsetFetch), never through a consumer carrying the group's
    id, so that looking never disturbs the group's members.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker, request_timeout_ms=10_000, **client_kwargs(settings))
    await admin.start()
    try:
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
    await consumer.start()
    try:
        tps = [TopicPartition(topic or settings.events_topic, p) for p in partitions]
        return {tp.partition: offset for tp, offset in (await consumer.beginning_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def data_in_range(bootstrap: str, topic: str, partition: int, start: int, end: int,
                        timeout_s: float = 30.0, security: dict | None = None) -> bool:
    """Whether any record a consumer can read sits at an offset in ``[start, end)``.

    Transaction markers and compacted-away records leave offsets without data; a consumer never
    sees them. Used to tell such a gap from records that were fetched and then dropped.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="earliest", **(security or {}))
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=1)
            for record in batch.get(tp, []):
                if record.offset >= start:
                    return record.offset < end
        raise TimeoutError(f"{topic}/{partition}: no record at or after offset {start} within {timeout_s} s")
    finally:
        await consumer.stop()


async def committed_lag(settings: Settings, next_offsets: dict[int, int]) -> int:
    """Messages up to ``next_offsets`` (per partition) not yet committed by the worker group."""
    committed = await committed_offsets(settings, next_offsets.keys())
    return sum(max(0, target - committed.get(p, 0)) for p, target in next_offsets.items())


async def read_account_states(settings: Settings, codec: EventCodec | None = None) -> dict:
    """The accounts table as the worker left it: the newest state per key in its changelog."""
    codec = codec or codec_for(settings)
    latest: dict[bytes, bytes | None] = {}
    for record in await read_topic(settings.broker, settings.accounts_changelog_topic(), timeout_s=30,
                                   security=client_kwargs(settings)):
        latest[record.key] = record.value
    return {k.decode(): codec.decode_state(v) for k, v in latest.items() if v is not None}

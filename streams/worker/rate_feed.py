"""The rates topic: publishing rate cards, and following them from a worker.

``voiceledger rates import`` publishes a card as ``RateCardPublished`` parts to the rates topic
(one partition, so parts and cards keep one order; compacted, keyed ``card_id/part``, so the
book never expires). Every worker reads the whole topic with its own group-less consumer and
reads it to its end again before a batch (``RateFeed.catch_up``) whenever its last look is
older than ``refresh_seconds``, so a card logged before a call is known before that call is
rated. When a card takes effect, and why that makes a rebuild rate exactly as live did, is in
``projections/rate_book.py``.

Why a look may be skipped: a card can price only calls that start at least ``lead`` after it
was logged, and a call's CDR is logged at most ``skew`` before it starts, so the CDR is logged at
least ``lead - skew`` after the card. A worker that looked less than ``lead - skew`` ago cannot
be rating such a CDR yet. Half that margin (at most 5 s) leaves room for clock differences; with
no margin (lead == skew) the feed looks before every batch. Looking costs one ListOffsets round
trip, ~13% of pipeline throughput when done every batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.events import RateCardPublished
from projections.rate_book import RateBook, card_to_parts
from projections.rating import RateCard
from schemas.codec import DecodeError, EventCodec
from streams.observe import metrics
from streams.kafka.security import client_kwargs
from streams.config.settings import Settings
from streams.kafka.codec import codec_for
from streams.kafka.topics import RECORD_BYTES_MAX, ensure_topics
from streams.kafka.producer import new_producer

log = logging.getLogger("voiceledger.rates")


@dataclass(frozen=True)
class Refusal:
    """A rates-topic record the book could not take: it goes to the dead-letter topic."""

    offset: int
    code: str
    reason: str
    value: bytes


class RateFeed:
    """A worker's view of the rates topic: the book of cards, caught up on demand."""

    def __init__(self, settings: Settings, codec: EventCodec | None = None) -> None:
        self.settings = settings
        self.codec = codec or codec_for(settings)
        self.book = RateBook(lead_ms=settings.rate_card_lead_seconds * 1000)
        self._tp = TopicPartition(settings.rates_topic, 0)
        self._consumer: AIOKafkaConsumer | None = None
        self._next = 0
        margin_s = settings.rate_card_lead_seconds - settings.max_clock_skew_seconds
        self.refresh_seconds = min(5.0, margin_s / 2)
        self._looked_at: float | None = None  # monotonic time of the last look
        self._lock = asyncio.Lock()  # one reader of the consumer at a time (start-up task, batches)
        self._refused: list[Refusal] = []  # for the next batch to dead-letter

    def take_refusals(self) -> list[Refusal]:
        """The records refused since the last call, whoever read them (start-up or a batch)."""
        refused, self._refused = self._refused, []
        return refused

    def due(self) -> bool:
        """Whether the next batch must look at the rates topic first (see module docstring)."""
        return self._looked_at is None or time.monotonic() - self._looked_at >= self.refresh_seconds

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(**client_kwargs(self.settings), bootstrap_servers=self.settings.broker,
                                    enable_auto_commit=False,
                                    group_id=None, auto_offset_reset="earliest",
                                    max_partition_fetch_bytes=RECORD_BYTES_MAX,  # a card part of the largest record
                                    # A fetch sent just before a pause still waits this long at
                                    # the broker, and the next look behind it (500 ms by default).
                                    fetch_max_wait_ms=100)
        await consumer.start()
        consumer.assign([self._tp])
        await consumer.seek_to_beginning(self._tp)
        # Paused between looks: a fetch waiting at the broker for new cards (up to 500 ms) holds
        # the connection, and the look's ListOffsets waited behind it (0.5 s a look, ~4% of a
        # worker's time, measured on Tansu; a broker answers a connection's requests in order).
        consumer.pause(self._tp)
        self._consumer = consumer

    def paused(self) -> bool:
        """Whether the consumer is paused (as between looks)."""
        return self._consumer is not None and self._tp in self._consumer.paused()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self, timeout_s: float = 60.0) -> None:
        """Read to the topic's end. ``book.version`` tells of new cards, ``take_refusals`` of bad records."""
        async with self._lock:
            return await self._catch_up(timeout_s)

    async def _catch_up(self, timeout_s: float) -> None:
        if self._consumer is None:
            await self.start()
        consumer = self._consumer
        assert consumer is not None
        looked_at = time.monotonic()
        end = (await consumer.end_offsets([self._tp]))[self._tp]
        if self._next < end:
            consumer.resume(self._tp)
            try:
                await self._read_to(consumer, end, timeout_s)
            finally:
                consumer.pause(self._tp)
        self._looked_at = looked_at
        metrics.RATE_CARDS.set(len(self.book.effective))

    async def _read_to(self, consumer: AIOKafkaConsumer, end: int, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._next < end:
            if loop.time() > deadline:
                raise TimeoutError(f"{self.settings.rates_topic}: not read to offset {end} within {timeout_s} s "
                                   f"(at {self._next})")
            batch = await consumer.getmany(self._tp, timeout_ms=500)
            records = batch.get(self._tp, [])
            if not records:
                continue
            self._next = records[-1].offset + 1
            # Decoding and checking a 200k-prefix card takes seconds of CPU: off the event loop,
            # so the consumer group's heartbeats go on meanwhile.
            self._refused.extend(await loop.run_in_executor(None, self._take_all, records))

    def _take_all(self, records: list) -> list[Refusal]:
        refusals = (self._take(r.offset, r.timestamp, r.value) for r in records)
        return [r for r in refusals if r is not None]

    def _take(self, offset: int, log_time_ms: int, value: bytes) -> Refusal | None:
        """Add one record to the book; the refusal if it was refused."""
        try:
            part = self.codec.decode_event(value)
        except DecodeError as exc:
            return self._refuse(offset, exc.code, str(exc), value)
        if not isinstance(part, RateCardPublished):
            return self._refuse(offset, "not_a_rate_card",
                                f"{type(part).__name__} does not belong on the rates topic", value)
        card, reason = self.book.add(part, log_time_ms)
        if reason is not None:
            return self._refuse(offset, "rate_card_refused", reason, value)
        if card is not None:
            log.warning("rate card %s (%s, %d destinations) takes effect at %d ms", card.card_id, card.currency,
                        len(card.destinations), self.book.effective[card.card_id].valid_from_ms)
        return None

    def _refuse(self, offset: int, code: str, reason: str, value: bytes) -> Refusal:
        log.error("rates topic offset %d refused (%s): %s", offset, code, reason)
        metrics.EVENTS_REJECTED.labels(topic=self.settings.rates_topic, reason=code).inc()
        return Refusal(offset, code, reason, value)


async def read_rate_book(settings: Settings) -> tuple[RateCard, ...]:
    """Every usable published card, read from the start: for oracles, ``verify`` and tests."""
    feed = RateFeed(settings)
    try:
        await feed.catch_up()
    finally:
        await feed.stop()
    return feed.book.effective_cards()


async def publish_card(settings: Settings, card: RateCard, *, event_id: str, published_at_ms: int) -> int:
    """Publish ``card`` as parts to the rates topic; returns how many parts were sent.

    A re-run after a failure re-sends the same parts (same keys and content), which the book
    takes as re-sends, not changes.
    """
    await ensure_topics(settings)
    codec = codec_for(settings)
    parts = card_to_parts(card, event_id=event_id, published_at_ms=published_at_ms)
    producer = new_producer(settings)
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await producer.start()
        futures = [await producer.send(settings.rates_topic, key=f"{card.card_id}/{p.part}".encode(),
                                       value=codec.encode(p), partition=0) for p in parts]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(parts)

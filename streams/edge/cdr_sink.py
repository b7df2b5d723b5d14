"""Where the edge puts carriers' CDRs: good calls on the events topic, bad records on the
dead-letter topic with their reason, for every way CDRs arrive (a file, a followed file, an
HTTP push).

A call is sealed first (R32: caller and callee with the subscriber's key, deterministic, so a
re-sent call is still a duplicate), then packed with the calls of its partition into envelopes
of up to ``envelope_max`` (the worker pays its per-message cost once per envelope). A rejected
record goes to the dead-letter topic as it was read, with where it came from (``source_topic``
``file:<path>`` or ``http:<carrier>``, ``source_offset`` its line or request number), because
its account may be unknown. ``flush`` returns once the broker has acknowledged everything sent:
only then may a caller say a CDR is on the log (an HTTP answer, a followed file's position).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from projections.events import CallDetailRecord
from streams.config.settings import Settings
from streams.edge.cdr import CdrRejected
from streams.edge.sealing import SealError, sealer_for
from streams.kafka.codec import codec_for
from streams.kafka.producer import new_producer, plan_messages
from streams.kafka.topics import ensure_topics

PENDING_MAX = 5_000  # sends in flight before the sink waits for their acknowledgements


@dataclass
class SinkCounts:
    produced: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)


class CdrSink:
    def __init__(self, settings: Settings, envelope_max: int = 200) -> None:
        self.settings = settings
        self.codec = codec_for(settings)
        self.envelope_max = envelope_max
        self.counts = SinkCounts()
        self._producer: Any = None
        self._sealer = None
        self._pending: list[asyncio.Future] = []
        # (topic, partition) -> the offset after the last record the broker acknowledged from us.
        self.acked: dict[tuple[str, int], int] = {}

    async def start(self) -> None:
        await ensure_topics(self.settings)  # created with their retention, never by a first write's defaults
        self._sealer = sealer_for(self.settings)
        self._producer = new_producer(self.settings)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    def past_retention(self, cdr: CallDetailRecord) -> CdrRejected | None:
        """R31: a call older than the retention cannot be sealed: its month's key is destroyed."""
        if self._sealer is not None and self._sealer.past_retention(cdr):
            return CdrRejected("past_retention", "the call is older than the retention: its month's key is destroyed "
                                                 "(R31)")
        return None

    def unsendable(self, cdr: CallDetailRecord) -> CdrRejected | None:
        """Why a parsed call can never go on the log as it is: past retention (R31), or a value
        the log's encoding refuses, such as text that is not Unicode (a lone surrogate escape,
        ``\\ud800``, which JSON allows) or a number past 64 bits. The call's own dead letter,
        before it is sealed or joins other calls in an envelope, so it never fails them."""
        rejected = self.past_retention(cdr)
        if rejected is None:
            try:
                self.codec.encode(cdr)
            except Exception as exc:  # whatever the encoder refuses: the record, not the worker
                return CdrRejected("unencodable", f"{type(exc).__name__}: {str(exc)[:200]}")
        return rejected

    def refusal(self, cdr: CallDetailRecord) -> CdrRejected | None:
        """Why a file's parsed call cannot go on the log: ``unsendable``, or a key store that
        cannot seal it (a key file that is not a key). Either is a dead letter for this call
        alone, so one subscriber's broken key never holds back a file or a followed feed. (The
        receiver answers a key store's failure with 503 instead: the switch keeps the CDR.)"""
        rejected = self.unsendable(cdr)
        if rejected is None and self._sealer is not None:
            try:
                self._sealer.check(cdr)
            except SealError as exc:
                return CdrRejected("key_store_unreadable", str(exc))
        return rejected

    def seal(self, cdr: CallDetailRecord) -> CallDetailRecord:
        """R32: the call with its numbers sealed (as it is, when sealing is off). Raises
        ``SealError`` when the key store cannot seal it."""
        return cdr if self._sealer is None else self._sealer.seal_event(cdr)

    async def calls(self, cdrs: list[CallDetailRecord], sealed: bool = False) -> list[asyncio.Future]:
        """Send good calls to the events topic (acknowledged by ``flush``, or by ``acknowledged``
        of the sends returned)."""
        if self._sealer is not None and not sealed:
            cdrs = self._sealer.seal_events(cdrs)
        s = self.settings
        sends = [await self._send(s.events_topic, key, value, partition)
                 for partition, key, value in plan_messages(cdrs, self.codec, s.partitions, self.envelope_max)]
        self.counts.produced += len(cdrs)
        return sends

    async def reject(self, source: str, number: int, raw: str, rejected: CdrRejected,
                     index: int = 0) -> asyncio.Future:
        """Send a bad record to the dead-letter topic with its reason (acknowledged as ``calls``).
        ``index``: the record's line within request ``number`` (a batch post), else 0."""
        self.counts.rejected += 1
        self.counts.reasons[rejected.code] += 1
        line = f"/{index}" if index else ""
        letter = self.codec.encode_dead_letter(
            reason_code=rejected.code, reason=f"{source}:{number}{line}: {rejected}", source_topic=source,
            source_partition=-1, source_offset=number, source_index=index, original=raw.encode())
        return await self._send(self.settings.dead_letter_topic, f"{source}/{number}{line}".encode(), letter)

    async def flush(self) -> None:
        """Every record sent so far is acknowledged by the broker (raises if one was not)."""
        pending, self._pending = self._pending, []
        self._note(await asyncio.gather(*pending))
        await self._producer.flush()

    async def acknowledged(self, sends: list[asyncio.Future]) -> None:
        """These sends are acknowledged by the broker (raises if one was not). The receiver
        answers each request for its own records: with ``flush``, a request could take another's
        sends off the list, so that a failed send was answered to the wrong request and the other
        told its call was on the log when it was not."""
        mine = {id(f) for f in sends}
        self._pending = [f for f in self._pending if id(f) not in mine]
        self._note(await asyncio.gather(*sends))

    def _note(self, delivered: list[Any]) -> None:
        for md in delivered:
            key = (md.topic, md.partition)
            self.acked[key] = max(self.acked.get(key, 0), md.offset + 1)

    def forget_keys(self) -> None:
        """Reload subscriber keys at the next call: an erasure between two files holds for the next."""
        if self._sealer is not None:
            self._sealer.forget()

    async def _send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> asyncio.Future:
        sent = await self._producer.send(topic, key=key, value=value, partition=partition)
        self._pending.append(sent)
        if len(self._pending) >= PENDING_MAX:
            await self.flush()
        return sent


class CallBatcher:
    """Live calls, one per HTTP request, sent in envelopes: each call waits up to ``linger_s``
    (the setting ``receiver_linger_ms``; a switch posts a CDR after the call has ended, so a few
    milliseconds more before its answer cost nobody) for the calls arriving beside it, then they go together, packed per partition, and every
    caller is answered once the broker has acknowledged its envelope (or with its error).

    Why: a worker pays Faust's cost per Kafka message, ~40-115 us, besides the fold's. One
    message per live CDR ran one worker at 3.1k-3.2k CDR/s where envelopes of 200 ran it at
    7.5k (``bench/pipeline.py --envelope 1``, 60k calls). How full the envelopes get depends on
    how many calls end within ``linger_s`` per partition (``bench/receiver.py``).

    Calls are sealed by the caller before they are added (``CdrSink.seal``), so one
    subscriber's key store failure is that request's answer alone."""

    def __init__(self, sink: CdrSink, linger_s: float) -> None:
        self.sink, self.linger_s = sink, linger_s
        self._waiting: list[tuple[CallDetailRecord, asyncio.Future]] = []
        self._sending: asyncio.Task | None = None

    async def send(self, cdr: CallDetailRecord) -> None:
        """Return once ``cdr`` (sealed) is acknowledged on the events topic; raise if it is not."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((cdr, done))
        if self._sending is None:
            self._sending = asyncio.create_task(self._after_linger())
        await done

    async def _after_linger(self) -> None:
        await asyncio.sleep(self.linger_s)
        waiting, self._waiting, self._sending = self._waiting, [], None
        try:
            # Its own sends only: another group's or request's failure is not this group's answer.
            await self.sink.acknowledged(await self.sink.calls([cdr for cdr, _ in waiting], sealed=True))
        except BaseException as exc:  # every caller of the group hears it (a 503: the switch retries)
            for _, done in waiting:
                if not done.done():
                    done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        for _, done in waiting:
            if not done.done():
                done.set_result(None)

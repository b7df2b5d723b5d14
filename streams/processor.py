"""One batch of Kafka messages in, everything the worker must write out.

This is the stream layer's logic without Faust: decode, route-check, group by account, call
the pure fold, and collect what to write (account states, call-log rows, dead letters). The
Faust agent in ``streams/app.py`` only feeds it messages and performs the writes, in the order
that keeps the exactly-once effect (call-log rows before state, state before the offset commit).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from aiokafka.partitioner import murmur2

from projections.account import (
    AccountState,
    Applied,
    Duplicate,
    FoldSettings,
    Positioned,
    Redelivered,
    Rejected,
    fold_batch,
)
from projections.events import CallDetailRecord
from schemas.codec import DecodeError, EventCodec, encode_journal_entry
from streams.call_log import call_log_row
from streams.journal_log import journal_rows
from streams import metrics


def partition_for(account_id: str, partitions: int) -> int:
    """The partition of an account: Kafka's default partitioner (murmur2 of the key bytes).

    Producers, the events topic and the accounts table changelog all use it, so an account's
    events and its state always live in the same partition number.
    """
    return (murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class InMessage:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes


@dataclass
class BatchResult:
    states: dict[str, AccountState] = field(default_factory=dict)
    call_rows: list[tuple] = field(default_factory=list)
    journal_rows: list[tuple] = field(default_factory=list)
    entries: list[tuple[bytes, bytes]] = field(default_factory=list)  # ledger.entries (key, value)
    dead_letters: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value)
    counts: Counter = field(default_factory=Counter)


def _event_type(event: object) -> str:
    return type(event).__name__


class BatchProcessor:
    def __init__(self, codec: EventCodec, settings: FoldSettings, partitions: int) -> None:
        assert partitions > 0
        self.codec = codec
        self.settings = settings
        self.partitions = partitions

    def _dead_letter(self, result: BatchResult, msg: InMessage, index: int, code: str,
                     reason: str, original: bytes) -> None:
        key = f"{msg.topic}/{msg.partition}/{msg.offset}/{index}".encode()
        value = self.codec.encode_dead_letter(
            reason_code=code, reason=reason, source_topic=msg.topic, source_partition=msg.partition,
            source_offset=msg.offset, source_index=index, original=original,
        )
        result.dead_letters.append((key, value))
        result.counts[f"rejected:{code}"] += 1
        metrics.EVENTS_REJECTED.labels(topic=msg.topic, reason=code).inc()

    def process(self, messages: list[InMessage],
                load_state: Callable[[str], AccountState | None]) -> BatchResult:
        result = BatchResult()
        by_account: dict[str, list[Positioned]] = {}
        origin: dict[int, tuple[InMessage, bool]] = {}  # id(Positioned) -> (message, enveloped)
        for msg in messages:
            try:
                events, enveloped = self.codec.decode_message(msg.value)
            except DecodeError as exc:
                self._dead_letter(result, msg, 0, exc.code, str(exc), msg.value)
                continue
            source = f"{msg.topic}/{msg.partition}"
            for index, event in enumerate(events):
                metrics.EVENTS_CONSUMED.labels(topic=msg.topic, type=_event_type(event)).inc()
                result.counts["consumed"] += 1
                if partition_for(event.account_id, self.partitions) != msg.partition:
                    original = self.codec.encode(event) if enveloped else msg.value
                    self._dead_letter(result, msg, index, "misrouted",
                                      f"account {event.account_id} belongs to partition "
                                      f"{partition_for(event.account_id, self.partitions)}, not {msg.partition}",
                                      original)
                    continue
                item = Positioned(source, msg.offset, index, msg.timestamp_ms, event)
                origin[id(item)] = (msg, enveloped)
                by_account.setdefault(event.account_id, []).append(item)

        for account_id, items in by_account.items():
            state = load_state(account_id)
            new_state, outcomes = fold_batch(state, items, self.settings)
            for outcome in outcomes:
                item = outcome.item
                msg, enveloped = origin[id(item)]
                if isinstance(outcome, Applied):
                    result.counts["applied"] += 1
                    metrics.EVENTS_APPLIED.labels(topic=msg.topic, type=_event_type(item.event)).inc()
                    if outcome.rated is not None:
                        assert isinstance(item.event, CallDetailRecord)
                        metrics.CALLS_RATED.labels(topic=msg.topic).inc()
                        result.call_rows.append(
                            call_log_row(item.event, outcome.rated, msg.partition, msg.offset, item.index)
                        )
                    if outcome.entry is not None:
                        result.journal_rows.extend(journal_rows(outcome.entry))
                        result.entries.append((outcome.entry.account_id.encode(),
                                               encode_journal_entry(self.codec, outcome.entry)))
                elif isinstance(outcome, Duplicate):
                    result.counts["duplicate"] += 1
                    metrics.EVENTS_DEDUPLICATED.labels(topic=msg.topic).inc()
                elif isinstance(outcome, Redelivered):
                    result.counts["redelivered"] += 1
                    metrics.EVENTS_REDELIVERED.labels(topic=msg.topic).inc()
                elif isinstance(outcome, Rejected):
                    original = self.codec.encode(item.event) if enveloped else msg.value
                    self._dead_letter(result, msg, item.index, outcome.code, outcome.reason, original)
            if new_state is not None and new_state is not state:
                result.states[account_id] = new_state
        return result

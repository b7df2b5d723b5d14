"""Records the consumer skipped are read from the broker and folded in log order with the batch,
instead of stopping the worker (exit 75): the guard returns them, holds Faust's commit over their
offsets until the batch's effects are written (``release``), and stops the worker only for a gap
too large to hold in memory."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

import streams.worker.in_order as in_order
from streams.config.settings import Settings
from streams.kafka.admin import RangeTooLarge
from streams.worker.exits import RecordsDropped
from streams.worker.in_order import InOrderGuard


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes


@pytest.fixture
def guard(monkeypatch):
    log = {p: [Record("events", p, o, 1_000 + o, f"v{p}/{o}".encode()) for o in range(0, 50) if o not in (30, 31)]
           for p in (0, 1)}  # offsets 30 and 31 hold no record (compaction, markers)

    async def committed(settings, partitions, **_):  # noqa: ANN001, ANN202
        return {p: 10 for p in partitions}

    async def read(bootstrap, topic, partition, start, end, *, records_max, **_):  # noqa: ANN001, ANN202
        found = [r for r in log[partition] if start <= r.offset < end]
        if len(found) > records_max:
            raise RangeTooLarge("too many")
        return found

    monkeypatch.setattr(in_order, "committed_offsets", committed)
    monkeypatch.setattr(in_order, "records_in_range", read)
    marked: list[tuple[int, int, int]] = []
    g = InOrderGuard(Settings(), {}, lambda p, start, end: marked.append((p, start, end)))
    g.marked = marked  # type: ignore[attr-defined]
    return g


def test_skipped_records_are_read_and_released_only_after_the_batch(guard):
    fills = asyncio.run(guard.check([(0, 14), (0, 15), (1, 10), (0, 16)]))
    assert [(m.partition, m.offset) for m in fills] == [(0, 10), (0, 11), (0, 12), (0, 13)]
    assert fills[0].value == b"v0/10" and fills[0].timestamp_ms == 1_010
    assert guard.marked == []  # Faust may not commit over them before their effects are written
    guard.release()
    assert guard.marked == [(0, 10, 14)]
    guard.advance([(0, 10), (0, 11), (0, 12), (0, 13), (0, 14), (0, 15), (1, 10), (0, 16)])
    assert guard.next_offset(0) == 17 and guard.next_offset(1) == 11


def test_a_gap_without_records_is_marked_at_once_and_nothing_is_filled(guard):
    asyncio.run(guard.check([(0, 10)]))
    guard.advance([(0, 10)] + [(0, o) for o in range(11, 30)])
    assert asyncio.run(guard.check([(0, 32)])) == [] and guard.marked == [(0, 30, 32)]


def test_a_gap_too_large_to_hold_stops_the_worker(guard, monkeypatch):
    monkeypatch.setattr(in_order, "FILL_RECORDS_MAX", 3)
    with pytest.raises(RecordsDropped, match="too many to fill"):
        asyncio.run(guard.check([(1, 20)]))

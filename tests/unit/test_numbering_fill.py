"""Records of the numbering topic that Faust skipped are read from the broker and applied in
log order with the batch, instead of stopping the worker (exit 75) and with it every partition
it owns: the numbers are those of a stage that saw every record, Faust may commit over the
filled offsets only once the batch is written, and a gap too large to hold stops the worker as
before. (The events agent does the same: ``tests/unit/test_in_order_fill.py``.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import pytest

import streams.worker.in_order as in_order
import streams.worker.numbering as stage_module
from projections import numbering
from projections.numbering import Draft, TickPassed
from schemas.codec import EventCodec
from streams.config.settings import Settings
from streams.kafka.admin import RangeTooLarge
from streams.worker.commit import BatchCommit
from streams.worker.exits import RecordsDropped
from streams.worker.numbering import NumberingStage

CODEC = EventCodec()
SETTINGS = replace(Settings(), partitions=2)
TICK = 1_796_000_000_000


@dataclass
class Record:  # what aiokafka gives, and Faust's event.message
    offset: int
    value: bytes


@dataclass
class Event:
    message: Record


def the_log() -> tuple[list[Record], list]:
    """Each events partition's drafts then its tick, as the fold sends them: 8 records."""
    items_by_record = []
    for p in (0, 1):
        for n in range(3):
            items_by_record.append((p, [Draft(f"VL-a{p}{n}-2026-1", f"a{p}{n}", "VL", 2026, TICK - 10 + n, p, n)]))
        items_by_record.append((p, [TickPassed(p, 10, TICK)]))
    records = [Record(i, CODEC.encode_numbering_batch(p, items)) for i, (p, items) in enumerate(items_by_record)]
    return records, [item for _, items in items_by_record for item in items]


class Journal(list):
    async def send(self, message):  # noqa: ANN001, ANN201 - BatchCommit's Sender
        self.append(("send", message.topic))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def insert(self, tables, mutations=()):  # noqa: ANN001, ANN201
        self.append(("insert", sum(len(rows) for _, _, rows in tables)))

    def put(self, key, value):  # noqa: ANN001, ANN201
        self.append(("put", key))

    async def flush(self):  # noqa: ANN201
        self.append(("flush",))


def run(delivered: list[int], log: list[Record], monkeypatch) -> tuple[Journal, NumberingStage]:
    async def read(bootstrap, topic, partition, start, end, *, records_max, **_):  # noqa: ANN001, ANN202
        found = [r for r in log if start <= r.offset < end]
        if len(found) > records_max:
            raise RangeTooLarge("too many")
        journal.append(("read", start, end))
        return found

    async def beginning(*_, **__):  # noqa: ANN202
        return {0: 0}

    monkeypatch.setattr(in_order, "records_in_range", read)
    monkeypatch.setattr(stage_module, "beginning_offsets", beginning)
    journal = Journal()
    stage = NumberingStage(SETTINGS, CODEC, {}, BatchCommit(journal, journal, journal), {},
                           lambda start, end: journal.append(("mark", start, end)))
    asyncio.run(stage.process([Event(r) for r in log if r.offset in delivered]))
    return journal, stage


def numbers_sent(journal: Journal) -> int:
    return sum(1 for step in journal if step == ("send", SETTINGS.invoice_numbers_topic))


def test_records_faust_skipped_are_read_and_applied_in_order_and_marked_after_the_write(monkeypatch):
    log, items = the_log()
    journal, stage = run([0, 1, 5, 7], log, monkeypatch)  # 2-4 and 6 skipped
    _, expected = numbering.number_all(2, items)
    assert len(expected) == 6 and numbers_sent(journal) == len(expected)
    assert stage.next_offset == len(log)
    reads = [step for step in journal if step[0] == "read"]
    assert reads == [("read", 2, 5), ("read", 6, 7)]
    marks = [i for i, step in enumerate(journal) if step[0] == "mark"]
    assert [journal[i] for i in marks] == [("mark", 2, 5), ("mark", 6, 7)]
    assert min(marks) > max(i for i, step in enumerate(journal) if step == ("flush",))  # after the state


def test_a_gap_too_large_to_hold_stops_the_worker_for_a_replay(monkeypatch):
    monkeypatch.setattr(in_order, "FILL_RECORDS_MAX", 2)
    log, _ = the_log()
    with pytest.raises(RecordsDropped):
        run([0, 7], log, monkeypatch)


def test_a_gap_with_no_records_is_marked_at_once(monkeypatch):
    log, items = the_log()
    gapped = [r for r in log if r.offset != 2]  # offset 2 a transaction marker
    journal, stage = run([0, 1, 3, 4, 5, 6, 7], gapped, monkeypatch)
    _, expected = numbering.number_all(2, [i for r in gapped for i in CODEC.decode_numbering_batch(r.value)])
    assert len(expected) == 5 and numbers_sent(journal) == len(expected) and stage.next_offset == len(log)
    assert ("mark", 2, 3) in journal and journal.index(("mark", 2, 3)) < journal.index(("flush",))


def test_a_tombstone_or_a_record_of_another_partition_count_is_dead_lettered_and_the_stage_goes_on(monkeypatch):
    # A foreign writer on the numbering topic: a record with no value (it used to raise TypeError,
    # which stopped the worker at every replay), and one from partition 7 of 2.
    log, items = the_log()
    foreign = [Record(len(log), None), Record(len(log) + 1, CODEC.encode_numbering_batch(
        7, [Draft("VL-y-2026-1", "y", "VL", 2026, TICK - 1, 7, 6)]))]
    journal, stage = run(list(range(len(log) + 2)), log + foreign, monkeypatch)
    _, expected = numbering.number_all(2, items)
    assert numbers_sent(journal) == len(expected) and stage.next_offset == len(log) + 2
    assert sum(1 for step in journal if step == ("send", SETTINGS.dead_letter_topic)) == 2

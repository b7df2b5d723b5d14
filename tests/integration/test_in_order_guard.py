"""The in-order guard asks the broker whether a gap in delivered offsets holds data. Against
the real broker: records that exist are found wherever the gap starts, including when the
broker answers a fetch with a batch that begins before the requested offset.

(A gap without data needs transaction markers or compaction, which Tansu does not have; that
branch is covered by ``tests/unit/test_sequence.py`` and is the documented Kafka behaviour.)
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from streams.config.settings import Settings
from streams.kafka.admin import beginning_offsets, data_in_range
from streams.kafka.topics import ensure_topics
from streams.kafka.producer import produce_raw


def test_data_in_range_finds_records_in_a_gap(broker):
    settings = replace(Settings(), broker=broker.bootstrap, broker_flavor="tansu", events_topic="guard.events",
                       dead_letter_topic="guard.dead-letter", ledger_entries_topic="guard.entries",
                       calls_rated_topic="guard.rated", partitions=1)
    asyncio.run(ensure_topics(settings))
    asyncio.run(produce_raw(settings, settings.events_topic, [(0, b"k", b"v%d" % i) for i in range(10)]))
    assert asyncio.run(data_in_range(broker.bootstrap, settings.events_topic, 0, 0, 1))
    assert asyncio.run(data_in_range(broker.bootstrap, settings.events_topic, 0, 4, 9))
    assert asyncio.run(beginning_offsets(settings, [0])) == {0: 0}


def test_records_in_range_reads_exactly_the_gap_and_refuses_one_too_large(broker):
    """What the guard folds in place of records the consumer skipped: exactly those offsets, in
    order, with their values and log times; a gap over the bound is refused (the worker replays)."""
    import pytest

    from streams.kafka.admin import RangeTooLarge, records_in_range

    settings = replace(Settings(), broker=broker.bootstrap, broker_flavor="tansu", events_topic="fill.events",
                       dead_letter_topic="fill.dead-letter", ledger_entries_topic="fill.entries",
                       calls_rated_topic="fill.rated", invoices_topic="fill.invoices",
                       account_status_topic="fill.status", invoice_numbering_topic="fill.numbering",
                       invoice_numbers_topic="fill.numbers", rates_topic="fill.rates",
                       settings_topic="fill.settings", erasure_requests_topic="fill.erasure-requests",
                       partitions=1)
    asyncio.run(produce_raw(settings, settings.events_topic, [(0, b"k", b"v%d" % i) for i in range(20)]))
    found = asyncio.run(records_in_range(broker.bootstrap, settings.events_topic, 0, 7, 12, records_max=100,
                                         bytes_max=1_000_000))
    assert [(r.offset, r.value) for r in found] == [(i, b"v%d" % i) for i in range(7, 12)]
    assert all(r.timestamp > 0 for r in found)
    with pytest.raises(RangeTooLarge):
        asyncio.run(records_in_range(broker.bootstrap, settings.events_topic, 0, 0, 20, records_max=5,
                                     bytes_max=1_000_000))

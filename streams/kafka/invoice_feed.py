"""Reading issued invoices and their legal numbers back from their topics (CLI, demo, rebuild).

Both topics are at-least-once: a replay after a crash may send a record again, identical, so
each invoice counts once by its reference and each number once by the reference it numbers.
"""

from __future__ import annotations

import asyncio

from projections.events import InvoiceIssued, InvoiceNumbered
from streams.config.settings import Settings
from streams.kafka.codec import codec_for
from streams.kafka.admin import committed_offsets
from streams.kafka.reader import read_topic
from streams.kafka.security import client_kwargs


def read_invoices(settings: Settings) -> list[InvoiceIssued]:
    """Every issued invoice once, by account and reference."""
    codec = codec_for(settings)
    by_number: dict[str, InvoiceIssued] = {}
    for record in asyncio.run(read_topic(settings.broker, settings.invoices_topic, security=client_kwargs(settings))):
        invoice = codec.decode_event(record.value)
        by_number.setdefault(invoice.invoice_number, invoice)
    return sorted(by_number.values(), key=lambda i: (i.account_id, i.invoice_number))


def read_invoice_numbers(settings: Settings) -> dict[str, InvoiceNumbered]:
    """Reference -> its legal number, for every invoice numbered so far."""
    codec = codec_for(settings)
    out: dict[str, InvoiceNumbered] = {}
    for record in asyncio.run(read_topic(settings.broker, settings.invoice_numbers_topic,
                                         security=client_kwargs(settings))):
        numbered = codec.decode_event(record.value)
        out.setdefault(numbered.reference, numbered)
    return out


def numbering_lag(settings: Settings) -> int:
    """Numbering-topic messages the worker group has not committed yet."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def ends() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker, group_id=None, enable_auto_commit=False,
                                    **client_kwargs(settings))
        try:  # stopped in finally even when start fails (no unclosed-client warnings)
            await consumer.start()
            await consumer.topics()
            if not consumer.partitions_for_topic(settings.invoice_numbering_topic):
                return 0  # not created yet: nothing was ever sent to it
            tp = TopicPartition(settings.invoice_numbering_topic, 0)
            return (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()

    end = asyncio.run(ends())
    committed = asyncio.run(committed_offsets(settings, [0], topic=settings.invoice_numbering_topic)).get(0, 0)
    return max(0, end - committed)


def gaps_by_issuer_year(numbers: dict[str, InvoiceNumbered]) -> dict[str, list[int]]:
    """Per "issuer year", the sequence numbers missing or given twice (empty: gapless)."""
    seqs: dict[str, list[int]] = {}
    for n in numbers.values():
        seqs.setdefault(f"{n.issuer} {n.year}", []).append(n.sequence)
    problems = {}
    for key, values in seqs.items():
        if sorted(values) != list(range(1, len(values) + 1)):
            problems[key] = sorted(set(range(1, max(values) + 1)) - set(values)) or sorted(values)
    return problems

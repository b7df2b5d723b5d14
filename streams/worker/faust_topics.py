"""The worker's Kafka topics, declared once on the Faust app, and the sender ``BatchCommit`` uses.
(What each topic must be on the broker, retention and partitions, is ``streams/kafka/topics.py``.)

Every topic is raw bytes both ways: the worker encodes and decodes with its own codec
(Confluent-framed Avro, ``schemas/codec.py``), keys are account ids or stable ids.
"""

from __future__ import annotations

from typing import Any, Awaitable

import faust

from streams.config.settings import Settings
from streams.worker.commit import OutMessage


def raw_topic(app: faust.App, name: str, partitions: int) -> Any:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                     partitions=partitions)


def output_topics(app: faust.App, settings: Settings) -> dict[str, Any]:
    """Every topic the worker writes, by name. The numbering topics have one partition: the
    numbering stage sees every events partition's drafts in one order (projections/numbering.py)."""
    keyed = (settings.dead_letter_topic, settings.calls_rated_topic, settings.account_status_topic,
             settings.invoices_topic, settings.ledger_entries_topic)
    topics = {name: raw_topic(app, name, settings.partitions) for name in keyed}
    for name in (settings.invoice_numbering_topic, settings.invoice_numbers_topic):
        topics[name] = raw_topic(app, name, 1)
    return topics


class TopicSender:
    """Sends an ``OutMessage`` through the Faust topic of its name; the future it returns
    resolves when the broker acknowledges the message."""

    def __init__(self, topics: dict[str, Any]) -> None:
        self.topics = topics

    async def send(self, message: OutMessage) -> Awaitable[object]:
        return await self.topics[message.topic].send(key=message.key, value=message.value,
                                                     partition=message.partition)

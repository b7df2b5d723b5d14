"""The log is kept: the ledger creates its topics itself with infinite retention for the events
topic (the source of truth), and a worker refuses, in one line, an events topic that expires, as
a stock Kafka's seven-day default would make it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.config.settings import ConfigError
from streams.kafka.topics import ensure_topics, require_kept_log, topic_differences
from streams.worker.supervise import worker_env


def cli(settings, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001 - Settings
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=worker_env(settings),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["chdb"])
def clickhouse_url(request, tmp_path):  # no ClickHouse work here: one engine is enough
    return f"chdb://{tmp_path / 'chdb'}"


def test_topics_ensure_creates_every_topic_with_its_retention(settings):
    run = cli(settings, "topics", "ensure", "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert settings.events_topic in report["topics"] and report["differences"] == {}
    assert asyncio.run(topic_differences(settings)) == {}  # the broker says what was asked for
    # The tables' changelogs too (compacted), and the broker says that every topic takes the
    # ledger's largest records (a state near the dedup bound passes a stock broker's 1 MB).
    assert {settings.accounts_changelog_topic(), settings.numbering_changelog_topic()} <= set(report["topics"])
    described = asyncio.run(described_configs(settings, report["topics"]))
    assert {c.get("max.message.bytes") for c in described.values()} == {str(8 * 1024 * 1024)}
    assert described[settings.accounts_changelog_topic()]["cleanup.policy"] == "compact"


async def described_configs(settings, topics: list[str]) -> dict[str, dict[str, str]]:  # noqa: ANN001 - Settings
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    return {r["resource_name"]: {e["config_names"]: e["config_value"] for e in r["config_entries"]}
            for response in responses for r in response.to_object()["resources"]}
    asyncio.run(require_kept_log(settings))


def test_a_worker_refuses_an_events_topic_that_expires(settings):
    async def create_with_a_week() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(settings.events_topic, settings.partitions, 1,
                                                topic_configs={"retention.ms": str(7 * 86_400_000)})])
        finally:
            await admin.close()

    asyncio.run(create_with_a_week())
    asyncio.run(ensure_topics(settings))  # the other topics; the events topic exists already
    with pytest.raises(ConfigError, match="^allow_finite_event_retention: the events topic .* retention.ms=604800000"):
        asyncio.run(require_kept_log(settings))
    worker = cli(settings, "worker")
    assert worker.returncode == 2, worker.stderr[-2000:]
    assert "voiceledger: error: allow_finite_event_retention:" in worker.stderr and "Traceback" not in worker.stderr
    asyncio.run(require_kept_log(replace(settings, allow_finite_event_retention=True)))  # the operator's choice
    ensure = cli(settings, "topics", "ensure")  # Tansu cannot alter configs: the difference is reported
    assert ensure.returncode == 1 and f"{settings.events_topic}: retention.ms=604800000 (wanted -1)" in ensure.stdout

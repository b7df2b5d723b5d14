"""A worker refuses to start when the events topic's partition count differs from ``partitions``.

Kafka lets anyone add partitions to a topic; an account's partition is murmur2(account) mod the
count, so after such a change producers and the worker would disagree on where accounts live
and the invoice numbering stage would wait for partitions that do not exist. The check runs at
every start, against the real broker, and says what to do in one line (no traceback).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from dataclasses import replace

import pytest

from streams.config.settings import ConfigError, Settings
from streams.worker.supervise import worker_env
from streams.dev.embedded import free_port
from streams.kafka.topics import ensure_topics


def test_a_worker_configured_for_another_partition_count_than_the_topic_refuses_to_start(broker, tmp_path):
    name = f"vl-{uuid.uuid4().hex[:10]}"
    settings = replace(
        Settings(), broker=broker.bootstrap, broker_flavor="tansu", app_id=name,
        events_topic=f"{name}.events", dead_letter_topic=f"{name}.dead-letter",
        ledger_entries_topic=f"{name}.ledger.entries", calls_rated_topic=f"{name}.calls.rated",
        rates_topic=f"{name}.rates", settings_topic=f"{name}.settings", account_status_topic=f"{name}.account.status",
        erasure_requests_topic=f"{name}.erasure-requests",
        invoices_topic=f"{name}.invoices", invoice_numbering_topic=f"{name}.invoice-numbering",
        invoice_numbers_topic=f"{name}.invoice-numbers", partitions=4, metrics_port=free_port(),
        clickhouse_url=f"chdb://{tmp_path / 'chdb'}", subscriber_keys_dir=str(tmp_path / "keys"),
    )
    asyncio.run(ensure_topics(settings))
    asyncio.run(ensure_topics(settings))  # the same count again: fine

    with pytest.raises(ConfigError, match=r"partitions: topic .*\.events has 4 partitions, but partitions = 8"):
        asyncio.run(ensure_topics(replace(settings, partitions=8)))

    worker = subprocess.run([sys.executable, "-m", "streams.cli", "worker"],
                            env=worker_env(replace(settings, partitions=2)), capture_output=True, text=True,
                            timeout=120)
    assert worker.returncode == 2, worker.stderr[-2000:]
    assert "voiceledger: error: partitions: topic" in worker.stderr
    assert "has 4 partitions, but partitions = 2" in worker.stderr
    assert "Traceback" not in worker.stderr

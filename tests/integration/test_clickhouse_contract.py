"""One contract, every ClickHouse engine: the same SQL and the same answers on chDB, on the
ClickHouse server and on a cluster of them (2 shards x 2 replicas, issue 21). The call log
collapses duplicates by call key (R30: one row per call kept), partitions by month, and
round-trips every column type the worker writes; retention, erasure, export, the reports and the
analysts' copy work the same; on the cluster they reach every shard and every replica."""

from __future__ import annotations

import pytest

from streams.clickhouse import cluster
from streams.clickhouse.call_log import CALL_LOG_COLUMNS, summary
from streams.clickhouse.client import ClickHouse
from streams.clickhouse.client import connect as connect_url
from streams.clickhouse.migrations import JOURNAL_DDL, migrate, run

from tests.integration.conftest import cluster_of, engine_url

T = 1_790_812_800  # 2026-10-01T00:00:00Z, seconds


@pytest.fixture(params=["chdb", "server", pytest.param("cluster", marks=pytest.mark.cluster)])
def clickhouse_url(request, tmp_path):
    return engine_url(request, request.param, tmp_path)


def connect(url: str) -> ClickHouse:
    return connect_url(url, cluster_of(url))


def on_every_replica(ch: ClickHouse, sql_of_table) -> list:  # noqa: ANN001 - stored table -> SQL
    """The rows ``sql_of_table(stored table)`` reads on every node (one on a single server),
    after every replica fetched its shard's log."""
    cluster.sync_replicas(ch, "call_log")
    found, down = cluster.on_every_node(ch, lambda node: node.query(sql_of_table(cluster.stored(node, "call_log"))))
    assert not down
    return list(found.values())


def row(call_id: str, account: str, charge: int, start: int = T, answered: bool = True, caller="1555\t0001",
        revision: int = 0) -> tuple:
    values = {
        "call_key": f"c/{call_id}", "carrier_id": "c", "call_id": call_id, "account_id": account,
        "event_id": f"e-{call_id}", "caller": caller, "callee": "12125550100", "start_at": start,
        "answer_at": start + 3 if answered else None, "end_at": start + 63, "disposition": "ANSWERED",
        "direction": "OUTBOUND", "trunk": "t\\1", "duration_s": 60, "billed_s": 60 if answered else 0,
        "destination_prefix": "1", "destination_name": "US", "rate_micros_per_minute": 10_000,
        "usage_micros": charge, "connect_fee_micros": 0, "charge_micros": charge, "currency": "USD",
        "rate_card_id": "usd", "on_net": 0, "source_partition": 0, "source_offset": 1, "source_index": 0,
        "plan": "basic", "revision": revision, "category": "domestic",
    }
    return tuple(values[c] for c in CALL_LOG_COLUMNS)


def test_R30_call_log_collapses_duplicates_and_reads_back_exactly(clickhouse_url):
    ch = connect(clickhouse_url)
    try:
        migrate(ch)
        migrate(ch)  # idempotent
        ch.insert("call_log", CALL_LOG_COLUMNS, [row("1", "a", 10_000), row("2", "a", 20_000, answered=False)])
        ch.insert("call_log", CALL_LOG_COLUMNS, [row("1", "a", 10_000)])  # a redelivered row
        ch.insert("call_log", CALL_LOG_COLUMNS, [row("3", "b", 2**40, start=T + 40 * 86400)])
        assert summary(ch) == [("USD", 3, 2, 120, 10_000 + 20_000 + 2**40)]
        cluster.optimize_final(ch, "call_log")
        assert ch.query("SELECT count() FROM call_log") == [(3,)]
        assert ch.query("SELECT caller, trunk, toUnixTimestamp(start_at), answer_at IS NULL FROM call_log FINAL "
                        "WHERE call_id = '2'") == [("1555\t0001", "t\\1", T, 1)]
        # A carrier's correction of call 1 (issue 18), inserted after it, is the row kept.
        ch.insert("call_log", CALL_LOG_COLUMNS, [row("1", "a", 4_000, revision=2)])
        cluster.optimize_final(ch, "call_log")
        assert ch.query("SELECT charge_micros, revision FROM call_log FINAL WHERE call_id = '1'") == [(4_000, 2)]
        parts = ch.query("SELECT DISTINCT toYYYYMM(start_at) AS m FROM call_log ORDER BY m")
        assert parts == [(202610,), (202611,)]
        assert ch.server_version()[0] >= 18
    finally:
        ch.close()


def test_R30_R31_retention_drops_exactly_the_months_older_than_five_years_keeping_anonymous_aggregates(clickhouse_url):
    from datetime import date

    from streams.clickhouse.retention import apply_retention

    ch = connect(clickhouse_url)
    try:
        migrate(ch)
        may_2021, nov_2021, dec_2021 = 1_620_000_000, 1_636_000_000, 1_638_400_000  # 3 May, 4 Nov, 2 Dec 2021
        ch.insert("call_log", CALL_LOG_COLUMNS, [
            row("old-1", "acct-1", 10_000, start=may_2021), row("old-2", "acct-2", 30_000, start=may_2021 + 60),
            row("old-3", "acct-2", 0, start=may_2021 + 86_400, answered=False),
            row("edge", "acct-1", 20_000, start=nov_2021), row("new", "acct-3", 40_000, start=dec_2021)])
        report = apply_retention(ch, date(2026, 11, 24), 5)
        # As of 24 Nov 2026, five years back is 24 Nov 2021: May 2021 is wholly older and goes;
        # November 2021 is only partly older and stays, as does everything after.
        assert report.dropped == {"202105": 3} and report.keep_from_month == "2021-11"
        assert sorted(k for (k,) in ch.query("SELECT call_key FROM call_log FINAL")) == ["c/edge", "c/new"]
        # The analysts' anonymised copy (fed on insert) loses the same month.
        assert report.dropped_analytics == ["202105"]
        assert sorted(k for (k,) in ch.query(f"SELECT call_key FROM {ch.database}_analytics.calls FINAL")) == [
            "c/edge", "c/new"]
        daily = ch.query("SELECT toString(day), currency, calls, answered, billed_s, charge_micros FROM call_daily FINAL "
                         "ORDER BY day")
        assert [tuple(r) for r in daily] == [("2021-05-03", "USD", 2, 2, 120, 40_000), ("2021-05-04", "USD", 1, 0, 0, 0)]
        columns = {name for (name, *_) in ch.query("DESCRIBE TABLE call_daily")}
        assert not columns & {"account_id", "caller", "callee", "call_key"}, "aggregates identify no subscriber"
        again = apply_retention(ch, date(2026, 11, 24), 5)  # safe to run daily
        assert again.dropped == {} and again.aggregated_rows == 0 and again.dropped_analytics == []
        assert len(ch.query("SELECT * FROM call_daily FINAL")) == 2
        # On a cluster: gone from every shard and every replica, the analysts' copy too.
        for months in on_every_replica(ch, lambda table: f"SELECT DISTINCT toYYYYMM(start_at) FROM {table}"):
            assert 202105 not in {m for (m,) in months}
        for node_months in cluster.on_every_node(ch, lambda node: node.query(
                f"SELECT DISTINCT toYYYYMM(start_at) FROM {cluster.stored(node, ch.database + '_analytics.calls')}"))[0].values():
            assert 202105 not in {m for (m,) in node_months}
    finally:
        ch.close()


def test_R36_reports_give_the_same_answers_on_every_engine_and_never_show_a_number(clickhouse_url):

    from streams.clickhouse.call_log import CALL_LOG_COLUMNS as COLS
    from streams.clickhouse.reports import REPORTS, as_csv, run_report

    def call(n: int, account: str, callee: str, seconds: int, answered: bool = True, connect_fee: int = 0,
             carrier: str = "c", plan: str = "basic") -> tuple:
        values = dict(zip(COLS, row(f"r{n}", account, 10_000 + connect_fee, start=T + n, answered=answered)))
        values.update(callee=callee, duration_s=seconds if answered else 0, connect_fee_micros=connect_fee,
                      carrier_id=carrier, call_key=f"{carrier}/r{n}", destination_name="Premium" if connect_fee else "US",
                      plan=plan)
        return tuple(values[c] for c in COLS)

    ch = connect(clickhouse_url)
    try:
        migrate(ch)
        rows = [call(n, "cycler", f"1900555{n:04d}", 3) for n in range(25)]  # 25 short calls, 25 numbers
        rows += [call(100 + n, "premium", "88213000001", 120, connect_fee=500_000) for n in range(20)]
        rows += [call(200, "quiet", "12125550100", 300), call(201, "quiet", "12125550100", 0, answered=False,
                                                                carrier="d")]
        ch.insert("call_log", COLS, rows)
        ch.insert("call_log", COLS, rows[:5])  # repeats collapse
        cycling = run_report(ch, "number-cycling", "2026-10-01", "2026-10-02")
        assert cycling == [("2026-10-01", "cycler", 25, 25)]
        assert run_report(ch, "premium-spikes", "2026-10-01", "2026-10-02") == [("2026-10-01", "premium", 20, 10_200_000)]
        carriers = dict(((c, t), (n, a, asr, acd)) for c, t, n, a, asr, acd in
                        run_report(ch, "carriers", "2026-10-01", "2026-10-02"))
        assert carriers[("c", "t\\1")] == (46, 46, 10_000, (25 * 3 + 20 * 120 + 300) // 46)
        assert carriers[("d", "t\\1")] == (1, 0, 0, 0)
        top = run_report(ch, "top-accounts", "2026-10-01", "2026-10-02")
        assert [a for a, *_ in top] == ["premium", "cycler", "quiet"]
        assert run_report(ch, "destinations", "2026-10-02", "2026-10-03") == []  # the range is respected

        # Business-like use of a residential plan: 60 answered calls to 30 numbers in a day. The
        # same pattern on a business plan, or 60 calls to 10 numbers at home, is no signal.
        shop = [call(1000 + n, "shop", f"1212555{n % 30:04d}", 90, plan="home") for n in range(60)]
        office = [call(2000 + n, "office", f"1212556{n % 30:04d}", 90, plan="business") for n in range(60)]
        family = [call(3000 + n, "family", f"1212557{n % 10:04d}", 90, plan="home") for n in range(60)]
        ch.insert("call_log", COLS, shop + office + family)
        assert run_report(ch, "business-on-residential", "2026-10-01", "2026-10-02", ("home", "student")) == [
            ("2026-10-01", "shop", "home", 60, 30, 60)]
        assert run_report(ch, "business-on-residential", "2026-10-01", "2026-10-02") == []  # no plan named

        # The views hold the same daily figures as the reports, for every day, without numbers.
        views = {name for (name,) in ch.query("SHOW TABLES") if name.startswith("r36_")}
        assert views == {"r36_destinations_daily", "r36_carriers_daily", "r36_accounts_daily"}
        assert ch.query("SELECT toString(day), short_calls, short_call_numbers FROM r36_accounts_daily "
                        "WHERE account_id = 'cycler'") == [("2026-10-01", 25, 25)]
        assert ch.query("SELECT sum(calls), sum(answered) FROM r36_carriers_daily WHERE carrier_id = 'd'") == [(1, 0)]
        for view in views:
            text = as_csv(tuple(c for (c, *_) in ch.query(f"DESCRIBE TABLE {view}")),
                          ch.query(f"SELECT * FROM {view}"))
            assert "1900555" not in text and "1212555" not in text, f"{view} shows a number (R34)"
        for name in REPORTS:
            text = as_csv(REPORTS[name].columns, run_report(ch, name, "2026-10-01", "2026-10-02", ("home",)))
            assert "1900555" not in text and "12125550100" not in text, f"{name} shows a number (R34)"
    finally:
        ch.close()


def test_R32_R33_export_is_machine_readable_and_erasure_leaves_no_number_but_every_amount(clickhouse_url, tmp_path):
    import csv as csv_module
    import json as json_module

    from streams.clickhouse.disputes import DISPUTE_COLUMNS
    from streams.clickhouse.journal import JOURNAL_COLUMNS
    from streams.clickhouse.privacy import erase_in_clickhouse, export

    ch = connect(clickhouse_url)
    try:
        migrate(ch)
        run(ch, JOURNAL_DDL)
        mine = [row(f"m{n}", "acct-1", 10_000 * (n + 1), start=T + n, caller="15550000001") for n in range(3)]
        theirs = [row("o1", "acct-2", 70_000, caller="15550000002")]
        ch.insert("call_log", CALL_LOG_COLUMNS, mine + theirs)
        ch.insert("journal", JOURNAL_COLUMNS, [("c:c/m0", 0, "acct-1", "usage", T, "USD", "customer:acct-1", 10_000),
                                               ("c:c/m0", 1, "acct-1", "usage", T, "USD", "revenue:usage:domestic",
                                                -10_000)])
        ch.insert("disputes", DISPUTE_COLUMNS, [
            ("acct-1", "d1", "opened", "inv-1", 5_000, "USD", "Ann's line", "", 0, T),
            ("acct-2", "d2", "opened", "inv-2", 7_000, "USD", "Bob's line", "", 0, T)])
        counts = export(ch, "acct-1", tmp_path / "export")
        assert counts == {"calls": 3, "journal": 2, "invoices": 0, "invoice_lines": 0, "disputes": 1}
        disputes = json_module.loads((tmp_path / "export" / "acct-1-disputes.json").read_text())["disputes"]
        assert [(d["dispute_id"], d["reason"], d["amount_micros"]) for d in disputes] == [("d1", "Ann's line", 5_000)]
        calls = json_module.loads((tmp_path / "export" / "acct-1-calls.json").read_text())["calls"]
        assert [c["callee"] for c in calls] == ["12125550100"] * 3 and calls[0]["caller"] == "15550000001"
        with open(tmp_path / "export" / "acct-1-journal.csv") as handle:
            assert [r["ledger_account"] for r in csv_module.DictReader(handle)] == ["customer:acct-1",
                                                                                  "revenue:usage:domestic"]
        (before,), = ch.query("SELECT sum(charge_micros) FROM call_log FINAL")
        assert erase_in_clickhouse(ch, "acct-1") == 3
        assert erase_in_clickhouse(ch, "acct-1") == 3  # idempotent
        erased = ch.query("SELECT caller, callee, charge_micros, billed_s FROM call_log FINAL WHERE account_id = 'acct-1' "
                          "ORDER BY call_key")
        assert erased == [("", "1**********", 10_000 * (n + 1), 60) for n in range(3)]
        (after,), = ch.query("SELECT sum(charge_micros) FROM call_log FINAL")
        assert after == before, "every amount is kept"
        assert ch.query("SELECT caller, callee FROM call_log FINAL WHERE account_id = 'acct-2'") == \
            [("15550000002", "12125550100")], "other subscribers are untouched"
        # R32: the customer's words in their disputes go too; the dispute and its amount stay.
        assert ch.query("SELECT account_id, reason, amount_micros FROM disputes FINAL ORDER BY account_id") == [
            ("acct-1", "", 5_000), ("acct-2", "Bob's line", 7_000)]
        (raw,), = ch.query("SELECT count() FROM call_log WHERE caller = '15550000001' OR "
                           "(account_id = 'acct-1' AND callee = '12125550100')")
        assert raw == 0, "no raw number of the subscriber remains, merged or not"
        # ... on any replica of any shard.
        for rows in on_every_replica(ch, lambda table: f"SELECT count() FROM {table} WHERE caller = '15550000001' OR "
                                                       "(account_id = 'acct-1' AND callee = '12125550100')"):
            assert rows == [(0,)]
    finally:
        ch.close()


def test_a_rebuilds_call_log_hash_is_computed_in_clickhouse_and_moves_with_any_row(clickhouse_url):
    """``voiceledger rebuild`` compares call logs by ``table_hash``: ClickHouse sums two hashes of
    every row (no row read into the command), so it must not depend on how rows were inserted
    or repeated, and must move when one field of one row changes, or a row is added."""
    from streams.ledger.selfcheck import CALL_LOG_HASHED, call_log_hash

    calls = [row(str(n), f"a{n % 3}", 1_000 * n, start=T + n * 3_600) for n in range(1, 40)]
    ch = connect(clickhouse_url)
    try:
        migrate(ch)
        ch.insert("call_log", CALL_LOG_COLUMNS, calls[::-1])
        before = call_log_hash(clickhouse_url, cluster_of(clickhouse_url))
        ch.insert("call_log", CALL_LOG_COLUMNS, calls[:7])  # redelivered: FINAL keeps one of each
        assert call_log_hash(clickhouse_url, cluster_of(clickhouse_url)) == before and before.startswith("39:")
        changed = dict(zip(CALL_LOG_COLUMNS, row("5", "a2", 5_000, start=T + 5 * 3_600, revision=1)))
        for column in ("callee", "charge_micros", "destination_prefix"):
            assert column in CALL_LOG_HASHED
        ch.insert("call_log", CALL_LOG_COLUMNS, [tuple({**changed, "callee": "12125550199"}.values())])
        after = call_log_hash(clickhouse_url, cluster_of(clickhouse_url))
        assert after != before and after.startswith("39:"), "one digit of one callee"
        ch.insert("call_log", CALL_LOG_COLUMNS, [row("40", "a1", 1)])
        assert call_log_hash(clickhouse_url, cluster_of(clickhouse_url)).startswith("40:")
    finally:
        ch.close()


def test_R34_the_analysts_view_and_their_database_have_no_number_but_the_same_amounts(clickhouse_url):
    ch = connect(clickhouse_url)
    try:
        from streams.clickhouse.migrations import MIGRATIONS, applied_versions
        applied_versions(ch)
        for version, name, statements in MIGRATIONS[:1]:  # a call log from before the analysts' database
            run(ch, statements[0])
            ch.insert("schema_migrations", ("version", "name", "applied_at"), [(version, name, T)])
        ch.insert("call_log", CALL_LOG_COLUMNS[:-3], [row("v0", "a", 1_000)[:-3]])
        migrate(ch)
        ch.insert("call_log", CALL_LOG_COLUMNS, [row("v1", "a", 10_000), row("v1", "a", 10_000), row("v2", "b", 5_000)])
        columns = {name for (name, *_) in ch.query("DESCRIBE TABLE calls_anonymised")}
        assert not columns & {"caller", "callee", "call_id", "event_id"}
        assert "plan" in columns, "migration 10: the view has the plan, like the analysts' table (R36)"
        assert ch.query("SELECT call_key, plan FROM calls_anonymised WHERE call_key = 'c/v2'") == [("c/v2", "basic")]
        assert ch.query("SELECT count(), sum(charge_micros) FROM calls_anonymised") == [(3, 16_000)]
        # The analysts' own database: the same rows (the old one filled at migration, the new
        # ones fed on insert, the repeat collapsed), the same columns, no number.
        analytics = f"{ch.database}_analytics"
        assert {name for (name, *_) in ch.query(f"DESCRIBE TABLE {analytics}.calls")} == columns
        assert ch.query(f"SELECT count(), sum(charge_micros) FROM {analytics}.calls FINAL") == [(3, 16_000)]
    finally:
        ch.close()


def test_migrations_are_versioned_apply_once_and_bring_an_older_database_up_to_date(clickhouse_url):
    from streams.clickhouse.migrations import MIGRATIONS, applied_versions

    latest = [v for v, _, _ in MIGRATIONS]
    ch = connect(clickhouse_url)
    try:
        # A database from before invoices existed: migrations 1 and 2 only.
        assert applied_versions(ch) == set()  # creates the record table
        for version, name, statements in MIGRATIONS[:2]:
            for sql in statements:
                run(ch, sql)
            ch.insert("schema_migrations", ("version", "name", "applied_at"), [(version, name, T)])
        assert applied_versions(ch) == {1, 2}
        ch.insert("call_log", CALL_LOG_COLUMNS[:-3], [row("old", "a", 10_000)[:-3]])  # before plan, revision, category
        assert migrate(ch) == latest[2:]
        # Migration 6 added call_log.plan: old rows read '', new rows carry it.
        ch.insert("call_log", CALL_LOG_COLUMNS, [row("new", "a", 10_000)])
        assert ch.query("SELECT call_id, plan, revision FROM call_log FINAL ORDER BY call_id") == [
            ("new", "basic", 0), ("old", "", 0)]
        assert migrate(ch) == []  # nothing twice
        assert applied_versions(ch) == set(latest)
        tables = {t for (t,) in ch.query("SHOW TABLES")}
        assert {"call_log", "journal", "invoices", "invoice_lines", "call_daily", "calls_anonymised",
                "schema_migrations", "r36_accounts_daily"} <= tables
    finally:
        ch.close()


def test_two_workers_migrating_at_once_end_the_same_without_an_error(clickhouse_url):
    """Workers started together on a new database each migrate it. The worst interleaving of
    two of them is lockstep: each statement run by one, then by the other, before either goes
    on (a DROP by both before either CREATE). Every statement must take that: a replaced view
    failed with "already exists" and crashed the second worker at start (seen in `make bench`)."""
    from streams.clickhouse.migrations import MIGRATIONS, applied_versions, apply_statement

    ch = connect(clickhouse_url)
    try:
        applied_versions(ch)  # the record table
        for version, name, statements in MIGRATIONS:
            for statement in statements:
                for _worker in range(2):
                    apply_statement(ch, statement)
            ch.insert("schema_migrations", ("version", "name", "applied_at"), [(version, name, T)])
        assert migrate(ch) == []
        columns = [c for (c,) in ch.query("SELECT name FROM system.columns WHERE database = currentDatabase() "
                                          "AND table = 'calls_anonymised'")]
        assert "plan" in columns  # the view of migration 10, not the one it replaced
    finally:
        ch.close()


def test_every_column_the_worker_writes_exists_after_the_migrations(clickhouse_url):
    """The row builders and the DDL agree: each table has every column its builder writes
    (call_log.plan comes with migration 6, after the table of migration 1)."""
    from streams.clickhouse.invoices import INVOICE_COLUMNS, INVOICE_LINE_COLUMNS, INVOICE_NUMBER_COLUMNS
    from streams.clickhouse.journal import JOURNAL_COLUMNS

    ch = connect(clickhouse_url)
    try:
        migrate(ch)
        for table, columns in (("call_log", CALL_LOG_COLUMNS), ("journal", JOURNAL_COLUMNS),
                               ("invoices", INVOICE_COLUMNS), ("invoice_lines", INVOICE_LINE_COLUMNS),
                               ("invoice_numbers", INVOICE_NUMBER_COLUMNS)):
            have = {name for (name,) in ch.query("SELECT name FROM system.columns WHERE database = currentDatabase() "
                                                 f"AND table = '{cluster.stored(ch, table)}'")}
            assert set(columns) <= have, (table, set(columns) - have)
    finally:
        ch.close()

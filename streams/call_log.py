"""The ClickHouse ``call_log`` table: one row per call, kept five years (R30), duplicates collapse.

The table is a ``ReplacingMergeTree`` ordered by ``(account_id, call_key)``: a call written
twice (a redelivery after a crash, a carrier re-sending it) is one row after merges, and any
query that must be exact reads it with ``FINAL``. Partitions are calendar months of the call
start, so retention (R30, R31) can drop whole months on every ClickHouse version.

The SQL here runs unchanged on the 18.16 server Debian ships and on current ClickHouse/chDB.
"""

from __future__ import annotations

from projections.events import CallDetailRecord
from projections.rating import RatedCall
from streams.clickhouse import ClickHouse

CALL_LOG_DDL = """
CREATE TABLE IF NOT EXISTS call_log (
    call_key String,
    carrier_id String,
    call_id String,
    account_id String,
    event_id String,
    caller String,
    callee String,
    start_at DateTime('UTC'),
    answer_at Nullable(DateTime('UTC')),
    end_at DateTime('UTC'),
    disposition String,
    direction String,
    trunk String,
    duration_s UInt32,
    billed_s UInt32,
    destination_prefix String,
    destination_name String,
    rate_micros_per_minute Int64,
    usage_micros Int64,
    connect_fee_micros Int64,
    charge_micros Int64,
    currency String,
    rate_card_id String,
    on_net UInt8,
    source_partition UInt32,
    source_offset UInt64,
    source_index UInt32
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(start_at)
ORDER BY (account_id, call_key)
"""

CALL_LOG_COLUMNS = (
    "call_key", "carrier_id", "call_id", "account_id", "event_id", "caller", "callee",
    "start_at", "answer_at", "end_at", "disposition", "direction", "trunk", "duration_s",
    "billed_s", "destination_prefix", "destination_name", "rate_micros_per_minute",
    "usage_micros", "connect_fee_micros", "charge_micros", "currency", "rate_card_id", "on_net",
    "source_partition", "source_offset", "source_index", "plan",
)

# Migration 6 adds it (streams/migrations.py: AddColumn): the account's plan at rating time, for
# usage-pattern analytics (R36). Rows written before it read ''.
CALL_LOG_PLAN_COLUMN = ("call_log", "plan", "String DEFAULT ''")


# R34 (CPNI): what analysts read instead of call_log. No caller, and the called number cut to
# the destination prefix it was rated at; everything else (amounts, durations, carriers) as is.
CALLS_ANONYMISED_DDL = """
CREATE VIEW IF NOT EXISTS calls_anonymised AS
SELECT call_key, carrier_id, account_id, start_at, answer_at, end_at, disposition, direction, trunk,
       duration_s, billed_s, destination_prefix, destination_name, rate_micros_per_minute, usage_micros,
       connect_fee_micros, charge_micros, currency, rate_card_id, on_net
FROM call_log FINAL
"""


# R34, R35 on every server: the analysts' own database, ``<database>_analytics``, holds ``calls``:
# the anonymised call log as a table, fed by a materialized view on every insert into call_log
# and filled once from what was there before (repeats collapse: ReplacingMergeTree). A plain
# view is not enough on the 18.16 server: reading it needs access to the database of the table
# under it, so an analyst allowed only their own database could not read a view of call_log
# (tests/integration/test_clickhouse_roles.py shows both). Same columns as calls_anonymised.
ANONYMISED_COLUMNS = ("call_key, carrier_id, account_id, start_at, answer_at, end_at, disposition, direction, trunk, "
                      "duration_s, billed_s, destination_prefix, destination_name, rate_micros_per_minute, "
                      "usage_micros, connect_fee_micros, charge_micros, currency, rate_card_id, on_net, plan")
# Migration 10: calls_anonymised again, with the columns of <database>_analytics.calls (plan
# came with migration 6, after the view). A view holds no data, so replacing it loses nothing.
CALLS_ANONYMISED_WITH_PLAN_DDL = (
    "DROP TABLE IF EXISTS calls_anonymised",
    f"CREATE VIEW calls_anonymised AS SELECT {ANONYMISED_COLUMNS} FROM call_log FINAL",
)
ANALYTICS_DDL = (
    "CREATE DATABASE IF NOT EXISTS {analytics}",
    "CREATE TABLE IF NOT EXISTS {analytics}.calls ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(start_at) "
    f"ORDER BY (account_id, call_key) AS SELECT {ANONYMISED_COLUMNS} FROM {{db}}.call_log WHERE 0",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {analytics}.calls_feed TO {analytics}.calls AS "
    f"SELECT {ANONYMISED_COLUMNS} FROM {{db}}.call_log",
    f"INSERT INTO {{analytics}}.calls SELECT {ANONYMISED_COLUMNS} FROM {{db}}.call_log",
)


def analytics_database(ch: ClickHouse) -> str:
    return f"{ch.database}_analytics"


def migrate(ch: ClickHouse) -> list[int]:
    """Bring the database to the current schema (``streams/migrations.py``); returns the
    migration versions applied now. Idempotent."""
    from streams import migrations

    return migrations.migrate(ch)


def call_log_row(cdr: CallDetailRecord, rated: RatedCall, partition: int, offset: int, index: int,
                 parties: tuple[str, str] | None = None) -> tuple:
    """``parties``: (caller, callee) opened from a sealed CDR (``streams/sealing.py``)."""
    caller, callee = parties if parties is not None else (cdr.caller, cdr.callee)
    return (
        cdr.call_key, cdr.carrier_id, cdr.call_id, cdr.account_id, cdr.event_id, caller,
        callee, cdr.start_at_ms // 1000,
        None if cdr.answer_at_ms is None else cdr.answer_at_ms // 1000,
        cdr.end_at_ms // 1000, cdr.disposition.value, cdr.direction.value, cdr.trunk,
        rated.duration_s, rated.billed_s, rated.destination_prefix, rated.destination_name,
        rated.rate_micros_per_minute, rated.usage_micros, rated.connect_fee_micros,
        rated.charge_micros, rated.currency, rated.rate_card_id, 1 if rated.on_net else 0,
        partition, offset, index, rated.plan,
    )


def summary(ch: ClickHouse) -> list[tuple]:
    """Per currency: calls, answered calls, billed minutes and charges (exact, with FINAL)."""
    return ch.query(
        "SELECT currency, count() AS calls, countIf(answer_at IS NOT NULL) AS answered, "
        "toInt64(sum(billed_s)) AS billed_s, toInt64(sum(charge_micros)) AS charge_micros "
        "FROM call_log FINAL GROUP BY currency ORDER BY currency"
    )


def latest_calls(ch: ClickHouse, limit: int = 5) -> list[tuple]:
    """The newest answered calls: what a billing clerk looks up (numbers in clear, R34: not an
    analyst's view)."""
    return ch.query(
        "SELECT toString(start_at), account_id, caller, callee, destination_name, billed_s, charge_micros, currency "
        f"FROM call_log FINAL WHERE answer_at IS NOT NULL ORDER BY start_at DESC, call_key LIMIT {int(limit)}"
    )


def top_destinations(ch: ClickHouse, limit: int = 5) -> list[tuple]:
    return ch.query(
        "SELECT destination_name, currency, count() AS calls, toInt64(sum(billed_s)) AS billed_s, "
        "toInt64(sum(charge_micros)) AS charge_micros FROM call_log FINAL "
        f"GROUP BY destination_name, currency ORDER BY charge_micros DESC, destination_name LIMIT {int(limit)}"
    )

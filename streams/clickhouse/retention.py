"""Call-log retention (R30, R31): keep five years, then keep only anonymised daily aggregates.

``voiceledger retention apply --as-of YYYY-MM-DD``:

1. finds the ``call_log`` partitions (calendar months of the call start, UTC) that lie wholly
   before ``as_of - retention_years`` (a month that is only partly expired stays until all of
   it is: nothing younger than the retention period is ever dropped);
2. for each, first writes its anonymised daily aggregates to ``call_daily`` (day, currency,
   carrier, destination prefix and name: calls, answered calls, billed seconds, charges; no
   account, no number, so nothing in it identifies a subscriber, R31);
3. then drops the partition (``ALTER TABLE ... DROP PARTITION``, on every ClickHouse version).

It is idempotent and safe to run daily: aggregates are keyed by their dimensions in a
``ReplacingMergeTree``, so a run interrupted between 2 and 3 writes the same rows again, and a
dropped partition is simply not found the next time. ``retention_years`` can be configured but
never below five (R30). On servers with TTL support (19.6 and later, chDB), ``call_log`` also
gets a TTL one year beyond the retention as a safety net for when the job stops running; the
old server Debian ships has no TTL, and the run says so.

The journal, invoices and aggregates are financial records and are not touched here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from streams.clickhouse.migrations import analytics_database, migrate
from streams.clickhouse import cluster
from streams.clickhouse.client import ClickHouse


TTL_SINCE = (19, 6)  # ClickHouse added table TTL in 19.6


@dataclass
class RetentionReport:
    as_of: str
    keep_from_month: str  # partitions before this month were dropped
    dropped: dict[str, int] = field(default_factory=dict)  # partition -> rows it held
    dropped_analytics: list[str] = field(default_factory=list)  # partitions of <db>_analytics.calls
    aggregated_rows: int = 0
    ttl: str = ""


def first_month_kept(as_of: date, years: int) -> int:
    """YYYYMM of the oldest partition kept: the month holding ``as_of - years``."""
    return (as_of.year - years) * 100 + as_of.month


def _partitions(ch: ClickHouse, database: str, table: str) -> list[int]:
    """The table's active partitions on every node that answers (all of them on one node)."""
    def of_node(node: ClickHouse) -> set[int]:
        return {int(p) for (p,) in node.query(
            f"SELECT DISTINCT partition FROM system.parts WHERE database = '{database}' "
            f"AND table = '{cluster.stored(node, table)}' AND active")}
    found, _ = cluster.on_every_node(ch, of_node)
    return sorted(set().union(*found.values()))


def _aggregate_and_drop(ch: ClickHouse, partition: int, report: RetentionReport) -> None:
    (rows,), = ch.query(f"SELECT count() FROM call_log FINAL WHERE toYYYYMM(start_at) = {partition}")
    (before,), = ch.query(f"SELECT count() FROM call_daily FINAL WHERE toYYYYMM(day) = {partition}")
    ch.execute(
        "INSERT INTO call_daily SELECT toDate(start_at) AS day, currency, carrier_id, destination_prefix, "
        "destination_name, count(), countIf(answer_at IS NOT NULL), sum(billed_s), sum(charge_micros) "
        f"FROM call_log FINAL WHERE toYYYYMM(start_at) = {partition} "
        "GROUP BY day, currency, carrier_id, destination_prefix, destination_name")
    (after,), = ch.query(f"SELECT count() FROM call_daily FINAL WHERE toYYYYMM(day) = {partition}")
    cluster.alter(ch, "call_log", f"DROP PARTITION {partition}")  # every shard; replicas follow
    report.dropped[str(partition)] = int(rows)
    report.aggregated_rows += int(after) - int(before)


def apply_retention(ch: ClickHouse, as_of: date, years: int) -> RetentionReport:
    assert years >= 5, "R30: call logs are kept at least five years"
    migrate(ch)  # call_daily is migration 4: retention never runs without it
    keep_from = first_month_kept(as_of, years)
    report = RetentionReport(as_of.isoformat(), f"{keep_from // 100:04d}-{keep_from % 100:02d}")
    for partition in (p for p in _partitions(ch, ch.database, "call_log") if p < keep_from):
        _aggregate_and_drop(ch, partition, report)
    # The analysts' anonymised copy (streams/clickhouse/call_log.py) keeps no longer than the call log.
    analytics = analytics_database(ch)
    for partition in (p for p in _partitions(ch, analytics, "calls") if p < keep_from):
        cluster.alter(ch, f"{analytics}.calls", f"DROP PARTITION {partition}")
        report.dropped_analytics.append(str(partition))
    version = ch.server_version()
    if tuple(version[:2]) >= TTL_SINCE:
        cluster.alter(ch, "call_log", f"MODIFY TTL start_at + INTERVAL {years + 1} YEAR")  # every shard
        report.ttl = f"start_at + {years + 1} years (safety net)"
    else:
        report.ttl = (f"none: ClickHouse {'.'.join(map(str, version))} has no table TTL (19.6+); "
                      "run retention apply daily")
    return report

"""Benchmark: the call log at scale (issue 7): insert throughput and analytics query times; prints JSON.

Inserts ``--client-rows`` call-log rows the way a worker does (``call_log_row`` tuples through
``ClickHouse.insert`` in batches of ``--batch`` rows) and reports rows per second; then fills the
table up to ``--rows`` with rows generated inside ClickHouse (``INSERT ... SELECT FROM numbers``:
not the worker's path, only a fast way to reach the size) spread over five years of monthly
partitions and ``--accounts`` accounts, without merging them (the worst case for ``FINAL``).
Then it times every R36 report over one month and over one year, the finance totals of one month
(what ``reconcile`` reads), and an exact count of the whole table. This is a benchmark, not a
test: nothing here asserts a time.

With ``--cluster`` the same runs on a ClickHouse cluster started here (ZooKeeper and 2 shards x 2
replicas of the 18.16 server on loopback, ``streams/dev/cluster.py``), through the Distributed
tables as the workers write and the reports read; it also times how long the replicas take to
hold what was inserted (``SYSTEM SYNC REPLICA`` on every node). On one machine the four servers
share its cores, so this measures the cluster's overhead, not its scale-out.

    python bench/clickhouse.py --engine server --rows 10000000
    python bench/clickhouse.py --cluster --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from projections.events import CallDetailRecord, Direction, Disposition  # noqa: E402
from bench.arguments import within  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from projections.rating import RatedCall  # noqa: E402
from streams.clickhouse.call_log import CALL_LOG_COLUMNS, call_log_row  # noqa: E402
from streams.clickhouse import cluster  # noqa: E402
from streams.clickhouse.migrations import migrate  # noqa: E402
from streams.clickhouse.client import ClickHouse, connect  # noqa: E402
from streams.dev.cluster import ClickHouseCluster  # noqa: E402
from streams.dev.embedded import ClickHouseServer  # noqa: E402
from streams.clickhouse.reports import REPORTS, run_report  # noqa: E402

START_S = 1_640_995_200  # 2022-01-01T00:00:00Z: five years of months up to 2026-12
SPAN_S = 5 * 365 * 86_400


def client_rows(n: int, offset: int, accounts: int, total: int):
    """Rows as the worker writes them (the same row builder), spread like the generated ones."""
    for i in range(offset, offset + n):
        start_ms = (START_S + (i * SPAN_S) // total) * 1000
        answered = i % 5 != 0
        seconds = 1 + i % 600
        cdr = CallDetailRecord(f"e{i}", "carrier-a", f"call-{i}", f"acct-{i % accounts:06d}", "12125550100",
                               f"1{212_000_0000 + i % 5_000_000}", start_ms,
                               start_ms + 3_000 if answered else None, start_ms + 3_000 + seconds * 1000,
                               Disposition.ANSWERED if answered else Disposition.NO_ANSWER, Direction.OUTBOUND,
                               f"trunk-{i % 8}")
        billed = 60 * -(-seconds // 60) if answered else 0
        rated = RatedCall(seconds if answered else 0, billed, "1212", "US New York", 10_000, billed * 10_000 // 60,
                          0, billed * 10_000 // 60, "USD", "usd-2026", plan="home" if i % 3 else "business")
        yield call_log_row(cdr, rated, i % 4, i, 0)


def generate_sql(first: int, count: int, accounts: int, total: int) -> str:
    """The same spread as ``client_rows``, generated inside ClickHouse (runs on 18.16 and current)."""
    i = f"(number + {first})"
    return (
        "INSERT INTO call_log (" + ", ".join(CALL_LOG_COLUMNS) + ") SELECT "
        f"concat('carrier-a/call-', toString({i})), 'carrier-a', concat('call-', toString({i})), "
        f"concat('acct-', substring(toString(1000000 + {i} % {accounts}), 2)), concat('e', toString({i})), "
        f"'12125550100', concat('1', toString(2120000000 + {i} % 5000000)), "
        f"toDateTime({START_S} + intDiv({i} * {SPAN_S}, {total}), 'UTC') AS s, "
        f"if({i} % 5 != 0, s + 3, NULL), s + 3 + 1 + {i} % 600, "
        f"if({i} % 5 != 0, 'ANSWERED', 'NO_ANSWER'), 'OUTBOUND', concat('trunk-', toString({i} % 8)), "
        f"if({i} % 5 != 0, toUInt32(1 + {i} % 600), 0) AS d, toUInt32(60 * intDiv(d + 59, 60)) AS b, "
        "'1212', 'US New York', 10000, intDiv(b * 10000, 60), 0, intDiv(b * 10000, 60), 'USD', 'usd-2026', 0, "
        f"toUInt32({i} % 4), toUInt64({i}), 0, if({i} % 3 != 0, 'home', 'business'), 0, 'international' "
        f"FROM numbers({count})")


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - t, 3), out


def active_parts(ch: ClickHouse) -> int:
    """Active parts of the call log, summed over every node (each replica has its own)."""
    found, _ = cluster.on_every_node(ch, lambda node: node.query(
        "SELECT count() FROM system.parts WHERE active AND database = currentDatabase() "
        f"AND table = '{cluster.stored(node, 'call_log')}'")[0][0])
    return int(sum(found.values()))


def open_engine(args, tmp: Path):  # noqa: ANN001, ANN201 - (server or cluster to stop, client)
    if args.cluster:
        nodes = ClickHouseCluster(str(tmp / "cluster")).start()
        return nodes, connect(nodes.url("voiceledger"), nodes.name)
    if args.engine == "server":
        server = ClickHouseServer(str(tmp / "ch")).start()
        return server, connect(server.url)
    return None, connect(f"chdb://{tmp / 'chdb'}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--engine", choices=["server", "chdb"], default="server")
    p.add_argument("--cluster", action="store_true", help="a 2 shards x 2 replicas cluster of the server, here")
    p.add_argument("--rows", type=within(1), default=10_000_000)
    p.add_argument("--client-rows", type=within(1), default=1_000_000)
    p.add_argument("--batch", type=within(1, 10_000_000), default=25_000, help="rows per client insert (a worker batch: ~25k calls)")
    p.add_argument("--accounts", type=within(1), default=100_000)
    args = p.parse_args()
    if not 0 <= args.client_rows <= args.rows:
        p.error("--client-rows must be between 0 and --rows")

    tmp = scratch_dir("vl-chbench-")
    server, ch = open_engine(args, tmp)
    try:
        migrate(ch)
        version = ch.query("SELECT version()")[0][0]
        build_s = insert_s = 0.0
        rows = client_rows(args.client_rows, 0, args.accounts, args.rows)
        done = 0
        while done < args.client_rows:
            t = time.perf_counter()
            batch = [next(rows) for _ in range(min(args.batch, args.client_rows - done))]
            t2 = time.perf_counter()
            ch.insert("call_log", CALL_LOG_COLUMNS, batch)
            build_s += t2 - t
            insert_s += time.perf_counter() - t2
            done += len(batch)
        generated_s = 0.0
        step = 2_000_000
        for first in range(args.client_rows, args.rows, step):
            s, _ = timed(lambda: ch.execute(generate_sql(first, min(step, args.rows - first), args.accounts, args.rows)))
            generated_s += s
        replicated_s, _ = timed(lambda: cluster.sync_replicas(ch, "call_log"))
        parts = active_parts(ch)
        queries: dict[str, dict[str, float]] = {}
        for label, start, end in (("month", "2026-06-01", "2026-07-01"), ("year", "2025-01-01", "2026-01-01")):
            for name in REPORTS:
                first_s, _ = timed(lambda: run_report(ch, name, start, end, ("home",)))
                again_s, _ = timed(lambda: run_report(ch, name, start, end, ("home",)))
                queries.setdefault(name, {})[label] = min(first_s, again_s)
        month_sql = ("SELECT account_id, toInt64(sum(charge_micros)) FROM call_log FINAL WHERE start_at >= "
                     "toDateTime('2026-06-01 00:00:00', 'UTC') AND start_at < toDateTime('2026-07-01 00:00:00', 'UTC') "
                     "GROUP BY account_id")
        finance_s, finance = timed(lambda: ch.query(month_sql))
        count_s, ((count,),) = timed(lambda: ch.query("SELECT count() FROM call_log FINAL"))
        ch.close()
        print(json.dumps({
            "benchmark": "clickhouse", "engine": "cluster 2 shards x 2 replicas" if args.cluster else args.engine,
            "version": version, "rows": int(count), "replicas_synced_after_inserts_s": replicated_s,
            "active_parts": int(parts), "accounts": args.accounts,
            "client_insert": {"rows": args.client_rows, "batch_rows": args.batch,
                              "rows_per_s": round(args.client_rows / insert_s) if insert_s else None,
                              "insert_s": round(insert_s, 2), "row_build_s": round(build_s, 2)},
            "generated_insert_s": round(generated_s, 2),
            "report_seconds": queries,
            "finance_month_by_account_s": finance_s, "finance_accounts": len(finance),
            "count_final_s": count_s,
            "python": platform.python_version(),
        }))
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    with removed_after_success():
        main()

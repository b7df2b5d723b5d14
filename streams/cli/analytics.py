"""``voiceledger clickhouse migrate``, ``retention apply`` and ``report``: the call log's tables,
its five-year retention (R30, R31) and the analysts' reports (R36)."""

from __future__ import annotations

import argparse
import json

from streams.cli.common import day, settings_of
from streams.clickhouse.reports import REPORTS
from streams.config.settings import ConfigError


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    ch = sub.add_parser("clickhouse", help="ClickHouse administration")
    ch_sub = ch.add_subparsers(dest="ch_command", required=True)
    ch_sub.add_parser("migrate", parents=parents,
                      help="create or upgrade the ClickHouse tables").set_defaults(handler=migrate)
    ret = sub.add_parser("retention", help="R30/R31 call-log retention")
    ret_sub = ret.add_subparsers(dest="retention_command", required=True)
    ra = ret_sub.add_parser("apply", parents=parents,
                            help="aggregate, then drop call-log months older than retention_years, and destroy "
                                 "their key months so their CDRs in the log stay sealed for good")
    ra.add_argument("--as-of", required=True, help="YYYY-MM-DD: the day retention is counted from")
    ra.set_defaults(handler=retention)
    rep = sub.add_parser("report", parents=parents, help="R36 analytics over the call log: " + ", ".join(REPORTS))
    rep.add_argument("name", choices=list(REPORTS))
    rep.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD (UTC), included")
    rep.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD (UTC), excluded")
    rep.add_argument("--csv", action="store_true", help="CSV instead of a table")
    rep.set_defaults(handler=report)


def migrate(args: argparse.Namespace) -> int:
    from streams.clickhouse.client import connect, redact
    from streams.clickhouse.migrations import MIGRATIONS
    from streams.clickhouse.migrations import migrate as run

    settings = settings_of(args)
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        applied = run(ch)
    finally:
        ch.close()
    for version, name, _ in MIGRATIONS:
        print(f"{version}\t{'applied now' if version in applied else 'already there'}\t{name}")
    print(f"migrated {redact(settings.clickhouse_url)} to version {MIGRATIONS[-1][0]}")
    return 0


def retention(args: argparse.Namespace) -> int:
    from streams.ledger.retention import apply_retention

    settings = settings_of(args)
    print(json.dumps(apply_retention(settings, day("--as-of", args.as_of))))
    return 0


def report(args: argparse.Namespace) -> int:
    from streams.clickhouse.client import connect
    from streams.clickhouse.reports import as_csv, as_table, run_report

    settings = settings_of(args)
    if day("--from", args.date_from) >= day("--to", args.date_to):
        raise ConfigError(f"--to: {args.date_to} must be after --from {args.date_from}")
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        rows = run_report(ch, args.name, args.date_from, args.date_to, settings.residential_plans)
    finally:
        ch.close()
    columns = REPORTS[args.name].columns
    print(as_csv(columns, rows) if args.csv else as_table(columns, rows), end="" if args.csv else "\n")
    return 0

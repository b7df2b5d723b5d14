"""Named analytics queries over the call log (R36): SQL views and ``voiceledger report NAME``.

Each report reads one of three daily aggregates of ``call_log FINAL`` (exact: repeats
collapse). The aggregates exist twice from one text: as SQL views (``r36_destinations_daily``,
``r36_carriers_daily``, ``r36_accounts_daily``, migration 7) for analysts' tools, and inlined
with the date range inside them for the CLI, so the range prunes partitions on every server (the
18.16 server does not push a filter on a view's result into the view). No view or report shows a
telephone number: where numbers matter only how many distinct ones were called is shown (R34,
CPNI). Ratios are integers with their unit in the column name (basis points, seconds), so no
float is computed here. Days are UTC dates.

- ``destinations``: minutes and revenue by day and destination;
- ``carriers``: answer-seizure ratio (ASR) and average call duration (ACD) by carrier and trunk;
- ``top-accounts``: the 20 accounts with the highest charges;
- ``number-cycling``: accounts placing many short (< 10 s or unanswered) calls to many distinct
  numbers in a day, the pattern of verification-code and "wangiri" fraud;
- ``premium-spikes``: accounts with a day of many calls to premium destinations (those with a
  connect fee), the pattern of international revenue-share fraud;
- ``business-on-residential``: accounts on a residential plan (``residential_plans``) with a day
  of business-like volume: many answered calls to many distinct numbers (resale or a call
  centre on a consumer tariff). The plan is the one each call was rated under.

The SQL runs on the 18.16 server Debian ships and on current ClickHouse/chDB.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from streams.clickhouse.client import ClickHouse

SHORT_CALL_S = 10
CYCLING_MIN_NUMBERS = 20
PREMIUM_MIN_CALLS = 20
BUSINESS_MIN_CALLS = 50
BUSINESS_MIN_NUMBERS = 25

# The daily aggregates; {where} is empty in the views and the date range in the CLI.
DAILY: dict[str, str] = {
    "r36_destinations_daily": (
        "SELECT toDate(start_at) AS day, destination_name, currency, count() AS calls, "
        "toInt64(sum(billed_s)) AS billed_s, toInt64(sum(charge_micros)) AS revenue_micros "
        "FROM call_log FINAL {where} GROUP BY day, destination_name, currency"),
    "r36_carriers_daily": (
        "SELECT toDate(start_at) AS day, carrier_id, trunk, count() AS calls, "
        "countIf(answer_at IS NOT NULL) AS answered, "
        "toInt64(sumIf(duration_s, answer_at IS NOT NULL)) AS answered_duration_s "
        "FROM call_log FINAL {where} GROUP BY day, carrier_id, trunk"),
    # One row per account and day; ``plan`` is the greatest plan name of the day's calls (a plan
    # changes at most at a period start, so a day has one plan but for the change day).
    "r36_accounts_daily": (
        "SELECT toDate(start_at) AS day, account_id, currency, max(plan) AS plan, count() AS calls, "
        "countIf(answer_at IS NOT NULL) AS answered, toInt64(sum(billed_s)) AS billed_s, "
        "toInt64(sum(charge_micros)) AS charges_micros, uniqExact(callee) AS distinct_numbers, "
        f"countIf(duration_s < {SHORT_CALL_S}) AS short_calls, "
        f"uniqExactIf(callee, duration_s < {SHORT_CALL_S}) AS short_call_numbers, "
        "countIf(connect_fee_micros > 0) AS premium_calls, "
        "toInt64(sumIf(charge_micros, connect_fee_micros > 0)) AS premium_charges_micros "
        "FROM call_log FINAL {where} GROUP BY day, account_id, currency"),
}

REPORT_VIEWS_DDL: tuple[str, ...] = tuple(
    f"CREATE VIEW IF NOT EXISTS {name} AS {body.format(where='')}" for name, body in DAILY.items())


@dataclass(frozen=True)
class Report:
    columns: tuple[str, ...]
    sql: str  # over {daily} (one of DAILY), with {plans} where a report needs the plan list


REPORTS: dict[str, Report] = {
    "destinations": Report(
        ("day", "destination", "currency", "calls", "billed_minutes", "revenue_micros"),
        "SELECT toString(day), destination_name, currency, calls, intDiv(billed_s, 60), revenue_micros "
        "FROM {r36_destinations_daily} ORDER BY day, revenue_micros DESC, destination_name"),
    "carriers": Report(
        ("carrier", "trunk", "calls", "answered", "asr_basis_points", "acd_seconds"),
        "SELECT carrier_id, trunk, toUInt64(sum(calls)) AS n, toUInt64(sum(answered)) AS a, intDiv(a * 10000, n), "
        # greatest(): the 18.16 server evaluates both branches of if(), so no division by zero there either
        "intDiv(sum(answered_duration_s), greatest(a, 1)) "
        "FROM {r36_carriers_daily} GROUP BY carrier_id, trunk ORDER BY carrier_id, trunk"),
    "top-accounts": Report(
        ("account", "currency", "calls", "billed_minutes", "charges_micros"),
        "SELECT account_id, currency, toUInt64(sum(calls)), intDiv(sum(billed_s), 60), sum(charges_micros) AS charges "
        "FROM {r36_accounts_daily} GROUP BY account_id, currency ORDER BY charges DESC, account_id LIMIT 20"),
    "number-cycling": Report(
        ("day", "account", "short_calls", "distinct_numbers"),
        "SELECT toString(day), account_id, short_calls, short_call_numbers FROM {r36_accounts_daily} "
        f"WHERE short_call_numbers >= {CYCLING_MIN_NUMBERS} ORDER BY short_call_numbers DESC, day, account_id"),
    "premium-spikes": Report(
        ("day", "account", "premium_calls", "charges_micros"),
        "SELECT toString(day), account_id, premium_calls, premium_charges_micros FROM {r36_accounts_daily} "
        f"WHERE premium_calls >= {PREMIUM_MIN_CALLS} ORDER BY premium_calls DESC, day, account_id"),
    "business-on-residential": Report(
        ("day", "account", "plan", "answered_calls", "distinct_numbers", "billed_minutes"),
        "SELECT toString(day), account_id, plan, answered, distinct_numbers, intDiv(billed_s, 60) "
        "FROM {r36_accounts_daily} WHERE plan IN ({plans}) "
        f"AND answered >= {BUSINESS_MIN_CALLS} AND distinct_numbers >= {BUSINESS_MIN_NUMBERS} "
        "ORDER BY answered DESC, day, account_id"),
}


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values) or "''"


def report_sql(name: str, start: str, end: str, residential_plans: tuple[str, ...] = ()) -> str:
    """The SQL of report ``name`` for calls started in [start, end) (YYYY-MM-DD, UTC)."""
    where = (f"WHERE start_at >= toDateTime('{start} 00:00:00', 'UTC') "
             f"AND start_at < toDateTime('{end} 00:00:00', 'UTC')")
    inlined = {view: f"({body.format(where=where)})" for view, body in DAILY.items()}
    return REPORTS[name].sql.format(plans=_quoted(residential_plans), **inlined)


def run_report(ch: ClickHouse, name: str, start: str, end: str, residential_plans: tuple[str, ...] = ()) -> list[tuple]:
    """Rows of report ``name`` for calls started in [start, end), dates as YYYY-MM-DD (UTC)."""
    return [tuple(int(v) if isinstance(v, int) else v for v in row)
            for row in ch.query(report_sql(name, start, end, residential_plans))]


def as_table(columns: tuple[str, ...], rows: list[tuple]) -> str:
    widths = [max([len(c)] + [len(str(r[i])) for r in rows]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(str(v).rjust(w) if isinstance(v, int) else str(v).ljust(w) for v, w in zip(r, widths))
              for r in rows]
    return "\n".join(lines)


def as_csv(columns: tuple[str, ...], rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()

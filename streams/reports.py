"""Named analytics queries over the call log (R36), for ``voiceledger report NAME --from --to``.

Every report reads ``call_log FINAL`` (exact: repeats collapse) for calls that started in
``[from, to)`` (UTC dates). No report shows a telephone number: where numbers matter (number
cycling) only how many distinct numbers were called is shown (R34, CPNI). Ratios are integers
with their unit in the column name (basis points, seconds), so no float is computed here.

- ``destinations``: minutes and revenue by day and destination;
- ``carriers``: answer-seizure ratio (ASR) and average call duration (ACD) by carrier and trunk;
- ``top-accounts``: the 20 accounts with the highest charges;
- ``number-cycling``: accounts placing many short (< 10 s or unanswered) calls to many distinct
  numbers in a day, the pattern of verification-code and "wangiri" fraud;
- ``premium-spikes``: accounts with a day of many calls to premium destinations (those with a
  connect fee), the pattern of international revenue-share fraud.

The SQL runs on the 18.16 server Debian ships and on current ClickHouse/chDB.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from streams.clickhouse import ClickHouse

SHORT_CALL_S = 10
CYCLING_MIN_NUMBERS = 20
PREMIUM_MIN_CALLS = 20


@dataclass(frozen=True)
class Report:
    columns: tuple[str, ...]
    sql: str  # with {start} and {end}


REPORTS: dict[str, Report] = {
    "destinations": Report(
        ("day", "destination", "currency", "calls", "billed_minutes", "revenue_micros"),
        "SELECT toString(toDate(start_at)) AS day, destination_name, currency, count(), intDiv(sum(billed_s), 60), "
        "sum(charge_micros) AS revenue FROM call_log FINAL WHERE start_at >= {start} AND start_at < {end} "
        "GROUP BY day, destination_name, currency ORDER BY day, revenue DESC, destination_name"),
    "carriers": Report(
        ("carrier", "trunk", "calls", "answered", "asr_basis_points", "acd_seconds"),
        "SELECT carrier_id, trunk, count() AS calls, countIf(answer_at IS NOT NULL) AS answered, "
        "intDiv(answered * 10000, calls), intDiv(sumIf(duration_s, answer_at IS NOT NULL), greatest(answered, 1)) "
        # greatest(): the 18.16 server evaluates both branches of if(), so no division by zero there either
        "FROM call_log FINAL WHERE start_at >= {start} AND start_at < {end} "
        "GROUP BY carrier_id, trunk ORDER BY carrier_id, trunk"),
    "top-accounts": Report(
        ("account", "currency", "calls", "billed_minutes", "charges_micros"),
        "SELECT account_id, currency, count(), intDiv(sum(billed_s), 60), sum(charge_micros) AS charges "
        "FROM call_log FINAL WHERE start_at >= {start} AND start_at < {end} "
        "GROUP BY account_id, currency ORDER BY charges DESC, account_id LIMIT 20"),
    "number-cycling": Report(
        ("day", "account", "short_calls", "distinct_numbers"),
        "SELECT toString(toDate(start_at)) AS day, account_id, count(), uniqExact(callee) AS numbers "
        f"FROM call_log FINAL WHERE start_at >= {{start}} AND start_at < {{end}} AND duration_s < {SHORT_CALL_S} "
        f"GROUP BY day, account_id HAVING numbers >= {CYCLING_MIN_NUMBERS} ORDER BY numbers DESC, day, account_id"),
    "premium-spikes": Report(
        ("day", "account", "premium_calls", "charges_micros"),
        "SELECT toString(toDate(start_at)) AS day, account_id, count() AS calls, sum(charge_micros) "
        "FROM call_log FINAL WHERE start_at >= {start} AND start_at < {end} AND connect_fee_micros > 0 "
        f"GROUP BY day, account_id HAVING calls >= {PREMIUM_MIN_CALLS} ORDER BY calls DESC, day, account_id"),
}


def run_report(ch: ClickHouse, name: str, start: str, end: str) -> list[tuple]:
    """Rows of report ``name`` for calls started in [start, end), dates as YYYY-MM-DD (UTC)."""
    report = REPORTS[name]
    sql = report.sql.format(start=f"toDateTime('{start} 00:00:00', 'UTC')", end=f"toDateTime('{end} 00:00:00', 'UTC')")
    return [tuple(int(v) if isinstance(v, int) else v for v in row) for row in ch.query(sql)]


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

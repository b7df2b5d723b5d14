"""One contract, every ClickHouse engine: the same SQL and the same answers on chDB and on the
ClickHouse server. The call log collapses duplicates by call key (R30: one row per call kept),
partitions by month, and round-trips every column type the worker writes."""

from __future__ import annotations

from streams.call_log import CALL_LOG_COLUMNS, migrate, summary
from streams.clickhouse import connect

T = 1_790_812_800  # 2026-10-01T00:00:00Z, seconds


def row(call_id: str, account: str, charge: int, start: int = T, answered: bool = True, caller="1555\t0001") -> tuple:
    values = {
        "call_key": f"c/{call_id}", "carrier_id": "c", "call_id": call_id, "account_id": account,
        "event_id": f"e-{call_id}", "caller": caller, "callee": "12125550100", "start_at": start,
        "answer_at": start + 3 if answered else None, "end_at": start + 63, "disposition": "ANSWERED",
        "direction": "OUTBOUND", "trunk": "t\\1", "duration_s": 60, "billed_s": 60 if answered else 0,
        "destination_prefix": "1", "destination_name": "US", "rate_micros_per_minute": 10_000,
        "usage_micros": charge, "connect_fee_micros": 0, "charge_micros": charge, "currency": "USD",
        "rate_card_id": "usd", "on_net": 0, "source_partition": 0, "source_offset": 1, "source_index": 0,
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
        ch.execute("OPTIMIZE TABLE call_log FINAL")
        assert ch.query("SELECT count() FROM call_log") == [(3,)]
        assert ch.query("SELECT caller, trunk, toUnixTimestamp(start_at), answer_at IS NULL FROM call_log FINAL "
                        "WHERE call_id = '2'") == [("1555\t0001", "t\\1", T, 1)]
        parts = ch.query("SELECT DISTINCT toYYYYMM(start_at) AS m FROM call_log ORDER BY m")
        assert parts == [(202610,), (202611,)]
        assert ch.server_version()[0] >= 18
    finally:
        ch.close()

"""R6 from the call log: re-rate an account's calls of a period at another plan's cards and, when
asked, post the difference as an adjustment (``projections/rerating.py`` decides; this reads).

The calls come from the ClickHouse call log (every call, five years), each re-rated with the card
the other plan would have used at its start (R5, the same selection the fold makes). A call whose
numbers were erased (R32) cannot be re-rated: the adjustment is then refused, not made partial.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from projections.events import CallDetailRecord, Direction, Disposition
from projections.periods import next_period, period_start_ms
from projections.rerating import Rerating, adjustment_for, rerate
from streams.clickhouse.client import connect, quoted
from streams.clickhouse.migrations import migrate
from streams.config.settings import ConfigError, Settings
from streams.edge import commands

_SQL = ("SELECT carrier_id, call_id, event_id, caller, callee, toUnixTimestamp(start_at), toUnixTimestamp(answer_at), "
        "toUnixTimestamp(end_at), disposition, direction, trunk, charge_micros, currency FROM call_log FINAL "
        "WHERE account_id = {account} AND start_at >= toDateTime({start}) AND start_at < toDateTime({end}) "
        "ORDER BY start_at, call_key")


@dataclass(frozen=True)
class Found:
    rerating: Rerating
    posted: commands.Answer | None


def account_of(settings: Settings, account_id: str) -> tuple[str, str, str]:
    """(currency, time zone, calling code) of the account, from the accounts read model."""
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        migrate(ch)  # the read model's tables, as the worker makes them (idempotent)
        rows = ch.query("SELECT currency, time_zone, country_code FROM accounts FINAL "
                        f"WHERE account_id = {quoted(account_id)}")
    finally:
        ch.close()
    if not rows:
        raise ConfigError(f"{account_id}: no such account in the read model (or not folded yet)")
    return rows[0]


def calls_of(settings: Settings, account_id: str, time_zone: str, period: str) -> list[tuple[CallDetailRecord, int]]:
    start, end = period_start_ms(period, time_zone) // 1000, period_start_ms(next_period(period), time_zone) // 1000
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        rows = ch.query(_SQL.format(account=quoted(account_id), start=start, end=end))
    finally:
        ch.close()
    calls = []
    for row in rows:
        carrier, call_id, event_id, caller, callee, start_s, answer_s, end_s, disposition, direction, trunk, charge = row[:12]
        cdr = CallDetailRecord(event_id, carrier, call_id, account_id, caller, callee, start_s * 1000,
                               None if answer_s is None else answer_s * 1000, end_s * 1000, Disposition(disposition),
                               Direction(direction), trunk)
        calls.append((cdr, int(charge)))
    return calls


def rerate_period(settings: Settings, account_id: str, period: str, plan: str, post: bool) -> Found:
    from streams.worker.fold_settings import fold_settings_from

    fold = fold_settings_from(settings)  # a setting that is wrong says so before anything is read
    # A misspelt plan would re-rate at the default cards; a retired plan still has its cards.
    commands.sold(plan, settings.plans + settings.retired_plans if settings.plans else ())
    currency, time_zone, country_code = account_of(settings, account_id)
    done = rerate(calls_of(settings, account_id, time_zone, period), [], currency,
                  on_net_prefixes=fold.on_net_prefixes, country_code=country_code or fold.country_code,
                  time_zone=time_zone, card_for=lambda at_ms: fold.card_for(plan, currency, at_ms, "", time_zone),
                  inbound_rate_for=lambda at_ms: fold.inbound_rate(plan, currency, at_ms, time_zone),
                  included_for=lambda month: fold.included_seconds(plan, month))
    if not post or not done.total_difference_micros:
        return Found(done, None)
    try:
        event = adjustment_for(account_id, period, plan, done, int(time.time() * 1000))
    except ValueError as exc:
        raise ConfigError(f"rerate: {exc}") from None
    return Found(done, commands.submit(settings, event, event.event_id))

"""Plan changes (R21): when a requested plan takes effect, and what an upgrade costs (pure).

A plan change takes effect at the end of the period (calendar month, the account's zone) in
which it is requested, if requested at least three days before that end; otherwise at the end of
the next period. "Three days" is 3 x 24 h of event time before 00:00 on the 1st of the next
month: on 28 October 23:59 a request still makes 1 November; on 29 October 00:01 it waits for
1 December. A newer request replaces a pending one (the latest request decides its own date).

The switch happens at the first tick of the effective period, before that period's fee is
charged, so the new plan's fee is the one charged in advance (R14) and its included minutes
(R4) count from then. Upgrading to a plan with a higher connection fee charges the difference
(``connection_fees`` setting) as an activation line (R16); a plan with a lower one charges
nothing and refunds nothing.
"""

from __future__ import annotations

from projections.periods import next_period, period_of, period_start_ms

NOTICE_MS = 3 * 86_400_000


def effective_period(requested_at_ms: int, time_zone: str) -> str:
    """The first period (YYYY-MM) of the new plan."""
    following = next_period(period_of(requested_at_ms, time_zone))
    if period_start_ms(following, time_zone) - requested_at_ms >= NOTICE_MS:
        return following
    return next_period(following)


def connection_fee_difference(old_fee_micros: int, new_fee_micros: int) -> int:
    """What an upgrade charges: the higher connection fee's difference, never a refund."""
    return max(0, new_fee_micros - old_fee_micros)

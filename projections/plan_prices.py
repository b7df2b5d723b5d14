"""A plan's price in one currency over time, from the settings' dated entries (pure).

The plan settings that price (monthly fees R14, connection fees R21, inbound rates, included
minutes R4) take an entry per plan ("basic") or per plan and currency ("basic:EUR"), each
either undated (in effect from the start) or dated by the first month it applies to
("@2027-03"). A rebuild folds every past month with today's settings, so a month must be
priced by the entries in effect for it, never by the newest: that is what keeps a rebuild equal
to live across a price change (docs/billing.md#price-changes).

A schedule is ``(first, later)``: the price before any dated entry, and ``((month, price), ...)``
ascending, as ``projections.periods.in_effect`` reads it. Resolved once per plan and currency
(the fold caches it), so the hot path only looks a month up when a plan has changes at all.
"""

from __future__ import annotations

from typing import Iterable

from projections.events import PLAN_CREDIT_LIMIT
from projections.periods import in_effect

Schedule = tuple[int, tuple[tuple[str, int], ...]]
NO_PRICE: Schedule = (0, ())


def schedule(undated: Iterable[tuple[str, int]], dated: Iterable[tuple[str, str, int]], plan: str,
             currency: str = "") -> Schedule:
    """``plan``'s price in ``currency`` per month: in each month, the currency's own entry
    ("plan:CUR") in effect then, else the plan's entry for any currency in effect then, else 0.

    Month by month, not key by key: an EUR price introduced from March leaves February's EUR
    accounts at the any-currency price they were charged live."""
    return keyed_schedule(undated, dated, f"{plan}:{currency}" if currency else None, plan)


def keyed_schedule(undated: Iterable[tuple[str, int]], dated: Iterable[tuple[str, str, int]], own: str | None,
                   fallback: str) -> Schedule:
    """``schedule`` by its two keys: ``own``'s entry in effect in a month, else ``fallback``'s
    (a setting with no plan in it, such as R26's fee: "EUR", else "")."""
    undated, dated = dict(undated), tuple(dated)
    own_changes = sorted((month, value) for key, month, value in dated if key == own) if own is not None else []
    any_changes = sorted((month, value) for key, month, value in dated if key == fallback)

    def price(month: str) -> int:
        value = in_effect(undated.get(own) if own is not None else None, own_changes, month)
        if value is None:
            value = in_effect(undated.get(fallback), any_changes, month)
        return 0 if value is None else value

    months = sorted({month for month, _ in own_changes} | {month for month, _ in any_changes})
    return price(""), tuple((month, price(month)) for month in months)  # "" is before every month


def price_in(plan_schedule: Schedule, period: str) -> int:
    """The price of ``period`` ("YYYY-MM") by a schedule."""
    first, later = plan_schedule
    return in_effect(first, later, period) if later else first


def of_plan(values: dict[str, int], plan: str, currency: str) -> int | None:
    """An undated plan value (a credit limit) in ``currency``: the plan's entry for that currency
    ("plan:CUR"), else its entry for any currency ("plan"); None: neither."""
    found = values.get(f"{plan}:{currency}")
    return values.get(plan) if found is None else found


def credit_limit_in_force(own_micros: int, plan: str, currency: str, plan_limits: dict[str, int]) -> int | None:
    """R10: what a postpaid account may owe: its own limit (CreditLimitSet; PLAN_CREDIT_LIMIT:
    none of its own), else its plan's in its currency (``of_plan``); None: no limit. The one rule
    authorization and the customer's portal both read."""
    return own_micros if own_micros != PLAN_CREDIT_LIMIT else of_plan(plan_limits, plan, currency)

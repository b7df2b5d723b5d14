"""Prepaid authorization (R10): may this call start, and for how long?

Pure: the caller passes the account's state, the funds already held for calls in progress,
and the time of the request. The answer uses the same rating as the bill (``rate_call`` on a
would-be CDR), so increments, minimums, tiers, bands, connect fees and included minutes are
applied exactly as the CDR will be charged (A2Billing #22: authorization ignored minimum
increments and balances went negative).

- Refused with the reason: an account that is not ACTIVE (registered without funds,
  suspended, on a fraud hold, terminated), a destination no card prices.
- On-net calls (R3) of an ACTIVE account are allowed whatever the balance, up to the quota.
- Postpaid accounts are allowed up to the quota, unless they have a credit limit: their own
  (``CreditLimitSet``), else their plan's (``credit_limits``). Then as a prepaid account whose
  funds are its balance plus the limit (``credit_limit`` when not even the first block fits).
- Prepaid: the longest duration, at most ``quota_s``, whose charge fits the available funds
  (balance minus funds held). "Per-minute service stops when the balance cannot pay the next
  minute": the answer ends where the next billing block could not be paid. A call whose
  first block cannot be paid is refused (``insufficient_funds``).

The charge of that duration is what the caller holds as a reservation until the CDR settles it
(``streams/http/reservations.py``), so concurrent calls can never overspend (MagnusBilling #38);
so are the included seconds it uses (R4), which the next request takes off what is left.
The charge grows with duration (a property test of rating), so a binary search finds the
longest affordable duration in ~12 ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from projections.account import AccountState, FoldSettings, credit_limit_of, deal_at
from projections.events import AccountStatus, CallDetailRecord, Disposition
from projections.periods import period_of
from projections.invoicing import add_charge, debit_at_close
from projections.journal import usage_category
from projections.rating import RatedCall, RatingError, rate_call


@dataclass(frozen=True, slots=True)
class Authorization:
    allowed: bool
    max_duration_s: int
    reason: str  # "ok" | "on_net" | "postpaid" | a refusal code
    hold_micros: int  # the charge of max_duration_s: what to reserve
    destination_prefix: str = ""
    rate_micros_per_minute: int = 0
    available_micros: int = 0
    hold_included_s: int = 0  # R4: the included seconds max_duration_s uses: reserved too
    included_period: str = ""  # the month (account's zone) whose allowance hold_included_s is held from


_REFUSED_STATUS = {
    AccountStatus.REGISTERED: "not_active",
    AccountStatus.SUSPENDED: "suspended",
    AccountStatus.FRAUD_HOLD: "fraud_hold",
    AccountStatus.TERMINATED: "terminated",
}


def authorize(state: AccountState, callee: str, at_ms: int, held_micros: int, quota_s: int,
              settings: FoldSettings, held_included: dict[str, int] | None = None) -> Authorization:
    """``held_included``: the included seconds other calls hold, by the month they are held from:
    only this call's month's are taken off what is left (R4: a call at 00:01 on the 1st has the
    new month's minutes, whatever a call begun at 23:55 the day before holds)."""
    status = state.lifecycle.status
    available = state.balance_micros - held_micros
    if status is not AccountStatus.ACTIVE:
        return Authorization(False, 0, _REFUSED_STATUS[status], 0, available_micros=available)

    period = period_of(at_ms, state.time_zone)
    allowance_s = settings.included_seconds(state.plan, period)
    held_s = (held_included or {}).get(period, 0)
    remaining_s = max(0, allowance_s - state.included_used_s.get(period, 0) - held_s) if allowance_s else 0

    @lru_cache(maxsize=None)  # one request: the search below asks for a duration more than once
    def charge(duration_s: int):
        cdr = CallDetailRecord("authz", "authz", "authz", state.account_id, "", callee, at_ms, at_ms,
                               at_ms + duration_s * 1000, Disposition.ANSWERED)
        return rate_call(cdr, card, on_net_prefixes=settings.on_net_prefixes,
                         country_code=state.country_code or settings.country_code,
                         time_zone=state.time_zone, included_remaining_s=remaining_s)

    try:
        card = settings.card_for(state.plan, state.currency, at_ms, deal_at(state, at_ms), state.time_zone)
        full = charge(quota_s)
    except RatingError as exc:
        return Authorization(False, 0, exc.code, 0, available_micros=available)
    if full.on_net:  # R3: free, and allowed even when the balance is insufficient
        return Authorization(True, quota_s, "on_net", 0, available_micros=available)
    dest, rate = full.destination_prefix, full.rate_micros_per_minute
    refusal = "insufficient_funds"
    if state.billing_mode != "prepaid":
        limit = credit_limit_of(state, settings)
        if limit is None:
            return Authorization(True, quota_s, "postpaid", full.charge_micros, dest, rate, available, full.included_s,
                                 period)
        available, refusal = available + limit, "credit_limit"  # what it may still owe
    cost = _prepaid_cost(state, settings, at_ms, charge)

    def hold(duration_s: int) -> int:
        """What to hold: the charge, and what the close will add for it (never less than the charge)."""
        return max(charge(duration_s).charge_micros, cost(duration_s) - cost(0))

    def fits(duration_s: int) -> bool:  # neither now nor after the close below zero
        return charge(duration_s).charge_micros <= available and cost(duration_s) <= available

    if fits(quota_s):
        return Authorization(True, quota_s, "ok", hold(quota_s), dest, rate, available, full.included_s, period)
    if not fits(1):  # R10: not even the first block
        return Authorization(False, 0, refusal, 0, dest, rate, available)
    low, high = 1, quota_s  # low fits, high does not
    while high - low > 1:
        mid = (low + high) // 2
        if fits(mid):
            low = mid
        else:
            high = mid
    return Authorization(True, low, "ok", hold(low), dest, rate, available, charge(low).included_s, period)


def _prepaid_cost(state: AccountState, settings: FoldSettings, at_ms: int,
                  charge: Callable[[int], RatedCall]) -> Callable[[int], int]:
    """What a call of ``d`` seconds takes from a prepaid balance, the close included: its charge,
    and the rounding and taxes (R17) the next invoice adds on everything unbilled with it. So the
    taxes a month's calls bring at its close cannot take a prepaid balance below zero (R10).
    ``cost(0)`` is what the close adds to what is unbilled already."""
    period = period_of(at_ms, state.time_zone)
    taxes = settings.taxes(state.tax_jurisdiction, state.currency, period)

    def cost(duration_s: int) -> int:
        unbilled = dict(state.billing.unbilled)
        rated = charge(duration_s) if duration_s else None
        if rated is not None and rated.charge_micros:
            category = usage_category(rated, state.country_code or settings.country_code).removeprefix("revenue:")
            add_charge(unbilled, period, category, rated.billed_s, rated.charge_micros)
        return (rated.charge_micros if rated else 0) + debit_at_close(unbilled, state.currency, taxes)

    return cost

"""Prepaid authorization (R10): may this call start, and for how long?

Pure: the caller passes the account's state, the funds already held for calls in progress,
and the time of the request. The answer uses the same rating as the bill (``rate_call`` on a
would-be CDR), so increments, minimums, tiers, bands, connect fees and included minutes are
applied exactly as the CDR will be charged (A2Billing #22: authorization ignored minimum
increments and balances went negative).

- Refused with the reason: an account that is not ACTIVE (registered without funds,
  suspended, on a fraud hold, terminated), a destination no card prices.
- On-net calls (R3) of an ACTIVE account are allowed whatever the balance, up to the quota.
- Postpaid accounts are allowed up to the quota (no credit limit is modelled yet).
- Prepaid: the longest duration, at most ``quota_s``, whose charge fits the available funds
  (balance minus funds held). "Per-minute service stops when the balance cannot pay the next
  minute": the answer ends where the next billing block could not be paid. A call whose
  first block cannot be paid is refused (``insufficient_funds``).

The charge of that duration is what the caller holds as a reservation until the CDR settles it
(``streams/http/reservations.py``), so concurrent calls can never overspend (MagnusBilling #38).
The charge grows with duration (a property test of rating), so a binary search finds the
longest affordable duration in ~12 ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.account import AccountState, FoldSettings
from projections.events import AccountStatus, CallDetailRecord, Disposition
from projections.periods import period_of
from projections.rating import RatingError, rate_call, select_card


@dataclass(frozen=True, slots=True)
class Authorization:
    allowed: bool
    max_duration_s: int
    reason: str  # "ok" | "on_net" | "postpaid" | a refusal code
    hold_micros: int  # the charge of max_duration_s: what to reserve
    destination_prefix: str = ""
    rate_micros_per_minute: int = 0
    available_micros: int = 0


_REFUSED_STATUS = {
    AccountStatus.REGISTERED: "not_active",
    AccountStatus.SUSPENDED: "suspended",
    AccountStatus.FRAUD_HOLD: "fraud_hold",
    AccountStatus.TERMINATED: "terminated",
}


def authorize(state: AccountState, callee: str, at_ms: int, held_micros: int, quota_s: int,
              settings: FoldSettings) -> Authorization:
    status = state.lifecycle.status
    available = state.balance_micros - held_micros
    if status is not AccountStatus.ACTIVE:
        return Authorization(False, 0, _REFUSED_STATUS[status], 0, available_micros=available)

    allowance_s = settings.included_seconds(state.plan)
    remaining_s = max(0, allowance_s - state.included_used_s.get(period_of(at_ms, state.time_zone), 0)) \
        if allowance_s else 0

    def charge(duration_s: int):
        cdr = CallDetailRecord("authz", "authz", "authz", state.account_id, "", callee, at_ms, at_ms,
                               at_ms + duration_s * 1000, Disposition.ANSWERED)
        return rate_call(cdr, card, on_net_prefixes=settings.on_net_prefixes, country_code=settings.country_code,
                         time_zone=state.time_zone, included_remaining_s=remaining_s)

    try:
        card = select_card(settings.rate_cards, state.currency, at_ms)
        full = charge(quota_s)
    except RatingError as exc:
        return Authorization(False, 0, exc.code, 0, available_micros=available)
    if full.on_net:  # R3: free, and allowed even when the balance is insufficient
        return Authorization(True, quota_s, "on_net", 0, available_micros=available)
    dest, rate = full.destination_prefix, full.rate_micros_per_minute
    if state.billing_mode != "prepaid":
        return Authorization(True, quota_s, "postpaid", full.charge_micros, dest, rate, available)
    if full.charge_micros <= available:
        return Authorization(True, quota_s, "ok", full.charge_micros, dest, rate, available)
    if charge(1).charge_micros > available:  # R10: not even the first block
        return Authorization(False, 0, "insufficient_funds", 0, dest, rate, available)
    low, high = 1, quota_s  # charge(low) fits, charge(high) does not
    while high - low > 1:
        mid = (low + high) // 2
        if charge(mid).charge_micros <= available:
            low = mid
        else:
            high = mid
    return Authorization(True, low, "ok", charge(low).charge_micros, dest, rate, available)

"""Funds held for calls in progress (R10), in the worker that owns the account's partition.

An authorization holds the charge of the duration it allows, and the included minutes (R4) that
duration uses, so two calls at once cannot both talk on the same last free minutes of a prepaid
account without funds; the call's CDR, once folded,
settles the hold (the balance now carries the real charge), and a hold nobody settles expires
after its quota plus a grace period. Check-and-hold is atomic under one lock, so concurrent
authorizations of one account can never hold more than its balance (MagnusBilling #38).

Holds live in memory, not in the log: they are promises about calls in progress, and they
have no meaning on a rebuild. A worker that restarts or loses the partition forgets them, so
for the calls in progress during a failover a second call may be authorized against the same
funds (README, "Authorization").

Order matters for safety: the worker writes an account's new state *before* it settles the
holds of the calls in it. In between, an authorization sees the charge twice (in the balance
and in the hold): too careful, never too generous.
"""

from __future__ import annotations

import threading
from typing import Callable

from projections.authorization import Authorization


class ReservationBook:
    def __init__(self, grace_ms: int) -> None:
        self.grace_ms = grace_ms
        self._lock = threading.Lock()
        # account -> call key -> (micros, included seconds, the month they are held from, expires ms)
        self._held: dict[str, dict[str, tuple[int, int, str, int]]] = {}

    def _live(self, account_id: str, now_ms: int) -> dict[str, tuple[int, int, str, int]]:
        holds = self._held.get(account_id)
        if not holds:
            return {}
        expired = [k for k, (_, _, _, until) in holds.items() if until <= now_ms]
        for k in expired:
            del holds[k]
        return holds

    def authorize(self, account_id: str, call_key: str, now_ms: int, quota_s: int,
                  decide: Callable[[int, dict[str, int]], Authorization]) -> Authorization:
        """``decide(held_micros, held_included)`` under the lock, ``held_included`` the included
        seconds held by month (``projections/authorization.authorize``); an allowed answer holds
        its charge and its included seconds, from the month of its own allowance.

        Authorizing the same call key again replaces its hold (a switch asking for a new quota).
        """
        with self._lock:
            holds = self._live(account_id, now_ms)
            others = [held for key, held in holds.items() if key != call_key]
            included: dict[str, int] = {}
            for _, seconds, period, _ in others:
                if seconds:
                    included[period] = included.get(period, 0) + seconds
            answer = decide(sum(h[0] for h in others), included)
            if answer.allowed and (answer.hold_micros or answer.hold_included_s):
                self._held.setdefault(account_id, {})[call_key] = (
                    answer.hold_micros, answer.hold_included_s, answer.included_period,
                    now_ms + quota_s * 1000 + self.grace_ms)
            else:
                holds.pop(call_key, None)
            return answer

    def settle(self, account_id: str, call_key: str) -> bool:
        """The call's CDR is in the balance now (or the call ended without one): drop its hold."""
        with self._lock:
            holds = self._held.get(account_id)
            if not holds or holds.pop(call_key, None) is None:
                return False
            if not holds:
                del self._held[account_id]
            return True

    def held(self, account_id: str, now_ms: int) -> int:
        with self._lock:
            return sum(micros for micros, _, _, _ in self._live(account_id, now_ms).values())

    def total(self) -> int:
        with self._lock:
            return sum(m for holds in self._held.values() for m, _, _, _ in holds.values())

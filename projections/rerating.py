"""Re-rating (R6): price a period's calls again at another plan's card, call by call.

R6: usage found inconsistent with the account's plan (business use of a residential flat rate,
say) is re-rated at the other plan's rates for the periods concerned, and the difference is
posted as an adjustment. This module computes the differences; the ledger posts them (issue 4
and 6). It is pure: the same calls and cards always give the same differences, because each
call is re-rated with the card of the *other* plan that was in effect when it started (R5).

A call the other card cannot rate (no destination, no card in effect) is reported, never
silently priced at zero: an adjustment must be complete or not made.

The other plan prices a call as the fold would have, had the account been on it: a call received
on a rented number at its inbound rate (``rate_inbound``, never the card's price of the account's
own number), and domestic calls first from its included minutes of the call's month (R4), used
in the order the calls started.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from projections.events import AdjustmentPosted, CallDetailRecord, Direction
from projections.periods import period_of
from projections.rating import RateCard, RatedCall, RatingError, rate_call, rate_inbound, select_card


@dataclass(frozen=True, slots=True)
class CallDifference:
    call_key: str
    original_micros: int
    rerated_micros: int
    rerated: RatedCall

    @property
    def difference_micros(self) -> int:
        """What the customer owes in addition (negative: what is owed back)."""
        return self.rerated_micros - self.original_micros


@dataclass(frozen=True, slots=True)
class Rerating:
    currency: str
    differences: tuple[CallDifference, ...]
    unrated: tuple[tuple[str, str], ...]  # (call key, reason) the other card could not rate

    @property
    def total_difference_micros(self) -> int:
        return sum(d.difference_micros for d in self.differences)


def rerate(calls: list[tuple[CallDetailRecord, int]], other_cards: list[RateCard], currency: str, *,
           on_net_prefixes: tuple[str, ...] = (), country_code: str = "1", time_zone: str = "UTC",
           card_for: Callable[[int], RateCard] | None = None, inbound_rate_for: Callable[[int], int] | None = None,
           included_for: Callable[[str], int] | None = None) -> Rerating:
    """Re-rate ``(cdr, original charge in micro-units)`` pairs at ``other_cards`` (R6), or at the
    card ``card_for(start)`` picks (the other plan's, as the fold would pick it); a received call
    at ``inbound_rate_for(start)`` per minute (none: free), domestic calls first from
    ``included_for(month)`` seconds a month (none: no minutes)."""
    differences = []
    unrated = []
    used: dict[str, int] = {}  # R4: included seconds used so far, by month
    for cdr, original in sorted(calls, key=lambda c: (c[0].start_at_ms, c[0].call_key)):
        try:
            card = card_for(cdr.start_at_ms) if card_for else select_card(other_cards, currency, cdr.start_at_ms)
            if cdr.direction is Direction.INBOUND:
                rated = rate_inbound(cdr, card, inbound_rate_for(cdr.start_at_ms) if inbound_rate_for else 0)
            else:
                month = period_of(cdr.start_at_ms, time_zone)
                left = max(0, included_for(month) - used.get(month, 0)) if included_for else 0
                rated = rate_call(cdr, card, on_net_prefixes=on_net_prefixes, country_code=country_code,
                                  time_zone=time_zone, included_remaining_s=left)
                used[month] = used.get(month, 0) + rated.included_s
        except RatingError as exc:
            unrated.append((cdr.call_key, f"{exc.code}: {exc}"))
            continue
        differences.append(CallDifference(cdr.call_key, original, rated.charge_micros, rated))
    return Rerating(currency, tuple(differences), tuple(unrated))


def adjustment_for(account_id: str, period: str, plan: str, rerating: Rerating, at_ms: int) -> AdjustmentPosted:
    """R6: the difference as an adjustment (its own invoice line, "rerating"); its event id names
    the account, period and plan, so the same re-rating posted twice is one adjustment. Refused
    (``IncompleteRerating``) when a call could not be re-rated: an adjustment is complete or not made."""
    if rerating.unrated:
        raise IncompleteRerating(f"{len(rerating.unrated)} call(s) could not be re-rated at plan {plan}, e.g. "
                                 f"{rerating.unrated[0][0]}: {rerating.unrated[0][1]}")
    n = len(rerating.differences)
    return AdjustmentPosted(f"rerate:{account_id}:{period}:{plan}", account_id, at_ms, rerating.total_difference_micros,
                            rerating.currency, "rerating", f"{period}: {n} call(s) re-rated at plan {plan} (R6)")


class IncompleteRerating(ValueError):
    """Some calls of the period could not be re-rated at the other plan's cards."""

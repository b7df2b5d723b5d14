"""R10: a postpaid account's own credit limit (``CreditLimitSet``), in place of its plan's.

An operator sets what one customer may owe after a credit check or a deposit; authorization
then allows that account's calls while its balance plus the limit pays for them. The event is
folded like any other (so a rebuild gives the same limit), refused for a prepaid account and in
another currency, and ``-1`` gives the account back its plan's limit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from projections.account import AccountState, Applied, FoldSettings, Positioned, Redelivered, Rejected, fold_batch
from projections.authorization import authorize
from projections.events import PLAN_CREDIT_LIMIT, AccountOpened, CreditLimitSet, PaymentReceived
from projections.rating import DestinationRate, RateCard
from schemas.codec import EventCodec
from streams.edge import commands

T = 1_790_812_800_000  # 2026-10-01T00:00Z
CARD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 100_000)})  # 0.10/min, 60/60
FOLD = FoldSettings(rate_cards=(CARD,), credit_limit_by_plan=(("corp", 1_000_000),))  # corp: 1.00


def folded(*events, mode="postpaid", plan="corp") -> tuple[AccountState, list]:
    opened = AccountOpened("open", "a1", T, "USD", plan, mode, ("15550000001",))
    items = [Positioned("events/0", n, 0, T + 60_000, e) for n, e in enumerate((opened, *events))]
    state, outcomes = fold_batch(None, items, FOLD)
    assert state is not None
    return state, outcomes[1:]


def limit(micros: int, n: int = 1, currency: str = "USD") -> CreditLimitSet:
    return CreditLimitSet(f"climit-{n}", "a1", T + n, currency, micros, "credit check")


def asked(state: AccountState, balance: int = 0):
    return authorize(replace(state, balance_micros=balance), "12125550100", T + 60_000, 0, 3600, FOLD)


def test_R10_an_accounts_own_credit_limit_replaces_its_plans_and_minus_one_gives_the_plans_back():
    plan_only, _ = folded()
    assert (asked(plan_only).max_duration_s, asked(plan_only).available_micros) == (600, 1_000_000)
    raised, outcomes = folded(limit(3_000_000))  # a deposit taken: 3.00
    assert [type(o) for o in outcomes] == [Applied] and raised.credit_limit_micros == 3_000_000
    answer = asked(raised, balance=-500_000)  # owes 0.50 of 3.00: 25 minutes at 0.10
    assert (answer.allowed, answer.max_duration_s, answer.available_micros) == (True, 1500, 2_500_000)
    assert (asked(raised, balance=-3_000_000).allowed, asked(raised, balance=-3_000_000).reason) == (False,
                                                                                                      "credit_limit")
    nothing, _ = folded(limit(0))  # no credit at all: its balance only
    assert (asked(nothing).allowed, asked(nothing).reason) == (False, "credit_limit")
    assert asked(nothing, balance=200_000).max_duration_s == 120
    back, _ = folded(limit(3_000_000), limit(PLAN_CREDIT_LIMIT, 2))
    assert back.credit_limit_micros == PLAN_CREDIT_LIMIT and asked(back).available_micros == 1_000_000


def test_R10_an_accounts_own_limit_applies_on_a_plan_without_one_too():
    unlimited, _ = folded(plan="basic")
    assert (asked(unlimited, balance=-10**9).reason, asked(unlimited).max_duration_s) == ("postpaid", 3600)
    limited, _ = folded(limit(200_000), plan="basic")
    assert (asked(limited).max_duration_s, asked(limited).reason) == (120, "ok")


@pytest.mark.parametrize(("event", "mode", "code"), [
    (limit(1_000_000), "prepaid", "not_postpaid"),  # R10: a prepaid account spends its balance only
    (limit(1_000_000, currency="EUR"), "postpaid", "currency_mismatch"),  # R7
    (limit(-2), "postpaid", "negative_credit_limit"),
    (limit(1_000_000, currency="XXX"), "postpaid", "unknown_currency"),
])
def test_R10_a_credit_limit_the_account_cannot_take_is_refused_with_its_reason_and_changes_nothing(event, mode, code):
    before, _ = folded(mode=mode)
    after, outcomes = folded(event, mode=mode)
    assert [(type(o), getattr(o, "code", "")) for o in outcomes] == [(Rejected, code)]
    assert after.credit_limit_micros == before.credit_limit_micros == PLAN_CREDIT_LIMIT


def test_R10_a_redelivered_limit_is_not_applied_twice_and_a_later_one_wins_in_log_order():
    state, _ = folded(limit(3_000_000))
    again, outcomes = fold_batch(state, [Positioned("events/0", 1, 0, T + 60_000, limit(3_000_000))], FOLD)
    assert [type(o) for o in outcomes] == [Redelivered] and again == state
    later, _ = fold_batch(state, [Positioned("events/0", 2, 0, T + 60_000, limit(700_000, 2))], FOLD)
    assert later.credit_limit_micros == 700_000
    paid, _ = folded(limit(3_000_000), PaymentReceived("p", "a1", T + 5, 1_000_000, "USD"))
    assert paid.credit_limit_micros == 3_000_000, "other events keep it"


def test_R10_the_limit_survives_the_state_and_event_round_trips_a_rebuild_reads():
    codec = EventCodec()
    state, _ = folded(limit(3_000_000))
    assert codec.decode_state(codec.encode_state(state)) == state
    assert codec.decode_state(codec.encode_state_record(state)).credit_limit_micros == 3_000_000
    assert codec.decode(codec.encode(limit(3_000_000))) == [limit(3_000_000)]


def test_R10_the_command_refuses_a_negative_limit_and_an_unknown_currency_in_one_line():
    made = commands.credit_limit("a1", 500_000_000, "eur", "", "k")
    assert (made.currency, made.limit_micros, made.event_id.startswith("credit-limit:")) == ("EUR", 500_000_000, True)
    assert commands.credit_limit("a1", None, "EUR", "", "k").limit_micros == PLAN_CREDIT_LIMIT
    for micros, currency, words in ((-1, "EUR", "limit: 0 or more"), (5, "ZZZ", "unknown_currency")):
        with pytest.raises(commands.CommandRefused, match=words):
            commands.credit_limit("a1", micros, currency, "", "k")

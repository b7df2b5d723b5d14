"""Prepaid authorization (R10, R3, R4, R2): how long may a call last, and holds that never
let concurrent calls overspend. Amounts are computed by hand from the card below."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from projections.account import AccountState, FoldSettings
from projections.authorization import authorize
from projections.events import AccountStatus, CallDetailRecord, Disposition
from projections.lifecycle import Lifecycle
from projections.rating import DestinationRate, RateCard, rate_call
from streams.http.reservations import ReservationBook

T = 1_790_812_800_000  # 2026-10-01T00:00Z, a Thursday
CARD = RateCard("usd", "USD", 0, {
    "1": DestinationRate("1", "US", 100_000),  # 0.10/min, 60/60
    "44": DestinationRate("44", "UK", 60_000, 0, 30, 6),  # 0.06/min, 30/6
    "49": DestinationRate("49", "Germany", 600_000, 0, 1, 1, minimum_billable_s=60),  # 0.60/min, 60 s minimum
    "1900": DestinationRate("1900", "US premium", 1_500_000, 250_000),  # 1.50/min + 0.25 a call
})
FOLD = FoldSettings(rate_cards=(CARD,), on_net_prefixes=("1555",), included_seconds_by_plan=(("plus", 600),))


def account(balance: int, status=AccountStatus.ACTIVE, plan="basic", mode="prepaid") -> AccountState:
    return AccountState("a1", "open", "USD", plan, mode, ("15550000001",), "UTC", T - 86_400_000,
                        balance_micros=balance, lifecycle=Lifecycle(status))


def ask(balance, callee, held=0, quota=3600, **kw):
    return authorize(account(balance, **kw), callee, T, held, quota, FOLD)


def test_R10_the_call_may_last_as_long_as_whole_blocks_are_paid_for():
    full = ask(1_000_000, "12125550100")  # 1.00 at 0.10/min: ten minutes
    assert (full.allowed, full.max_duration_s, full.hold_micros, full.reason) == (True, 600, 1_000_000, "ok")
    partial = ask(950_000, "12125550100")  # 0.95: the tenth minute cannot be paid
    assert (partial.max_duration_s, partial.hold_micros) == (540, 900_000)
    uk = ask(50_000, "442071234567")  # 30/6 at 0.06: 30 s = 0.03, then 0.006 a block: 3 blocks
    # 0.048 of calls, which the invoice rounds to 0.05: the hold covers what the close debits
    assert (uk.max_duration_s, uk.hold_micros) == (48, 50_000)
    assert ask(99_999, "12125550100").reason == "insufficient_funds"  # not even the first minute


def test_R10_R2_minimum_billable_seconds_and_connect_fees_count_from_the_first_second():
    # A2Billing #22: ignoring the minimum let balances go negative.
    assert ask(300_000, "4930123456").reason == "insufficient_funds"  # 60 s minimum at 0.60 = 0.60
    assert ask(600_000, "4930123456").max_duration_s == 60
    assert ask(1_000_000, "19005550100").reason == "insufficient_funds"  # 1.50 + 0.25 for the first minute
    assert ask(2_000_000, "19005550100").max_duration_s == 60


def test_R10_the_quota_caps_the_answer_and_the_hold():
    answer = ask(10_000_000, "12125550100", quota=120)
    assert (answer.max_duration_s, answer.hold_micros) == (120, 200_000)


def test_R3_on_net_is_allowed_with_no_funds_and_R4_included_minutes_are_free():
    on_net = ask(0, "15550000002")
    assert (on_net.allowed, on_net.reason, on_net.hold_micros, on_net.max_duration_s) == (True, "on_net", 0, 3600)
    included = ask(0, "12125550100", plan="plus")  # 10 included minutes, no funds
    assert (included.allowed, included.max_duration_s, included.hold_micros) == (True, 600, 0)


def test_R4_R10_two_calls_at_once_cannot_both_talk_on_the_last_included_minutes_without_funds():
    """A prepaid account with no funds and 10 included minutes: the first call is allowed its 10
    free minutes and holds them; a second at the same time finds none left and no money, so it
    is refused, where both used to be allowed 10 minutes and the second billed below zero."""
    book = ReservationBook(grace_ms=60_000)
    state = account(0, plan="plus")

    def auth(call):
        return book.authorize("a1", call, T, 3600,
                              lambda held, held_s: authorize(state, "12125550100", T, held, 3600, FOLD, held_s))

    first = auth("c/1")
    assert (first.allowed, first.max_duration_s, first.hold_micros, first.hold_included_s) == (True, 600, 0, 600)
    second = auth("c/2")
    assert (second.allowed, second.reason) == (False, "insufficient_funds")
    assert auth("c/1").allowed, "the same call asking again replaces its own hold"
    assert book.settle("a1", "c/1") and auth("c/2").allowed, "the first call ended without using them"


def test_R4_R10_minutes_held_in_one_month_are_not_taken_off_the_next_months_allowance():
    """A call at 23:55 on 30 September holds September's 10 included minutes; a call at 00:01
    on 1 October has October's 10 (it was refused, being held to September's hold); one more
    call in September still finds none left."""
    book = ReservationBook(grace_ms=60_000)
    state = account(0, plan="plus")

    def auth(call, at_ms):
        return book.authorize("a1", call, at_ms, 3600,
                              lambda held, held_s: authorize(state, "12125550100", at_ms, held, 3600, FOLD, held_s))

    september = auth("c/1", T - 300_000)
    assert (september.allowed, september.hold_included_s, september.included_period) == (True, 600, "2026-09")
    october = auth("c/2", T + 60_000)
    assert (october.allowed, october.max_duration_s, october.hold_included_s) == (True, 600, 600), october
    assert (october.included_period, auth("c/3", T - 120_000).reason) == ("2026-10", "insufficient_funds")


def test_R10_a_postpaid_account_with_a_credit_limit_may_owe_up_to_it_and_no_further():
    limited = replace(FOLD, credit_limit_by_plan=(("corp", 1_000_000), ("corp:EUR", 5_000_000)))

    def asked(balance, held=0):
        return authorize(account(balance, plan="corp", mode="postpaid"), "12125550100", T, held, 3600, limited)

    half = asked(-500_000)  # owes 0.50 of its 1.00: five minutes at 0.10
    assert (half.allowed, half.max_duration_s, half.hold_micros, half.available_micros) == (True, 300, 500_000, 500_000)
    assert (asked(-1_000_000).allowed, asked(-1_000_000).reason) == (False, "credit_limit")
    assert asked(0, held=950_000).reason == "credit_limit", "calls in progress count against the limit"
    unlimited = authorize(account(-10**9, plan="basic", mode="postpaid"), "12125550100", T, 0, 3600, limited)
    assert (unlimited.allowed, unlimited.max_duration_s, unlimited.reason) == (True, 3600, "postpaid")
    assert (limited.credit_limit("corp", "EUR"), limited.credit_limit("corp", "USD")) == (5_000_000, 1_000_000)


def test_R10_accounts_that_are_not_active_are_refused_with_the_reason():
    for status, reason in [(AccountStatus.REGISTERED, "not_active"), (AccountStatus.SUSPENDED, "suspended"),
                           (AccountStatus.FRAUD_HOLD, "fraud_hold"), (AccountStatus.TERMINATED, "terminated")]:
        answer = ask(10_000_000, "15550000002", status=status)  # on-net too: the account is blocked
        assert (answer.allowed, answer.reason) == (False, reason)
    assert ask(10_000_000, "99912345").reason == "unknown_destination"
    assert ask(-5_000_000, "12125550100", mode="postpaid").reason == "postpaid"


def test_R10_holds_make_concurrent_calls_share_the_balance_and_settling_frees_it():
    book = ReservationBook(grace_ms=60_000)
    state = account(1_000_000)

    def auth(call, now=T, quota=60):
        return book.authorize("a1", call, now, quota,
                              lambda held, held_s: authorize(state, "12125550100", now, held, quota, FOLD, held_s))

    answers = [auth(f"c/{n}") for n in range(15)]  # a one-minute quota holds 0.10 each
    assert [a.allowed for a in answers] == [True] * 10 + [False] * 5
    assert book.held("a1", T) == 1_000_000 <= state.balance_micros
    assert auth("c/0").allowed  # the same call asking again replaces its own hold
    assert book.settle("a1", "c/3") and not book.settle("a1", "c/3")
    assert auth("c/new").allowed and not auth("c/newer").allowed
    later = T + 60_000 + 60_000  # quota + grace: every hold has expired
    assert book.held("a1", later) == 0 and auth("c/after", now=later).allowed


@given(st.integers(0, 5_000_000), st.sampled_from(["12125550100", "442071234567", "4930123456", "19005550100"]),
       st.integers(0, 3_000_000), st.integers(1, 7200))
def test_R10_the_answer_is_the_longest_call_the_available_funds_pay_for(balance, callee, held, quota):
    """Paid for now and after the invoice rounds the call to the cent (no taxes here): the hold is
    what the balance loses, the larger of the charge and its rounded line."""
    from projections.invoicing import round_half_away

    answer = ask(balance, callee, held=held, quota=quota)
    available = balance - held

    def charge(seconds):
        cdr = CallDetailRecord("x", "x", "x", "a1", "", callee, T, T, T + seconds * 1000, Disposition.ANSWERED)
        return rate_call(cdr, CARD).charge_micros

    def fits(seconds):
        return charge(seconds) <= available and round_half_away(charge(seconds), 10_000) <= available

    if answer.allowed:
        d = answer.max_duration_s
        assert fits(d) and answer.hold_micros == max(charge(d), round_half_away(charge(d), 10_000))
        assert d == quota or not fits(d + 1)
    else:
        assert answer.reason == "insufficient_funds" and not fits(1)
    assert replace(answer) == ask(balance, callee, held=held, quota=quota)  # deterministic


def test_R10_a_batch_settling_between_the_state_read_and_the_hold_cannot_let_money_be_spent_twice():
    """The account has 1.00 and a call holding 0.60. A batch lands that charges that call (new
    balance 0.40) and settles its hold. It is made to run exactly between the moment the
    authorization reads the state and the moment it looks at the holds: the request for a
    second call must still see either the old balance with the hold, or the new balance, and
    so never be allowed more than 0.40 (four minutes at 0.10)."""
    import threading

    from streams.http.authorization import AuthorizationServer

    book = ReservationBook(grace_ms=0)
    assert book.authorize("a1", "carrier/call-1", T, 3600, lambda held, _: ask(1_000_000, "12125550100", quota=360))
    states = {"a1": account(1_000_000)}

    def the_batch_lands() -> None:  # the fold: new state first, then the settle
        states["a1"] = account(400_000)
        book.settle("a1", "carrier/call-1")

    reads = []

    def load_state(account_id: str) -> AccountState:
        state = states[account_id]
        if not reads:  # the first read: the batch lands now, on its own thread, as the fold does
            batch = threading.Thread(target=the_batch_lands)
            batch.start()
            batch.join(0.5)  # it finishes now unless the read is under the book's lock
        reads.append(state)
        return state

    server = AuthorizationServer("127.0.0.1", 0, book, 3600, load_state, lambda: FOLD, lambda a: None)
    answer = server.decide("a1", "12125550100", "carrier/call-2", T, T, 3600)
    assert answer.allowed and answer.hold_micros <= 400_000, answer
    assert answer.max_duration_s <= 240


def test_R10_R17_a_prepaid_call_leaves_room_for_the_taxes_its_invoice_will_add():
    """With 7.4% of taxes on the account's invoices, 1.00 pays for nine minutes at 0.10, not ten:
    ten would be 1.00 of calls and 0.074 of taxes at the close, a balance of -0.07."""
    from projections.invoicing import TaxRule

    taxed = FoldSettings(rate_cards=(CARD,), taxes_by_key=(("USD", (TaxRule("US-FED", "Federal", 34_000),
                                                                    TaxRule("US-NY", "NY", 40_000))),))
    answer = authorize(account(1_000_000), "12125550100", T, 0, 3600, taxed)
    assert (answer.max_duration_s, answer.hold_micros) == (540, 970_000)  # 0.90 + 0.07 of taxes (6.66 -> 7)
    untaxed = authorize(account(1_000_000), "12125550100", T, 0, 3600, FOLD)
    assert untaxed.max_duration_s == 600

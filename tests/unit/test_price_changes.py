"""Price changes of the plan settings besides the monthly fee (test_lifecycle has its own): included
minutes (R4), inbound rates and connection fees (R21) dated by the first month they apply to.
Each month is priced by the entries in effect for it, so that a rebuild, which folds every past
month with today's settings, gives what live gave (docs/billing.md#price-changes)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from projections.account import AccountState, FoldSettings
from projections.authorization import authorize
from projections.events import CallDetailRecord, Direction, Disposition, PlanChangeRequested
from projections.lifecycle import Lifecycle
from projections.rating import DestinationRate, RateCard
from streams.config.settings import ConfigError, load_settings
from tests.unit.test_invoicing import FEE, Account, ms

USD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000)})
EUR = RateCard("eur", "EUR", 0, {"1": DestinationRate("1", "US", 9_000)})
MINUTES = FoldSettings(rate_cards=(USD, EUR), included_seconds_by_plan=(("basic", 300),),
                       included_seconds_changes=(("basic", "2026-11", 600),),
                       dedup_window_ms=60 * 86_400_000)  # October's count is kept through November


def call(a: Account, n: int, at: str, seconds: int, revision: int = 0,
         direction: Direction = Direction.OUTBOUND) -> None:
    start = ms(at)
    a.feed(CallDetailRecord(f"e{n}r{revision}", "c", f"k{n}", "a1", "15550000001", "12125550100", start, start,
                            start + seconds * 1000, Disposition.ANSWERED, direction, revision=revision))


def around_a_restart(before: FoldSettings, after: FoldSettings, restart: str | None, seconds: int) -> Account:
    """Calls on five days of October and November. Live (``restart`` a day): folded with
    ``before`` until the worker restarts with ``after`` that day; a rebuild (None): all with ``after``."""
    a = Account("2026-10-01T00:00:00", fold=before if restart else after)
    for n, at in enumerate(("2026-10-10", "2026-10-20", "2026-10-25", "2026-11-05", "2026-11-20")):
        if at == restart:
            a.fold = after
        call(a, n, at + "T10:00:00", seconds)
    return a


def refused_in_one_line(cases: tuple[tuple[str, str, str], ...]) -> None:
    """Each (setting, value, words): the value refused at start, in one line naming the setting."""
    for name, bad, needle in cases:
        with pytest.raises(ConfigError, match=f"^{name.lower()}: .*{needle}"):
            load_settings(None, env={f"VOICELEDGER_{name}": bad})


def test_R4_included_minutes_changed_from_a_month_count_each_month_by_its_own_and_a_correction_too():
    a = Account("2026-10-01T00:00:00", fold=MINUTES)
    call(a, 1, "2026-10-20T10:00:00", 480)  # October: 5 included minutes, 3 paid at 0.01
    call(a, 2, "2026-11-10T10:00:00", 480)  # November: 10 included, all 8 free
    assert a.state.charged_micros == 30_000 and a.state.included_used_s == {"2026-10": 300, "2026-11": 480}
    call(a, 1, "2026-10-20T10:00:00", 540, revision=1)  # corrected in November, rated in October's 5
    assert a.state.charged_micros == 40_000 and a.state.included_used_s == {"2026-10": 300, "2026-11": 480}


def test_R4_a_change_of_minutes_added_before_its_month_folds_the_same_live_and_rebuilt():
    """Live, the worker takes the change (dated November) at a restart on 25 October; a rebuild
    folds everything with it. Dated October, a month begun when it was added, they differ."""
    def lived(change: FoldSettings, restart: str | None) -> Account:
        return around_a_restart(replace(MINUTES, included_seconds_changes=()), change, restart, 240)

    live, rebuilt = lived(MINUTES, "2026-10-25"), lived(MINUTES, None)
    assert live.state == rebuilt.state and live.entries == rebuilt.entries
    assert live.state.included_used_s == {"2026-10": 300, "2026-11": 480}
    begun = replace(MINUTES, included_seconds_changes=(("basic", "2026-10", 600),))
    assert lived(begun, "2026-10-25").state.charged_micros != lived(begun, None).state.charged_micros


def test_R4_R10_authorization_counts_the_minutes_of_the_calls_month():
    state = AccountState("a1", "open", "USD", "basic", "prepaid", ("15550000001",), "UTC", ms("2026-10-01T00:00:00"),
                         lifecycle=Lifecycle(), included_used_s={"2026-10": 300, "2026-11": 300})
    october = authorize(state, "12125550100", ms("2026-10-30T10:00:00"), 0, 3600, MINUTES)
    november = authorize(state, "12125550100", ms("2026-11-02T10:00:00"), 0, 3600, MINUTES)
    assert (october.allowed, october.reason) == (False, "insufficient_funds"), "October's 5 minutes are used"
    assert (november.allowed, november.max_duration_s, november.hold_micros) == (True, 300, 0), "5 of 10 left"


def test_an_inbound_rate_change_prices_each_months_calls_and_a_currencys_own_change_comes_first():
    rates = FoldSettings(rate_cards=(USD, EUR), inbound_rate_by_plan=(("basic", 12_000),),
                         inbound_rate_changes=(("basic", "2026-11", 15_000), ("basic:EUR", "2026-12", 9_000)))
    for currency, per_month in (("USD", [12_000, 15_000, 15_000]), ("EUR", [12_000, 15_000, 9_000])):
        a = Account("2026-10-01T00:00:00", currency=currency, fold=rates)
        charged = []
        for n, at in enumerate(("2026-10-20", "2026-11-20", "2026-12-20")):
            before = a.state.charged_micros
            call(a, n, at + "T10:00:00", 60, direction=Direction.INBOUND)
            charged.append(a.state.charged_micros - before)
        assert charged == per_month, currency


def test_R21_a_connection_fee_change_prices_the_upgrades_that_take_effect_from_its_month():
    fees = FoldSettings(rate_cards=(USD,), connection_fee_by_plan=(("basic", 10_000_000), ("business", 35_000_000)),
                        connection_fee_changes=(("business", "2026-12", 45_000_000),), interim_threshold_micros=10**12)
    upgrades = (("2026-10-27", "2026-11", 25_000_000), ("2026-11-20", "2026-12", 35_000_000))  # 35.00 / 45.00 - 10.00
    for requested, effective, difference in upgrades:
        a = Account("2026-10-01T00:00:00", fold=fees)
        a.feed(PlanChangeRequested("pc1", "a1", ms(requested + "T12:00:00"), "business"))
        a.tick(effective + "-01T00:00:00")
        assert [e.postings[0].amount_micros for e in a.entries if e.kind == "connection_fee"] == [difference], requested


def test_R7_R14_a_fee_in_one_currency_from_a_month_leaves_the_months_before_at_the_fee_in_any():
    """An EUR price introduced from December: EUR accounts paid the any-currency fee until then,
    live, and a rebuild must charge them that again, not nothing."""
    fold = FoldSettings(rate_cards=(USD, EUR), monthly_fee_by_plan=(("basic", FEE),),
                        monthly_fee_changes=(("basic:EUR", "2026-12", 25_000_000),))
    assert [fold.policy("basic", "EUR").fee(m) for m in ("2026-11", "2026-12", "2027-06")] == [FEE, 25_000_000,
                                                                                              25_000_000]
    assert [fold.policy("basic", "USD").fee(m) for m in ("2026-11", "2026-12")] == [FEE, FEE]


def test_the_settings_date_connection_fees_inbound_rates_and_minutes_and_the_catalogue_shows_the_changes():
    from streams.api.plans import catalogue
    from streams.worker.fold_settings import fold_settings_from

    env = {"VOICELEDGER_CONNECTION_FEES": "business:35,business:45@2026-12",
           "VOICELEDGER_INBOUND_RATES": "basic:0.012,basic:EUR:0.009@2026-12",
           "VOICELEDGER_INCLUDED_MINUTES": "basic:5,basic:10@2026-11"}
    s = load_settings(None, env=env)
    fold = fold_settings_from(s)
    assert [fold.connection_fee("business", "USD", m) for m in ("2026-11", "2026-12")] == [35_000_000, 45_000_000]
    assert fold.inbound_rate("basic", "EUR", ms("2026-12-01T00:00:00"), "UTC") == 9_000
    assert fold.inbound_rate("basic", "EUR", ms("2026-11-30T23:00:00"), "UTC") == 12_000
    assert [fold.included_seconds("basic", m) for m in ("2026-10", "2026-11")] == [300, 600]
    basic, business = sorted(catalogue(s).model_dump()["plans"], key=lambda p: p["plan"])
    assert basic["included_minutes"] == 5 and basic["included_minutes_changes"] == [{"minutes": 10,
                                                                                    "from_month": "2026-11"}]
    assert basic["inbound_per_minute"][1] == {"currency": "EUR", "amount_micros": 9_000, "from_month": "2026-12"}
    assert business["connection_fees"][1] == {"currency": "", "amount_micros": 45_000_000, "from_month": "2026-12"}
    refused_in_one_line((("INCLUDED_MINUTES", "basic:5@2026-1", "'@YYYY-MM'"),
                        ("INCLUDED_MINUTES", "basic:5,basic:6", "basic has two minutes without a month"),
                        ("CONNECTION_FEES", "business:1@soon", "'@YYYY-MM'"),
                        ("INBOUND_RATES", "basic:1@2027-01,basic:2@2027-01",
                         "basic has two prices from 2027-01")))


def test_R26_a_termination_fee_change_charges_the_breaches_taking_effect_from_its_month():
    from tests.unit.test_lifecycle import FOLD, Account as Lifecycled
    from projections.events import AccountTerminated, TerminationReason

    fold = replace(FOLD, termination_fee_changes=(("", "2026-05", 75_000_000),))  # 50.00 until April
    for effective, fee in (("2026-04-10", 50_000_000), ("2026-05-10", 75_000_000)):
        a = Lifecycled("2026-04-01T00:00:00", fold=fold)
        a.pay("2026-04-01T00:00:00", 300_000_000)
        at = ms(effective + "T00:00:00")
        a.feed(AccountTerminated("t1", "a1", at, TerminationReason.BREACH, at))
        assert [k[2] for k in a.kinds() if k[0] == "termination_fee"] == [fee], effective


def test_an_invoice_is_due_after_the_term_in_effect_for_its_period():
    fold = FoldSettings(rate_cards=(USD,), payment_terms_days=14, payment_terms_days_by_plan=(("basic", 30),),
                        payment_terms_changes=(("basic", "2026-11", 45),), monthly_fee_by_plan=(("basic", FEE),),
                        interim_threshold_micros=10**12)
    a = Account("2026-10-01T00:00:00", fold=fold)
    a.tick("2026-11-01T00:00:00")
    a.tick("2026-12-01T00:00:00")
    october, november = a.invoices
    assert october.due_at_ms - october.occurred_at_ms == 30 * 86_400_000
    assert november.due_at_ms - november.occurred_at_ms == 45 * 86_400_000
    assert fold.due_at("business", "2026-11", 0) == 14 * 86_400_000, "a plan without its own term: the default"


def test_the_settings_date_the_termination_fee_and_payment_terms():
    from streams.api.plans import catalogue
    from streams.worker.fold_settings import fold_settings_from

    s = load_settings(None, env={"VOICELEDGER_TERMINATION_FEE": "50,75@2026-05",
                                 "VOICELEDGER_PAYMENT_TERMS": "basic:30,basic:45@2026-11"})
    fold = fold_settings_from(s)
    assert [fold.policy("basic").termination_fee(m) for m in ("2026-04", "2026-05")] == [50_000_000, 75_000_000]
    assert fold.due_at("basic", "2026-11", 0) == 45 * 86_400_000
    (basic,) = catalogue(s).model_dump()["plans"]
    assert (basic["payment_terms_days"], basic["payment_terms_changes"]) == (30, [{"days": 45,
                                                                                   "from_month": "2026-11"}])
    assert fold_settings_from(load_settings(None, env={})).policy("basic").termination_fee("2026-04") == 0
    refused_in_one_line((("TERMINATION_FEE", "50,60", "it has two amounts without a month"),
                        ("TERMINATION_FEE", "-1", "non-negative decimal"),
                        ("PAYMENT_TERMS", "basic:30@2026-13", "'@YYYY-MM'"),
                        ("PAYMENT_TERMS", "basic:400", "0-365")))


def test_R18_R26_a_currency_has_its_own_termination_fee_and_interim_threshold_where_one_amount_fits_none():
    """50.00 is a fee in dollars and 50 yen in yen: a provider billing JPY names its own."""
    from streams.worker.fold_settings import fold_settings_from

    s = load_settings(None, env={"VOICELEDGER_TERMINATION_FEE": "50,JPY:7500,JPY:9000@2027-01",
                                 "VOICELEDGER_INTERIM_THRESHOLD": "50,JPY:7500"})
    fold = fold_settings_from(s)
    assert [fold.policy("basic", c).termination_fee("2026-12") for c in ("USD", "JPY")] == [50_000_000, 7_500_000_000]
    assert fold.policy("basic", "JPY").termination_fee("2027-01") == 9_000_000_000
    assert (fold.interim_threshold("EUR"), fold.interim_threshold("JPY")) == (50_000_000, 7_500_000_000)
    assert fold_settings_from(load_settings(None, env={})).interim_threshold("JPY") == 50_000_000, "the default"
    refused_in_one_line((("TERMINATION_FEE", "XYZ:5", "not an ISO 4217 currency"),
                        ("INTERIM_THRESHOLD", "JPY:0", "positive"),
                        ("INTERIM_THRESHOLD", "50@2027-01", "takes no '@YYYY-MM'"),
                        ("INTERIM_THRESHOLD", "50,60", "it has two amounts without a month")))


def test_R18_a_yen_account_is_announced_above_its_currencys_threshold_not_above_50_yen():
    from projections.account import Positioned, fold_batch
    from projections.events import AccountOpened, InterimInvoiceDue

    jpy = RateCard("jpy", "JPY", 0, {"1": DestinationRate("1", "US", 30_000_000)})  # 30 yen a minute
    fold = FoldSettings(rate_cards=(jpy,), interim_threshold_by_currency=(("JPY", 7_500_000_000),))
    start = ms("2026-10-10T10:00:00")
    events = [AccountOpened("o", "a1", start, "JPY", "basic", "postpaid", ("15550000001",))]
    events += [CallDetailRecord(f"e{n}", "c", f"k{n}", "a1", "15550000001", "12125550100", start + n * 600_000,
                                start + n * 600_000, start + n * 600_000 + 300_000, Disposition.ANSWERED)
               for n in range(1, 60)]  # 59 calls of 5 min: 8,850 yen
    state, outcomes = fold_batch(None, [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)], fold)
    announced = [(n.owed_micros, i) for i, o in enumerate(outcomes) for n in getattr(o, "notices", ())
                 if isinstance(n, InterimInvoiceDue)]
    assert announced == [(7_650_000_000, 51)], "once, at the call that passed 7,500 yen (not at the second, 300 yen)"


def test_R10_credit_limits_reach_the_authorization_and_the_catalogue():
    from streams.api.plans import catalogue
    from streams.worker.fold_settings import fold_settings_from

    s = load_settings(None, env={"VOICELEDGER_CREDIT_LIMITS": "business:500,business:EUR:450"})
    fold = fold_settings_from(s)
    assert (fold.credit_limit("business", "EUR"), fold.credit_limit("business", "USD")) == (450_000_000, 500_000_000)
    assert fold.credit_limit("basic", "USD") is None, "a plan without one: no limit"
    (business,) = catalogue(s).model_dump()["plans"]
    assert [(p["currency"], p["amount_micros"]) for p in business["credit_limits"]] == [("", 500_000_000),
                                                                                        ("EUR", 450_000_000)]
    with pytest.raises(ConfigError, match="^credit_limits: 'business:-1' must be"):
        load_settings(None, env={"VOICELEDGER_CREDIT_LIMITS": "business:-1"})


OLD_CARD = RateCard("basic-2026@2026-01-01", "USD", 0, {"1": DestinationRate("1", "US", 10_000)})  # 0.01/min
NEW_CARD = RateCard("basic-2027@2026-01-01", "USD", 0, {"1": DestinationRate("1", "US", 20_000)})  # 0.02/min
STANDARD = RateCard("standard@2026-01-01", "USD", 0, {"1": DestinationRate("1", "US", 30_000)})  # 0.03/min
MOVED = FoldSettings(rate_cards=(OLD_CARD, NEW_CARD, STANDARD), plan_cards=(("basic", ("basic-2026",)),),
                     plan_card_changes=(("basic", "2026-11", ("basic-2027",)),))


def test_R2_R5_a_plan_moved_to_other_cards_from_a_month_prices_each_months_calls_with_its_own():
    a = Account("2026-10-01T00:00:00", fold=MOVED)
    call(a, 1, "2026-10-20T10:00:00", 60)
    call(a, 2, "2026-11-10T10:00:00", 60)
    assert a.state.charged_micros == 10_000 + 20_000
    # The month is the account's: 03:00 UTC on 1 November is still October in New York.
    assert MOVED.card_for("basic", "USD", ms("2026-11-01T03:00:00"), "", "America/New_York") is OLD_CARD
    assert MOVED.card_for("basic", "USD", ms("2026-11-01T03:00:00")) is NEW_CARD
    # A card a plan moves to is kept for it, before its month too: never anyone's default.
    assert MOVED.card_for("other", "USD", ms("2026-10-20T10:00:00")) is STANDARD
    only_later = replace(MOVED, plan_cards=(), rate_cards=(NEW_CARD, STANDARD))  # none of its own before November
    assert only_later.card_for("basic", "USD", ms("2026-10-20T10:00:00")) is STANDARD
    assert only_later.card_for("basic", "USD", ms("2026-11-20T10:00:00")) is NEW_CARD


def test_R2_R5_a_move_to_other_cards_added_before_its_month_folds_the_same_live_and_rebuilt():
    """Live, the worker takes the move (dated November) at a restart on 25 October; a rebuild
    folds everything with it. Undated, as plan_cards was, the rebuild prices October anew."""
    def lived(moved: FoldSettings, restart: str | None) -> Account:
        return around_a_restart(replace(MOVED, plan_card_changes=()), moved, restart, 60)

    live, rebuilt = lived(MOVED, "2026-10-25"), lived(MOVED, None)
    assert live.state == rebuilt.state and live.entries == rebuilt.entries
    assert live.state.charged_micros == 3 * 10_000 + 2 * 20_000
    undated = replace(MOVED, plan_cards=(("basic", ("basic-2027",)),), plan_card_changes=())
    assert lived(undated, "2026-10-25").state.charged_micros != lived(undated, None).state.charged_micros


def test_the_settings_date_a_plans_cards_and_the_catalogue_shows_the_move():
    from streams.api.plans import catalogue

    moved = "basic:basic-2026,basic:basic-2027|basic-eur@2026-11"
    settings = load_settings(None, env={"VOICELEDGER_PLAN_CARDS": moved})
    assert settings.plan_cards_by_plan() == (("basic", ("basic-2026",)),)
    assert settings.plan_card_changes() == (("basic", "2026-11", ("basic-2027", "basic-eur")),)
    assert settings.plan_card_names() == {"basic-2026", "basic-2027", "basic-eur"}
    (plan,) = catalogue(settings).plans
    assert (plan.rate_cards, [(c.rate_cards, c.from_month) for c in plan.rate_card_changes]) == (
        ["basic-2026"], [(["basic-2027", "basic-eur"], "2026-11")])
    refused_in_one_line((("PLAN_CARDS", "basic:a@2026-1", "'@YYYY-MM'"),
                         ("PLAN_CARDS", "basic:a@2026-11,basic:b@2026-11", "two card lists from 2026-11"),
                         ("PLAN_CARDS", "basic:a,basic:b", "two card lists without a month")))

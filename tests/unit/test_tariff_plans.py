"""Tariff plans (issue 20): a plan prices its calls with its own rate cards, effective-dated (R2,
R5); accounts of other plans use the cards no plan keeps; a plan's monthly fee may be set per
currency (R7, R14)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from projections.account import Applied, FoldSettings, Positioned, fold_batch
from projections.events import AccountOpened, CallDetailRecord, Disposition, PaymentReceived
from projections.rating import DestinationRate, NoRateCardInEffect, RateCard, select_card
from streams.config import checks
from streams.config.settings import ConfigError, load_settings
from streams.edge import commands


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


OCT, NOV = ms("2026-10-01T00:00:00"), ms("2026-11-01T00:00:00")
STANDARD = RateCard("standard-usd@2026-10-01", "USD", OCT, {"44": DestinationRate("44", "UK", 100_000)})
BUSINESS = RateCard("business-usd@2026-10-01", "USD", OCT, {"44": DestinationRate("44", "UK", 60_000)})
BUSINESS_NOV = RateCard("business-usd@2026-11-01", "USD", NOV, {"44": DestinationRate("44", "UK", 50_000)})
SETTINGS = FoldSettings(rate_cards=(STANDARD, BUSINESS, BUSINESS_NOV), plan_cards=(("business", ("business-usd",)),),
                        monthly_fee_by_plan=(("business", 20_000_000), ("business:EUR", 18_000_000)))


def charged(plan: str, started: str, settings: FoldSettings = SETTINGS, currency: str = "USD") -> int:
    """What one minute to the UK costs an account of ``plan`` (its monthly fee left out)."""
    events = [AccountOpened("o", "a1", OCT, currency, plan, "prepaid", ("15550000001",)),
              PaymentReceived("p", "a1", OCT, 100_000_000, currency),
              CallDetailRecord("c", "carrier", "k", "a1", "15550000001", "+442071234567", ms(started), ms(started),
                               ms(started) + 60_000, Disposition.ANSWERED)]
    state, outcomes = fold_batch(None, [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)], settings)
    assert all(isinstance(o, Applied) for o in outcomes), outcomes
    return state.charged_micros - settings.policy(plan, currency).monthly_fee_micros


def test_R2_R5_two_plans_in_one_currency_price_the_same_call_differently_by_the_card_in_effect():
    assert charged("basic", "2026-10-10T12:00:00") == 100_000, "no card of its own: the default card"
    assert charged("business", "2026-10-10T12:00:00") == 60_000, "the plan's card"
    assert charged("business", "2026-11-10T12:00:00") == 50_000, "the plan card's version in effect (R5)"
    # The plan's card is kept for it: the default never picks it, even when it is the newest.
    assert select_card(SETTINGS.rate_cards, "USD", NOV + 1, (), frozenset({"business-usd"})) is STANDARD


def test_a_plan_without_a_card_in_the_accounts_currency_falls_back_to_the_default_and_none_is_an_error():
    eur = RateCard("standard-eur@2026-10-01", "EUR", OCT, {"44": DestinationRate("44", "UK", 90_000)})
    settings = FoldSettings(rate_cards=(STANDARD, BUSINESS, eur), plan_cards=(("business", ("business-usd",)),))
    assert settings.card_for("business", "EUR", OCT + 1) is eur
    with pytest.raises(NoRateCardInEffect):
        settings.card_for("business", "JPY", OCT + 1)


def test_R7_R14_a_plans_monthly_fee_per_currency_before_its_fee_in_any_currency():
    assert SETTINGS.policy("business", "EUR").monthly_fee_micros == 18_000_000
    assert SETTINGS.policy("business", "USD").monthly_fee_micros == 20_000_000
    assert SETTINGS.policy("basic", "USD").monthly_fee_micros == 0


def test_the_settings_spell_plans_cards_and_fees_per_currency():
    assert checks.plan_cards(("business:business-usd|business-eur",)) == (
        ("business", ("business-usd", "business-eur"), ""),)
    assert checks.plan_amounts(("business:9.99", "business:EUR:8.99")) == (
        ("business", 9_990_000), ("business:EUR", 8_990_000))
    for bad in ("business", "business:", "business:card@2026-10-01"):
        with pytest.raises(checks.Invalid):
            checks.plan_cards((bad,))
    with pytest.raises(checks.Invalid):
        checks.plan_amounts(("business:ZZZ:1.00",))


def test_R2_R10_a_per_call_maximum_cost_is_charged_at_most_and_authorization_honours_it():
    """CGRateS's MaxCost: satellite calls at 4.00 a minute plus 0.50 to connect cost at most 10.00."""
    from projections.authorization import authorize

    satellite = DestinationRate("882", "Satellite", 4_000_000, 500_000, max_cost_micros=10_000_000)
    card = RateCard("sat@2026-10-01", "USD", OCT, {"882": satellite, "44": DestinationRate("44", "UK", 100_000)})
    settings = FoldSettings(rate_cards=(card,))

    def call(seconds: int, n: int = 0) -> CallDetailRecord:
        at = ms("2026-10-10T12:00:00") + n * 3_600_000
        return CallDetailRecord(f"c{n}", "carrier", f"k{n}", "a1", "15550000001", "+88212345678", at, at,
                                at + seconds * 1000, Disposition.ANSWERED)

    events = [AccountOpened("o", "a1", OCT, "USD", "basic", "prepaid", ("15550000001",)),
              PaymentReceived("p", "a1", OCT, 12_000_000, "USD"), call(60, 1), call(3_600, 2)]
    state, outcomes = fold_batch(None, [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)], settings)
    assert all(isinstance(o, Applied) for o in outcomes)
    charges = [o.rated.charge_micros for o in outcomes if getattr(o, "rated", None)]
    assert charges == [4_500_000, 10_000_000], "a minute costs 4.50; an hour is capped at 10.00"
    # 12.00 - 14.50 = -2.50 would be owed: the account had 7.50 left before the hour-long call;
    # with 10.00 available the cap lets a call run the whole quota, holding exactly the cap.
    funded = replace(state, balance_micros=10_000_000)
    answer = authorize(funded, "+88212345678", ms("2026-10-11T12:00:00"), 0, 4 * 3600, settings)
    assert (answer.allowed, answer.max_duration_s, answer.hold_micros) == (True, 4 * 3600, 10_000_000)
    short = authorize(replace(state, balance_micros=5_000_000), "+88212345678", ms("2026-10-11T12:00:00"), 0, 3600,
                      settings)
    assert short.allowed and short.max_duration_s < 3600, "below the cap, funds still limit the duration"


def test_R2_R5_an_accounts_own_deal_beats_its_plan_from_the_deal_on():
    from projections.events import RateCardAssigned

    deal = RateCard("acme-deal@2026-10-01", "USD", OCT, {"44": DestinationRate("44", "UK", 30_000)})
    settings = FoldSettings(rate_cards=(STANDARD, BUSINESS, deal), plan_cards=(("business", ("business-usd",)),),
                            deal_cards=("acme-deal",))
    assert settings.card_for("basic", "USD", NOV) is STANDARD, "a deal's card is nobody's default"

    def uk(n: int, at: str) -> CallDetailRecord:
        return CallDetailRecord(f"c{n}", "carrier", f"k{n}", "a1", "15550000001", "+442071234567", ms(at), ms(at),
                                ms(at) + 60_000, Disposition.ANSWERED)

    events = [AccountOpened("o", "a1", OCT, "USD", "business", "prepaid", ("15550000001",)),
              PaymentReceived("p", "a1", OCT, 100_000_000, "USD"), uk(1, "2026-10-05T10:00:00"),
              RateCardAssigned("d", "a1", ms("2026-10-10T00:00:00"), "acme-deal"), uk(2, "2026-10-12T10:00:00"),
              uk(3, "2026-10-09T10:00:00"),  # a late CDR of a call made before the deal: the plan's price
              RateCardAssigned("d2", "a1", ms("2026-10-20T00:00:00"), ""), uk(4, "2026-10-21T10:00:00"),
              uk(5, "2026-10-15T10:00:00")]  # a late CDR of a call made under the deal, after it ended
    state, outcomes = fold_batch(None, [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)], settings)
    assert all(isinstance(o, Applied) for o in outcomes)
    assert [o.rated.charge_micros for o in outcomes if getattr(o, "rated", None)] == [
        60_000, 30_000, 60_000, 60_000, 30_000]
    assert state.card_override == "" and state.card_override_from_ms == ms("2026-10-20T00:00:00")
    assert state.earlier_deals == ((ms("2026-10-10T00:00:00"), "acme-deal"),)
    # A month later the ended deal can no longer price a call the dedup window accepts: forgotten.
    later, _ = fold_batch(state, [Positioned("t/0", 20, 0, 2**62, RateCardAssigned("d3", "a1", ms("2026-11-25T00:00:00"),
                                                                                   "acme-deal"))], settings)
    assert later.earlier_deals == ((ms("2026-10-20T00:00:00"), ""),)


def test_R2_R5_a_call_across_a_band_boundary_split_per_segment_matches_a_hand_computation():
    """CGRateS's example: weekdays 0.20 a minute, weekends 0.05, per second. A call from Friday
    23:58 to Saturday 00:03 costs 1.00 at its start's band, 0.55 split: 2 min x 0.20 + 3 min x 0.05."""
    from projections.rating import Band, band_segments, rate_call

    weekend = Band("weekend", frozenset({5, 6}), 0, 1440)
    usa = DestinationRate("1", "USA", 200_000, 0, 1, 1, band_rates=(("weekend", 50_000),))
    by_start = RateCard("weekend-usd@2026-10-01", "USD", OCT, {"1": usa}, bands=(weekend,))
    split = replace(by_start, split_at_bands=True)
    friday, saturday = ms("2026-10-09T23:58:00"), ms("2026-10-10T00:03:00")
    assert datetime.fromtimestamp(friday / 1000, timezone.utc).weekday() == 4
    cdr = CallDetailRecord("c", "carrier", "k", "a1", "+15550000001", "+12125550100", friday, friday, saturday,
                           Disposition.ANSWERED)
    assert rate_call(cdr, by_start).charge_micros == 1_000_000
    assert rate_call(cdr, split).charge_micros == 550_000
    assert band_segments(split, friday, 300, "UTC") == [("standard", 120), ("weekend", 180)]
    # In New York the same moments are Friday 19:58-20:03: no boundary, all at the weekday rate.
    assert rate_call(cdr, split, time_zone="America/New_York").charge_micros == 1_000_000
    # A call that starts mid-minute crosses at the boundary's exact second; whole-minute increments
    # put the rounding in the last part: 61 s from 23:59:30 -> 30 s weekday, 31 s (+59 s) weekend.
    odd = replace(cdr, start_at_ms=friday + 90_000, answer_at_ms=friday + 90_000, end_at_ms=friday + 151_000)
    minute = replace(split, destinations={"1": replace(usa, initial_increment_s=60, subsequent_increment_s=60)})
    assert band_segments(minute, odd.answer_at_ms, 61, "UTC") == [("standard", 30), ("weekend", 31)]
    assert rate_call(odd, minute).charge_micros == (30 * 200_000 + 90 * 50_000) // 60


def test_R6_usage_inconsistent_with_the_plan_is_rerated_and_the_difference_posted_on_its_own_line():
    """Business use on a residential flat rate: October's calls re-rated at the business card,
    each with the version in effect at its start (R5), the difference one adjustment."""
    from projections.events import AdjustmentPosted, InvoiceIssued, PeriodTicked, TickKind
    from projections.rerating import IncompleteRerating, adjustment_for, rerate

    def uk(n: int, at: str, callee: str = "+442071234567") -> CallDetailRecord:
        return CallDetailRecord(f"c{n}", "carrier", f"k{n}", "a1", "15550000001", callee, ms(at), ms(at),
                                ms(at) + 60_000, Disposition.ANSWERED)

    calls = [(uk(1, "2026-10-10T10:00:00"), 100_000), (uk(2, "2026-11-02T10:00:00"), 100_000)]
    done = rerate(calls, [], "USD", card_for=lambda at: SETTINGS.card_for("business", "USD", at))
    assert [d.rerated_micros for d in done.differences] == [60_000, 50_000]  # the version of each call's start
    event = adjustment_for("a1", "2026-10", "business", done, ms("2026-11-05T00:00:00"))
    assert (event.event_id, event.amount_micros, event.category) == ("rerate:a1:2026-10:business", -90_000, "rerating")
    unknown = rerate([(uk(3, "2026-10-11T10:00:00", "+99912345"), 1)], [], "USD",
                     card_for=lambda at: SETTINGS.card_for("business", "USD", at))
    with pytest.raises(IncompleteRerating):
        adjustment_for("a1", "2026-10", "business", unknown, 0)
    # Folded, the adjustment moves the balance and is its own invoice line at the month's close.
    events = [AccountOpened("o", "a1", OCT, "USD", "basic", "postpaid", ("15550000001",)),
              AdjustmentPosted("rerate:a1:2026-10:business", "a1", ms("2026-10-20T00:00:00"), 90_000, "USD",
                               "rerating", "2026-10: 2 call(s) re-rated at plan business (R6)"),
              PeriodTicked("t", NOV, TickKind.HOUR, "2026-11")]
    state, outcomes = fold_batch(None, [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)],
                                 FoldSettings(rate_cards=(STANDARD,)))
    (invoice,) = [n for o in outcomes for n in getattr(o, "notices", ()) if isinstance(n, InvoiceIssued)]
    assert [(line.category, line.amount_micros) for line in invoice.lines] == [("rerating", 90_000)]
    assert invoice.lines[0].description.startswith("Usage re-rated at the plan that matches it")
    assert state.balance_micros == -90_000


def test_R2_bands_and_elapsed_time_tiers_in_one_destination():
    """A peak/off-peak tariff with a per-second tail after the first minute: tiers give the
    structure (60 s, then seconds), the band's rate over the standard one scales them."""
    from projections.rating import Band, Tier, rate_call

    weekend = Band("weekend", frozenset({5, 6}), 0, 1440)
    usa = DestinationRate("1", "USA", 200_000, tiers=(Tier(0, 200_000, 60), Tier(60, 200_000, 1)),
                          band_rates=(("weekend", 50_000),))
    card = RateCard("mixed@2026-10-01", "USD", OCT, {"1": usa}, bands=(weekend,))

    def call(at: str, seconds: int) -> CallDetailRecord:
        return CallDetailRecord("c", "carrier", "k", "a1", "+15550000001", "+12125550100", ms(at), ms(at),
                                ms(at) + seconds * 1000, Disposition.ANSWERED)

    weekday, saturday = rate_call(call("2026-10-08T12:00:00", 90), card), rate_call(call("2026-10-10T12:00:00", 90), card)
    assert (weekday.billed_s, weekday.charge_micros) == (90, 300_000), "60 s at 0.20, then 30 s at 0.20 a minute"
    assert (saturday.billed_s, saturday.charge_micros) == (90, 75_000), "the same seconds at a quarter of the price"
    assert rate_call(call("2026-10-10T12:00:00", 20), card).charge_micros == 50_000, "the first minute is whole"
    with pytest.raises(Exception, match="must be above zero"):
        DestinationRate("1", "USA", 0, tiers=(Tier(0, 200_000, 60),), band_rates=(("weekend", 50_000),))


CATALOGUE = {"VOICELEDGER_PLANS": "basic,business"}


@pytest.mark.parametrize("setting,value", [
    ("MONTHLY_FEES", "basic:9.99,busines:29.00"), ("MONTHLY_FEES", "busines:EUR:27.00"),
    ("CONNECTION_FEES", "basci:10"), ("INBOUND_RATES", "pro:0.01"), ("INCLUDED_MINUTES", "basci:100"),
    ("PLAN_CARDS", "busines:business-usd"), ("PAYMENT_TERMS", "busines:30"), ("RESIDENTIAL_PLANS", "home"),
    ("CREDIT_LIMITS", "busines:USD:500"),
])
def test_R14_with_a_catalogue_a_plan_setting_naming_a_plan_not_sold_is_refused_at_start(setting, value):
    plan = value.split(",")[-1].split(":")[0]
    with pytest.raises(ConfigError, match=f"^{setting.lower()}: plan '{plan}' is not in plans \\(basic, business\\)$"):
        load_settings(None, env={**CATALOGUE, "VOICELEDGER_" + setting: value})
    # Without a catalogue, any plan name is taken as given (as before: a plan not named has no fee).
    assert getattr(load_settings(None, env={"VOICELEDGER_" + setting: value}), setting.lower())


def test_R14_a_retired_plan_keeps_its_settings_and_takes_no_new_account():
    env = {**CATALOGUE, "VOICELEDGER_RETIRED_PLANS": "legacy", "VOICELEDGER_MONTHLY_FEES": "basic:9.99,legacy:4.99",
           "VOICELEDGER_PLAN_CARDS": "legacy:business-usd"}
    settings = load_settings(None, env=env)
    assert dict(settings.monthly_fee_by_plan())["legacy"] == 4_990_000, "its accounts keep their fee"
    with pytest.raises(commands.CommandRefused, match="^unknown_plan: 'legacy'"):
        commands.opening("a1", "USD", "legacy", "prepaid", [], "UTC", "US", "", "k1", OCT, plans=settings.plans)
    with pytest.raises(commands.CommandRefused, match="^unknown_plan: 'legacy'"):
        commands.plan_change("a1", "legacy", "k2", OCT, plans=settings.plans)
    with pytest.raises(ConfigError, match="^monthly_fees: plan 'legacyy' is not in plans \\(basic, business\\) nor "
                                          "retired_plans \\(legacy\\)$"):
        load_settings(None, env={**env, "VOICELEDGER_MONTHLY_FEES": "legacyy:4.99"})
    with pytest.raises(ConfigError, match="^retired_plans: 'basic' is in plans too"):
        load_settings(None, env={**env, "VOICELEDGER_RETIRED_PLANS": "basic"})
    with pytest.raises(ConfigError, match="^retired_plans: needs plans"):
        load_settings(None, env={"VOICELEDGER_RETIRED_PLANS": "legacy"})


def test_R14_a_catalogue_takes_fees_per_currency_and_every_plan_setting_of_its_plans():
    sold = load_settings(None, env={**CATALOGUE, "VOICELEDGER_MONTHLY_FEES": "basic:9.99,business:EUR:27.00",
                                    "VOICELEDGER_PLAN_CARDS": "business:business-usd",
                                    "VOICELEDGER_RESIDENTIAL_PLANS": "basic"})
    assert sold.plans == ("basic", "business")


def test_R21_with_a_catalogue_an_account_is_opened_on_or_moved_to_a_plan_sold_only():
    plans = ("basic", "business")
    opened = commands.opening("a1", "usd", "business", "prepaid", [], "UTC", "US", "", "k1", OCT, plans=plans)
    assert opened.plan == "business"
    assert commands.plan_change("a1", "basic", "k2", OCT, plans=plans).new_plan == "basic"
    with pytest.raises(commands.CommandRefused, match="^unknown_plan: 'busines' is not a plan sold \\(plans: basic, business\\)$"):
        commands.opening("a1", "USD", "busines", "prepaid", [], "UTC", "US", "", "k1", OCT, plans=plans)
    with pytest.raises(commands.CommandRefused, match="^unknown_plan: 'Basic'"):
        commands.plan_change("a1", "Basic", "k2", OCT, plans=plans)
    # A plan no setting could ever name is refused with or without a catalogue.
    for junk in ("a\x00b", "basic plan", "plan\n2", "a:b", "", "p" * 65):
        with pytest.raises(commands.CommandRefused, match="^plan: 1 to 64 characters, none of them a space"):
            commands.opening("a1", "USD", junk, "prepaid", [], "UTC", "US", "", "k1", OCT)
        with pytest.raises(commands.CommandRefused, match="^plan: 1 to 64 characters"):
            commands.plan_change("a1", junk, "k2", OCT)
    # No catalogue: any plan, as before.
    assert commands.opening("a1", "USD", "busines", "prepaid", [], "UTC", "US", "", "k1", OCT).plan == "busines"
    assert commands.plan_change("a1", "Basic", "k2", OCT).new_plan == "Basic"


def test_R2_R5_a_deal_names_a_card_kept_for_deals_or_plans_only():
    kept = commands.kept_cards(load_settings(None, env={"VOICELEDGER_DEAL_CARDS": "acme-deal",
                                                        "VOICELEDGER_PLAN_CARDS": "business:business-usd|business-eur"}))
    assert kept == {"acme-deal", "business-usd", "business-eur"}
    assert commands.deal("a1", "acme-deal", "k", OCT, kept=kept).card == "acme-deal"
    assert commands.deal("a1", "business-eur", "k", OCT, kept=kept).card == "business-eur"
    assert commands.deal("a1", "", "k", OCT, kept=kept).card == "", "ending a deal names no card"
    with pytest.raises(commands.CommandRefused, match="^unknown_deal_card: 'acme-dael' is not a card kept for deals "
                                                      "or plans \\(acme-deal, business-eur, business-usd\\)$"):
        commands.deal("a1", "acme-dael", "k", OCT, kept=kept)
    for junk in ("acme\x00", "acme deal", "acme@2026-10-01", "a" * 65):
        with pytest.raises(commands.CommandRefused, match="^card: a card's name"):
            commands.deal("a1", junk, "k", OCT)
    with pytest.raises(commands.CommandRefused, match="none: set deal_cards"):
        commands.deal("a1", "acme-deal", "k", OCT, kept=commands.kept_cards(load_settings(None, env={})))


def test_R14_a_price_change_is_a_fee_dated_by_the_first_month_it_is_charged_for():
    s = load_settings(None, env={"VOICELEDGER_MONTHLY_FEES": "basic:9.99,basic:12.99@2027-03,business:EUR:27@2027-01"})
    assert s.monthly_fee_by_plan() == (("basic", 9_990_000),)
    assert s.monthly_fee_changes() == (("basic", "2027-03", 12_990_000), ("business:EUR", "2027-01", 27_000_000))
    fold = replace(SETTINGS, monthly_fee_by_plan=s.monthly_fee_by_plan(), monthly_fee_changes=s.monthly_fee_changes())
    assert [fold.policy("basic", "USD").fee(m) for m in ("2027-02", "2027-03", "2030-12")] == [
        9_990_000, 12_990_000, 12_990_000]
    from streams.worker.fold_settings import fold_settings_from  # what a worker folds with: the change reaches it

    assert fold_settings_from(s).policy("basic", "USD").fee("2027-03") == 12_990_000
    # "business:EUR" has a dated fee only: nothing before it, and other currencies keep "business".
    assert fold.policy("business", "EUR").fee("2026-12") == 0 and fold.policy("business", "EUR").fee("2027-01") == 27_000_000
    for bad, needle in (("basic:1@2027-3", "'@YYYY-MM'"), ("basic:1@2027-13", "'@YYYY-MM'"), ("basic:1@", "'@YYYY-MM'"),
                        ("basic:1,basic:2", "basic has two prices without a month"),
                        ("basic:1@2027-03,basic:2@2027-03", "basic has two prices from 2027-03")):
        with pytest.raises(ConfigError, match=f"^monthly_fees: .*{needle}"):
            load_settings(None, env={"VOICELEDGER_MONTHLY_FEES": bad})
    with pytest.raises(ConfigError, match="^monthly_fees: plan 'basci' is not in plans"):
        load_settings(None, env={**CATALOGUE, "VOICELEDGER_MONTHLY_FEES": "basic:1,basci:2@2027-01"})


def test_R17_a_change_of_tax_rates_is_the_keys_rules_again_dated_by_their_first_month():
    from projections.invoicing import TaxRule
    from streams.worker.fold_settings import fold_settings_from

    s = load_settings(None, env={"VOICELEDGER_TAX_RULES": "EUR:BE:21:VAT,USD:US-FED:3.4:USF,EUR:BE:22:VAT@2027-01"})
    assert s.taxes_by_key() == (("EUR", (TaxRule("BE", "VAT", 210_000),)), ("USD", (TaxRule("US-FED", "USF", 34_000),)))
    assert s.tax_rule_changes() == (("EUR", "2027-01", (TaxRule("BE", "VAT", 220_000),)),)
    fold = fold_settings_from(s)
    assert [fold.taxes("", "EUR", p)[0].rate_ppm for p in ("2026-12", "2027-01", "2031-06")] == [210_000, 220_000,
                                                                                                  220_000]
    for bad in ("EUR:BE:22:VAT@2027-1", "EUR:BE:22:VAT@", "EUR:BE:22:VAT@soon"):
        with pytest.raises(ConfigError, match="^tax_rules: .*'@YYYY-MM'"):
            load_settings(None, env={"VOICELEDGER_TAX_RULES": bad})


def test_R4_R14_R21_the_catalogue_the_api_shows_is_how_the_settings_price_each_plan():
    from streams.api.plans import catalogue

    env = {**CATALOGUE, "VOICELEDGER_RETIRED_PLANS": "legacy", "VOICELEDGER_INCLUDED_MINUTES": "basic:100",
           "VOICELEDGER_MONTHLY_FEES": "basic:9.99,business:USD:29.00,business:EUR:27.00,legacy:4.00,basic:12.99@2027-03",
           "VOICELEDGER_CONNECTION_FEES": "business:10", "VOICELEDGER_PLAN_CARDS": "business:business-usd",
           "VOICELEDGER_PAYMENT_TERMS": "business:30", "VOICELEDGER_RESIDENTIAL_PLANS": "basic"}
    shown = catalogue(load_settings(None, env=env)).model_dump()
    assert shown["catalogue"] is True
    assert [(p["plan"], p["sold"]) for p in shown["plans"]] == [("basic", True), ("business", True), ("legacy", False)]
    basic, business, legacy = shown["plans"]
    assert (basic["monthly_fees"], basic["included_minutes"], basic["residential"], basic["payment_terms_days"]) == (
        [{"currency": "", "amount_micros": 9_990_000, "from_month": ""},
         {"currency": "", "amount_micros": 12_990_000, "from_month": "2027-03"}], 100, True, 14)
    assert business["monthly_fees"] == [{"currency": "USD", "amount_micros": 29_000_000, "from_month": ""},
                                        {"currency": "EUR", "amount_micros": 27_000_000, "from_month": ""}]
    assert (business["connection_fees"], business["rate_cards"], business["payment_terms_days"]) == (
        [{"currency": "", "amount_micros": 10_000_000, "from_month": ""}], ["business-usd"], 30)
    assert (legacy["monthly_fees"], legacy["rate_cards"], legacy["residential"]) == (
        [{"currency": "", "amount_micros": 4_000_000, "from_month": ""}], [], False)
    # No catalogue: the plans the settings name, each taken.
    loose = catalogue(load_settings(None, env={"VOICELEDGER_MONTHLY_FEES": "pro:1,basic:2",
                                               "VOICELEDGER_PAYMENT_TERMS": "pro:7"})).model_dump()
    assert loose["catalogue"] is False and [(p["plan"], p["sold"]) for p in loose["plans"]] == [("pro", True),
                                                                                               ("basic", True)]


def test_R7_a_plan_priced_in_a_currency_it_has_no_fee_for_is_a_clear_error_at_start(tmp_path):
    import subprocess
    import sys

    eur = RateCard("business-eur@2026-10-01", "EUR", OCT, {"44": DestinationRate("44", "UK", 90_000)})
    bad = replace(SETTINGS, rate_cards=(*SETTINGS.rate_cards, eur), plan_cards=(("business", ("business-usd",
                                                                                                "business-eur")),),
                  monthly_fee_by_plan=(("business:USD", 20_000_000),))
    assert bad.unpriced() == ["plan business rates calls in EUR but has a monthly fee only in USD: add "
                              "business:CUR:amount to monthly_fees"]
    assert SETTINGS.unpriced() == [], "a fee in any currency prices every currency"
    deck = tmp_path / "business-eur.csv"
    deck.write_text("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s\\n44,UK,0.09,0,60,60\\n")
    env = {"PATH": "/usr/bin:/bin", "VOICELEDGER_RATE_CARDS": f"{deck}|EUR|2026-10-01",
           "VOICELEDGER_PLAN_CARDS": "business:business-eur", "VOICELEDGER_MONTHLY_FEES": "business:USD:20.00",
           "VOICELEDGER_DATA_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "streams.cli", "rerate", "a1", "--period", "2026-10", "--plan",
                          "business"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr


# Effective-dated versions of three card names in two currencies, on a few shared days (so
# that starts and ends coincide, touch and overlap), some open-ended.
DAY = 86_400_000
_card = st.builds(
    lambda name, currency, start, length: RateCard(f"{name}@{start}", currency, OCT + start * DAY,
                                                   {"44": DestinationRate("44", "UK", 1_000 * (start + 1))},
                                                   None if length is None else OCT + (start + length) * DAY),
    st.sampled_from(["standard", "business", "deal"]), st.sampled_from(["USD", "EUR"]),
    st.integers(0, 6), st.one_of(st.none(), st.integers(1, 4)))


@hyp_settings(max_examples=300, deadline=None)
@given(cards=st.lists(_card, min_size=1, max_size=8), calls=st.lists(st.tuples(
    st.sampled_from(["", "business", "other"]), st.sampled_from(["USD", "EUR"]), st.sampled_from(["", "deal"]),
    st.integers(-DAY, 12 * DAY)), min_size=1, max_size=40))
def test_R2_R5_the_remembered_card_choice_equals_a_scan_of_every_card(cards, calls):
    """Issue 22: ``card_for`` keeps its choice per interval between card edges; the reference
    scans every card each time. The same card, or the same refusal, for every call."""
    # "other" is moved to the business cards from October: the choice is kept by the names a call
    # is priced with, so two plans with the same cards share it, and a month changes it.
    settings = FoldSettings(rate_cards=tuple(cards), plan_cards=(("business", ("business",)),), deal_cards=("deal",),
                            plan_card_changes=(("other", "2026-10", ("business",)),))
    for plan, currency, deal, offset in calls + calls:  # each asked twice: the second from memory
        at_ms = OCT + offset
        try:
            expected = settings.select_card_uncached(plan, currency, at_ms, deal)
        except NoRateCardInEffect:
            with pytest.raises(NoRateCardInEffect):
                settings.card_for(plan, currency, at_ms, deal)
            continue
        assert settings.card_for(plan, currency, at_ms, deal) is expected

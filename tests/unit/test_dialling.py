"""Dialling plans (R2 rating by destination): a number is read in the dialling plan of the
country it was dialled in. In North America ``011`` dials abroad, so a US subscriber's
``011 44 20...`` is rated as the United Kingdom, not as a national call at the US rate, and an
``011`` premium destination at its premium rate; in Belgium ``0`` is the trunk prefix, so
``02 123 45 67`` is a Belgian domestic call. The clear route prefix kept beside a sealed callee
(R32) keeps the whole international mark, so no digit of the destination is lost to it."""

from __future__ import annotations

import pytest

from projections.dialling import international_digits, mark_of
from projections.journal import usage_category
from projections.rating import rate_call
from streams.edge.sealing import route_of
from tests.unit.test_rating import card, cdr


@pytest.mark.parametrize("country,dialled,expected", [
    ("1", "011442071234567", "442071234567"),  # NANP: 011 is the international prefix
    ("1", "+442071234567", "442071234567"),
    ("1", "12125550100", "12125550100"),  # NANP numbers are already in international form
    ("32", "021234567", "3221234567"),  # Belgium: trunk 0
    ("32", "0032470123456", "32470123456"),
    ("44", "011779001234", "4411779001234"),  # in the UK 0117 is Bristol, not an international call
    ("61", "0011442071234567", "442071234567"),  # Australia dials 0011 abroad
    ("81", "010442071234567", "442071234567"),  # Japan 010
])
def test_R2_numbers_are_read_in_the_dialling_plan_of_their_country(country, dialled, expected):
    assert international_digits(dialled, country) == expected


def test_R2_a_us_subscribers_011_call_is_rated_at_the_destinations_rate_not_the_us_one():
    uk = rate_call(cdr("011442071234567", 60), card(), country_code="1")
    assert (uk.destination_prefix, uk.rate_micros_per_minute) == ("44", 20_000)
    cuba = rate_call(cdr("011537123456", 60), card(), country_code="1")  # a premium destination via 011
    assert cuba.destination_prefix == "53" and cuba.connect_fee_micros == 50_000
    assert usage_category(uk, "1") == "revenue:usage:international"
    assert usage_category(rate_call(cdr("12125550100", 60), card(), country_code="1"), "1") == "revenue:usage:domestic"


def test_R32_the_clear_route_keeps_the_whole_international_mark():
    assert mark_of("011447700900123", "1") == "011"
    assert route_of("011447700900123", 6, "1") == "011447700"  # six digits of the destination after 011
    assert route_of("+447700900123", 6, "1") == "+447700"
    assert route_of("0117900123", 6, "44") == "0117900"  # a UK national number: trunk 0


def _fold_one(country: str, dialled: str):
    from projections.account import FoldSettings, Positioned, fold_batch
    from projections.events import AccountOpened, CallDetailRecord, Disposition
    from projections.rating import DestinationRate, RateCard

    card = RateCard("eur", "EUR", 0, {"32": DestinationRate("32", "Belgium", 50_000),
                                      "1": DestinationRate("1", "USA", 20_000)})
    t = 1_790_812_800_000
    events = [AccountOpened("o", "a1", t, "EUR", "basic", "postpaid", ("3225000001",), "Europe/Brussels", "BE",
                            country),
              CallDetailRecord("e", "sw", "k", "a1", "3225000001", dialled, t, t, t + 60_000, Disposition.ANSWERED)]
    # The deployment is North American: only the account's own country makes the call Belgian.
    settings = FoldSettings(rate_cards=(card,), country_code="1")
    state, outcomes = fold_batch(None, [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)], settings)
    return state, outcomes[-1]


def test_R2_R7_a_belgian_accounts_call_to_02_is_domestic_on_a_north_american_deployment():
    state, outcome = _fold_one("BE", "021234567")
    assert state.country_code == "32"
    assert outcome.rated.destination_prefix == "32" and outcome.rated.charge_micros == 50_000
    assert outcome.entry.postings[1].ledger_account == "revenue:usage:domestic"
    assert dict(state.billing.unbilled) == {"2026-10|usage:domestic": (60, 50_000)}
    # The same account without a country is read in the deployment's plan: a wrong country.
    _, misread = _fold_one("", "021234567")
    assert misread.rated.destination_prefix == "1"


def test_an_account_opened_in_an_unknown_country_is_refused():
    from projections.account import FoldSettings, Positioned, Rejected, fold_batch
    from projections.events import AccountOpened

    opened = AccountOpened("o", "a1", 1_790_812_800_000, "EUR", "basic", "postpaid", (), "UTC", "", "XX")
    _, (outcome,) = fold_batch(None, [Positioned("t/0", 0, 0, 2**62, opened)], FoldSettings(rate_cards=()))
    assert isinstance(outcome, Rejected) and outcome.code == "unknown_country"

"""A version keeps the fold's settings whole (``streams/config/settings_record.py``): written
canonically, read back equal, strictly typed, and bounded for a record off the log."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from projections.account import FoldSettings
from projections.invoicing import TaxRule
from projections.rating import Band, DestinationRate, RateCard, Tier
from streams.config import settings_record
from streams.config.settings import load_settings
from streams.config.settings_record import packed, read, unpacked, written
from streams.worker.fold_settings import fold_settings_from

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
money = st.integers(0, 10**12)
pairs = st.lists(st.tuples(text, money), max_size=3).map(tuple)
dated = st.lists(st.tuples(text, st.sampled_from(["2026-11", "2027-03"]), money), max_size=3).map(tuple)
destination = st.builds(
    DestinationRate, prefix=st.from_regex(r"\A[1-9][0-9]{0,5}\Z"), name=text, rate_micros_per_minute=money,
    connect_fee_micros=money, initial_increment_s=st.integers(1, 60), subsequent_increment_s=st.integers(1, 60),
    minimum_billable_s=st.integers(0, 60), max_cost_micros=money)
# Tiers and bands, as a card with both has them (tests/unit/test_rating_tiers_bands.py).
TIERED = DestinationRate("44", "UK", 100_000, tiers=(Tier(0, 200_000, 60), Tier(60, 100_000, 1)),
                         band_rates=(("peak", 1_500_000), ("weekend", 500_000)))
BANDS = (Band("peak", frozenset(range(5)), 8 * 60, 18 * 60), Band("weekend", frozenset({5, 6}), 0, 1_440))
card = st.builds(RateCard, card_id=text, currency=st.sampled_from(["USD", "EUR", "JPY"]),
                 valid_from_ms=st.integers(0, 2**41), destinations=st.lists(destination, max_size=4).map(
                     lambda ds: {d.prefix: d for d in ds}),
                 valid_to_ms=st.none(), bands=st.just(()), split_at_bands=st.booleans())
banded = st.builds(RateCard, card_id=text, currency=st.just("EUR"), valid_from_ms=st.integers(0, 2**41),
                   destinations=st.just({"44": TIERED}), valid_to_ms=st.one_of(st.none(), st.just(2**42)),
                   bands=st.just(BANDS), split_at_bands=st.booleans())
taxes = st.lists(st.tuples(text, st.lists(st.builds(TaxRule, text, text, st.integers(0, 10**6)), max_size=2).map(
    tuple)), max_size=2).map(tuple)
folds = st.builds(
    FoldSettings, rate_cards=st.lists(st.one_of(card, banded), max_size=3).map(tuple), on_net_prefixes=st.lists(text, max_size=2).map(tuple),
    country_code=st.sampled_from(["1", "32", "44"]), dedup_window_ms=st.integers(1, 10**10),
    included_seconds_by_plan=pairs, monthly_fee_changes=dated, termination_fee_micros=money, taxes_by_key=taxes,
    tax_rule_changes=st.lists(st.tuples(text, st.just("2027-01"), st.lists(st.builds(
        TaxRule, text, text, st.integers(0, 10**6)), max_size=2).map(tuple)), max_size=2).map(tuple),
    plan_cards=st.lists(st.tuples(text, st.lists(text, max_size=2).map(tuple)), max_size=2).map(tuple),
    invoice_issuer=text, payment_terms_days=st.integers(0, 90))


@hypothesis_settings(max_examples=150, deadline=None)
@given(folds)
def test_every_fold_setting_is_read_back_equal_from_its_record(fold):
    assert unpacked(packed(fold)) == fold
    assert written(read(FoldSettings, written(fold))) == written(fold), "canonical: written once, the same text"


def test_the_settings_a_worker_runs_with_are_kept_whole_cards_and_dated_prices_included():
    s = load_settings(None, env={"VOICELEDGER_PLANS": "basic", "VOICELEDGER_MONTHLY_FEES": "basic:9.99,basic:12.99@2027-03",
                                 "VOICELEDGER_INCLUDED_MINUTES": "basic:100,basic:200@2027-01",
                                 "VOICELEDGER_TAX_RULES": "US-NY:US-NY:8.875:Sales tax"})
    fold = fold_settings_from(s)
    assert fold.rate_cards and fold.monthly_fee_changes and fold.taxes_by_key
    assert unpacked(packed(fold)) == fold
    assert '"monthly_fee_changes":[["basic","2027-03",12990000]]' in written(fold)
    assert '"dedup_max_keys"' not in written(fold), "a field at its default is left out"


@pytest.mark.parametrize("text, wrong", [
    ('{"dedup_window_ms": "7"}', "str where"),
    ('{"dedup_window_ms": true}', "bool where"),
    ('{"rate_cards": [], "colour": 1}', "no field 'colour'"),
    ('{"rate_cards": {}}', "dict where"),
    ('{"rate_cards": [], "monthly_fee_changes": [["basic", "2027-03"]]}', "2 values where"),
    ("[]", "list where"),
])
def test_a_record_of_another_shape_is_refused_not_guessed(text, wrong):
    with pytest.raises(ValueError, match=wrong):
        read(FoldSettings, text)


def test_bytes_that_are_not_a_record_or_unpack_too_far_are_refused(monkeypatch):
    for blob in (b"", b"not zlib", zlib.compress(b"\xff\xfe"), zlib.compress(b"{not json")):
        with pytest.raises(ValueError):
            unpacked(blob)
    monkeypatch.setattr(settings_record, "UNPACKED_BYTES_MAX", 1_000)
    with pytest.raises(ValueError, match="more than 1000 bytes"):
        unpacked(zlib.compress(b" " * 5_000 + b"{}"))


def test_settings_too_large_for_a_record_are_kept_by_their_terms_alone(monkeypatch):
    fold = FoldSettings(rate_cards=(), invoice_issuer="x" * 10_000)
    monkeypatch.setattr(settings_record, "PACKED_BYTES_MAX", 10)
    assert packed(fold) == b""

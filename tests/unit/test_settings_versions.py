"""Versions of the fold's settings (streams/config/versions.py): which changes a worker takes at
start, and which it refuses because a rebuild would no longer equal live.

The first test is the reason for the rest: over changes made at a restart, the check calls a
change safe exactly when the account folded live (old settings, then new) equals the account
rebuilt with the new settings alone."""

from __future__ import annotations

from dataclasses import replace

from projections.account import FoldSettings
from projections.rating import DestinationRate, RateCard
from streams.worker.fold_settings import fold_settings_from
from streams.config.settings import load_settings
from streams.config.versions import changes, in_force, month_starts_ms, terms_of, version_digest
from tests.unit.test_invoicing import ms
from tests.unit.test_price_changes import MINUTES, around_a_restart

HOUR = 3_600_000


def refused(before: FoldSettings, after: FoldSettings, now_ms: int, cards=None, new_plans=frozenset()) -> list[str]:
    """The names of the changes a worker starting at ``now_ms`` would refuse."""
    b_cards, a_cards = cards or (before.rate_cards, after.rate_cards)
    found = changes(terms_of(before, b_cards), terms_of(after, a_cards))
    assert found, "the two versions differ"
    return [c.name for c in in_force(found, now_ms, after.max_clock_skew_ms, new_plans)]


def test_a_change_is_taken_exactly_when_live_and_rebuilt_still_agree():
    """Calls on 10, 20 and 25 October and 5 and 20 November; the worker restarts on 25 October
    with each change. Safe changes fold the same live and rebuilt; refused ones do not."""
    before = replace(MINUTES, included_seconds_changes=())
    restart = "2026-10-25"
    november_card = RateCard("usd-nov", "USD", ms("2026-11-01T00:00:00"), {"1": DestinationRate("1", "US", 12_000)})
    dearer = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 12_000)})
    cases = {
        "minutes from November": replace(before, included_seconds_changes=(("basic", "2026-11", 600),)),
        "minutes from October": replace(before, included_seconds_changes=(("basic", "2026-10", 600),)),
        "minutes undated": replace(before, included_seconds_by_plan=(("basic", 400),)),
        "a card from November": replace(before, rate_cards=before.rate_cards + (november_card,)),
        "a card's price changed": replace(before, rate_cards=(dearer,) + before.rate_cards[1:]),
    }
    verdicts = {}
    for what, after in cases.items():
        live, rebuilt = around_a_restart(before, after, restart, 240), around_a_restart(before, after, None, 240)
        agree = live.state == rebuilt.state and live.entries == rebuilt.entries
        taken = not refused(before, after, ms(restart + "T00:00:00"))
        verdicts[what] = (taken, agree)
    assert verdicts == {"minutes from November": (True, True), "minutes from October": (False, False),
                        "minutes undated": (False, False), "a card from November": (True, True),
                        "a card's price changed": (False, False)}


def test_a_month_begins_first_at_utc_plus_14_and_a_cdr_may_be_dated_the_skew_ahead():
    assert month_starts_ms("2027-01") == ms("2026-12-31T10:00:00")
    after = replace(MINUTES, included_seconds_changes=(("basic", "2027-01", 900),))
    before = replace(MINUTES, included_seconds_changes=())
    starts, skew = month_starts_ms("2027-01"), MINUTES.max_clock_skew_ms
    assert refused(before, after, starts - skew - 1) == []
    assert refused(before, after, starts - skew) == ["included_seconds_changes[basic@2027-01]"]
    assert refused(after, before, starts - skew - 1) == [], "a dated entry not yet begun may be taken back"


def test_every_setting_the_fold_reads_is_a_term_and_an_undated_one_is_always_in_force():
    before = MINUTES
    for after in (replace(before, on_net_prefixes=("1555",)), replace(before, dedup_window_ms=86_400_000),
                  replace(before, invoice_issuer="XX"), replace(before, deal_cards=("gold",)),
                  replace(before, credit_limit_by_plan=(("basic", 1),))):
        assert refused(before, after, ms("2026-10-01T00:00:00")), after


def test_an_undated_price_is_taken_for_a_plan_new_to_the_catalogue_only():
    s = load_settings(None, env={"VOICELEDGER_PLANS": "basic", "VOICELEDGER_MONTHLY_FEES": "basic:9.99"})
    grown = load_settings(None, env={"VOICELEDGER_PLANS": "basic,gold",
                                     "VOICELEDGER_MONTHLY_FEES": "basic:9.99,gold:19.99"})
    before, after = fold_settings_from(s), fold_settings_from(grown)
    now = ms("2026-12-06T00:00:00")
    assert refused(before, after, now, new_plans=frozenset({"gold"})) == []
    assert refused(before, after, now) == ["monthly_fee_by_plan[gold]"], "gold was in the catalogue already"
    dearer = fold_settings_from(load_settings(None, env={"VOICELEDGER_PLANS": "basic",
                                                         "VOICELEDGER_MONTHLY_FEES": "basic:10.99"}))
    assert refused(before, dearer, now, new_plans=frozenset({"gold"})) == ["monthly_fee_by_plan[basic]"]
    assert refused(before, dearer, now, new_plans=frozenset({"basic"})) == ["monthly_fee_by_plan[basic]"], \
        "a plan that had a price is not new, whatever the catalogue says"


def test_a_configured_card_is_a_term_from_its_valid_from_and_its_value_is_every_price(tmp_path):
    deck = tmp_path / "deck.csv"
    deck.write_text("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s\n"
                    "1,US,0.0100,0,60,60\n44,UK,0.0200,0,60,60\n")
    env = {"VOICELEDGER_RATE_CARDS": f"{deck}|USD|2026-01-01"}
    s = load_settings(None, env=env)
    before = fold_settings_from(s)
    cards = before.rate_cards
    (term,) = [t for name, t in terms_of(before, cards).items() if name.startswith("rate_cards[")]
    assert term.starts_ms == ms("2026-01-01T00:00:00") and term.value.startswith("sha256:")
    entry = f"{deck}|USD|2026-01-01"
    twice = fold_settings_from(load_settings(None, env={"VOICELEDGER_RATE_CARDS": f"{entry},{entry}"}))
    assert terms_of(twice, twice.rate_cards) == terms_of(before, cards), "one card named twice is one term"
    deck.write_text(deck.read_text().replace("0.0200", "0.0210"))  # one price of the file edited
    after = fold_settings_from(s)
    assert refused(before, after, ms("2026-12-06T00:00:00"), cards=(cards, after.rate_cards)) == [term.name]


def test_a_version_has_one_digest_whatever_order_its_settings_were_built_in():
    s = load_settings(None, env={"VOICELEDGER_PLANS": "basic,gold",
                                 "VOICELEDGER_MONTHLY_FEES": "basic:9.99,gold:19.99,gold:21.99@2027-02"})
    fold = fold_settings_from(s)
    terms = terms_of(fold, fold.rate_cards)
    shuffled = dict(reversed(list(terms.items())))
    assert version_digest(terms, ("basic", "gold")) == version_digest(shuffled, ("gold", "basic"))
    assert version_digest(terms, ("basic", "gold")) != version_digest(terms, ("basic",))
    assert terms["monthly_fee_changes[gold@2027-02]"].starts_ms == month_starts_ms("2027-02")
    assert terms_of(fold_settings_from(s), fold.rate_cards) == terms, "built again: the same terms"


def test_an_acceptance_without_a_fit_reason_is_one_line_and_exit_2_before_any_broker(capsys, monkeypatch):
    from streams.cli.main import main

    monkeypatch.setenv("VOICELEDGER_BROKER", "127.0.0.1:1")  # never reached: the reason is refused first
    for reason in ("", "   ", "x" * 501, "a\x00b"):
        assert main(["settings", "accept", "--reason", reason]) == 2
        err = capsys.readouterr().err
        assert err.startswith("voiceledger: error: --reason: say why") and err.count("\n") == 1, err


def test_a_release_that_adds_a_setting_or_a_field_at_its_default_changes_no_version():
    """Versions outlive releases: a field added with a default (how fields are added here) writes
    the same text, and a fold setting a release adds is taken at its default, refused at another."""
    from dataclasses import dataclass

    from streams.config.versions import canonical

    @dataclass(frozen=True)
    class Rate:
        prefix: str
        micros: int

    old = Rate("44", 20_000)

    @dataclass(frozen=True)
    class Rate:  # noqa: F811 - the same record in a later release
        prefix: str
        micros: int
        cap_micros: int = 0

    assert canonical({"b": old, "a": (1, "x")}) == canonical({"a": (1, "x"), "b": Rate("44", 20_000)})
    assert canonical(old) != canonical(Rate("44", 20_000, cap_micros=5))
    terms = terms_of(MINUTES, MINUTES.rate_cards)
    released = {name: t for name, t in terms.items() if name != "inactivity_ms"}  # before the release
    assert in_force(changes(released, terms), ms("2026-12-06T00:00:00"), 0) == []
    other = terms_of(replace(MINUTES, inactivity_ms=86_400_000), MINUTES.rate_cards)
    assert [c.name for c in in_force(changes(released, other), ms("2026-12-06T00:00:00"), 0)] == ["inactivity_ms"]

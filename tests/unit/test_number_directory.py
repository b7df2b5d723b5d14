"""The number directory decides who pays and which way a call went (R9, R10, issue 18): the
caller's account for an outbound call, the owner of a rented number for a call received on it
(priced at the owner's plan's inbound rate), a trunk's account for a PBX's calls; the log's own
numbers are the directory, a CSV file overlays it."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from projections.account import AccountState, FoldSettings, Positioned, fold_batch
from projections.events import AccountOpened, Direction
from projections.lifecycle import AccountStatus, Lifecycle
from projections.rating import DestinationRate, RateCard
from schemas.codec import EventCodec
from streams.edge.directory import NumberDirectory
from streams.edge.source import Source, parse_file

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "cdr"
UTC = ZoneInfo("UTC")


def _calls(directory: NumberDirectory) -> list:
    return list(parse_file(SAMPLES / "asterisk-callcentre-inbound-Master.csv",
                           Source("asterisk-csv", "carrier-a", UTC, directory), EventCodec()))


def test_R9_a_call_received_on_a_rented_number_is_the_owners_inbound_call():
    parsed = _calls(NumberDirectory.from_csv(SAMPLES / "directory-callcentre.csv", "1"))
    assert [(p.cdr.call_id, p.cdr.account_id, p.cdr.direction) for p in parsed if p.cdr] == [
        ("1791190801.40", "acct-callcentre", Direction.INBOUND),
        ("1791190920.41", "acct-callcentre", Direction.INBOUND),
        ("1791191400.42", "acct-callcentre", Direction.INBOUND)]
    assert [(p.line, p.rejected.code) for p in parsed if p.rejected] == [(4, "unknown_number")]


def test_R1_R2_R9_inbound_calls_are_priced_by_the_owners_plan_in_whole_minutes():
    parsed = _calls(NumberDirectory.from_csv(SAMPLES / "directory-callcentre.csv", "1"))
    card = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000)})
    opened = AccountOpened("o", "acct-callcentre", 1_790_812_800_000, "USD", "business", "postpaid",
                           ("15550000700", "15550000701"))
    events = [opened] + [p.cdr for p in parsed if p.cdr]
    items = [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)]
    priced = FoldSettings(rate_cards=(card,), inbound_rate_by_plan=(("business", 12_000),))
    state, outcomes = fold_batch(None, items, priced)
    # 250 s -> 5 min, unanswered -> 0, 61 s -> 2 min: 7 min at 0.012
    assert [o.rated.billed_s for o in outcomes[1:]] == [300, 0, 120]
    assert state.charged_micros == 7 * 12_000
    assert outcomes[1].entry.postings[1].ledger_account == "revenue:usage:inbound"
    assert state.billing.unbilled == {"2026-10|usage:inbound": (420, 84_000)}
    free, _ = fold_batch(None, items, FoldSettings(rate_cards=(card,)))
    assert free.charged_micros == 0, "a plan with no inbound rate receives calls free"
    in_usd = FoldSettings(rate_cards=(card,), inbound_rate_by_plan=(("business", 12_000), ("business:USD", 20_000)))
    assert fold_batch(None, items, in_usd)[0].charged_micros == 7 * 20_000, "the account's currency's rate first (R7)"


def _state(account_id: str, numbers: tuple[str, ...], country_code: str = "",
           status: AccountStatus = AccountStatus.ACTIVE) -> AccountState:
    return AccountState(account_id, "o", "EUR", "basic", "prepaid", numbers, "UTC", 0, country_code=country_code,
                        lifecycle=Lifecycle(status))


def test_the_logs_numbers_are_the_directory_each_read_in_its_accounts_plan_and_a_csv_overlays_them():
    states = [_state("acct-be", ("022345678",), "32"), _state("acct-us", ("+1 555 000 0700",)),
              _state("acct-gone", ("15550000799",), status=AccountStatus.TERMINATED)]
    log = NumberDirectory.from_states(states, "1")
    assert log.owner("3222345678", "442071234567", "") == ("acct-be", Direction.OUTBOUND)
    assert log.owner("2125550142", "15550000700", "") == ("acct-us", Direction.INBOUND)
    assert log.owner("2125550142", "15550000799", "") is None, "a terminated account's numbers are released"
    both = log.overlaid_with(NumberDirectory.from_csv(SAMPLES / "directory-callcentre.csv", "1"))
    assert both.owner("2125550142", "15550000700", "") == ("acct-callcentre", Direction.INBOUND)
    assert both.owner("3222345678", "", "") == ("acct-be", Direction.OUTBOUND)

"""Rate deck import and published cards (R5): every bad row is reported with its line, a deck
travels as Avro parts under Kafka's message limit and comes back equal, and the rate book takes
a card only when complete, never lets it change, and never applies it before publication + lead.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from projections.events import CallDetailRecord, Disposition
from projections.rate_book import PART_DESTINATIONS_MAX, RateBook, card_from_parts, card_to_parts, effective_card
from projections.rating import DestinationRate, InvalidRateCard, RateCard, rate_call
from schemas.codec import EventCodec
from streams.edge.rate_decks import ERRORS_SHOWN, RateCardError, load_rate_card, parse_band

DAY_MS = 86_400_000
T_2026_12_01 = 1_796_083_200_000  # 2026-12-01T00:00:00Z
HEADER = "prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s"


def deck(tmp_path, *rows: str, header: str = HEADER):
    path = tmp_path / "deck.csv"
    path.write_text("\n".join((header, *rows)) + "\n")
    return str(path)


def test_every_bad_row_is_reported_with_its_line_in_one_run(tmp_path):
    path = deck(tmp_path,
                "44,United Kingdom,0.02,0,60,60",     # 2: good
                "44,UK again,0.03,0,60,60",           # 3: duplicate of line 2
                "33,France,-0.01,0,60,60",            # 4: negative rate
                "49,Germany,abc,0,60,60",             # 5: not a number
                "+3x,Nowhere,0.01,0,60,60",           # 6: bad prefix
                "39,Italy,0.02,0,0,60",               # 7: zero increment
                "34,Spain,0.02,0,60,60,extra")        # 8: a cell too many
    with pytest.raises(RateCardError) as err:
        load_rate_card(path, "USD", "2026-12-01")
    message = str(err.value)
    assert "6 bad row(s)" in message
    for line, what in [(3, "duplicate prefix 44 (first on line 2)"), (4, "negative rate"), (5, "abc"),
                       (6, "'+3x' is not 1-15 digits"), (7, "increments must be positive"),
                       (8, "more than the header has columns")]:
        assert f"deck.csv:{line}: " in message and what in message, (line, what, message)


def test_a_deck_full_of_errors_shows_the_first_ones_and_counts_the_rest(tmp_path):
    rows = [f"{100 + n},Dest {n},-1,0,60,60" for n in range(ERRORS_SHOWN + 5)]
    with pytest.raises(RateCardError, match=r"25 bad row\(s\)[\s\S]*\.\.\. and 5 more"):
        load_rate_card(deck(tmp_path, *rows), "USD", "2026-12-01")


def test_R5_effective_date_column_sets_the_cards_start_and_later_rows_are_refused(tmp_path):
    header = HEADER + ",effective_date"
    path = deck(tmp_path, "44,United Kingdom,0.02,0,60,60,2026-11-15", "33,France,0.03,0,60,60,2026-12-01",
                header=header)
    card = load_rate_card(path, "USD", None)
    assert card.valid_from_ms == T_2026_12_01 and card.card_id == "deck@2026-12-01"
    with pytest.raises(RateCardError, match=r"deck.csv:3: effective date 2026-12-01 is after the card's "
                                            r"valid-from 2026-11-20"):
        load_rate_card(path, "USD", "2026-11-20")
    bad = deck(tmp_path, "44,United Kingdom,0.02,0,60,60,2026-13-01", header=header)
    with pytest.raises(RateCardError, match=r"deck.csv:2: effective date '2026-13-01' is not YYYY-MM-DD"):
        load_rate_card(bad, "USD", None)


def test_valid_to_must_follow_valid_from_and_a_date_is_needed(tmp_path):
    path = deck(tmp_path, "44,United Kingdom,0.02,0,60,60")
    with pytest.raises(RateCardError, match="valid-to 2026-11-01 is not after valid-from 2026-12-01"):
        load_rate_card(path, "USD", "2026-12-01", valid_to="2026-11-01")
    with pytest.raises(RateCardError, match="give --valid-from or an effective_date column"):
        load_rate_card(path, "USD", None)


def test_bands_from_the_command_line_and_band_rates_from_the_deck(tmp_path):
    peak = parse_band("peak=0-4@08:00-18:00")
    weekend = parse_band("weekend=5,6@00:00-24:00")
    assert peak.weekdays == frozenset(range(5)) and (peak.start_minute, peak.end_minute) == (480, 1080)
    assert weekend.weekdays == frozenset({5, 6}) and weekend.end_minute == 1440
    path = deck(tmp_path, "44,United Kingdom,0.02,0,60,60,peak:0.03;weekend:0.01",
                header=HEADER + ",band_rates")
    card = load_rate_card(path, "USD", "2026-12-01", bands=(peak, weekend))
    assert card.destinations["44"].band_rates == (("peak", 30_000), ("weekend", 10_000))
    with pytest.raises(RateCardError, match=r"deck.csv:2: band rates for bands the card does not define: \['weekend'\]"):
        load_rate_card(path, "USD", "2026-12-01", bands=(peak,))
    for spec in ("peak", "peak=0-4@8-18", "peak=0-9@08:00-18:00", "=0@08:00-09:00", "night=0@22:00-06:00"):
        with pytest.raises(RateCardError, match="--band"):
            parse_band(spec)


def big_card(n: int) -> RateCard:
    destinations = {str(10_000_000 + i): DestinationRate(str(10_000_000 + i), f"Dest {i}", 1_000 + i, 0, 30, 6)
                    for i in range(n)}
    destinations["44"] = DestinationRate("44", "United Kingdom", 20_000, 0, 60, 1, 30)
    return RateCard("big@2026-12-01", "USD", T_2026_12_01, destinations, valid_to_ms=T_2026_12_01 + 31 * DAY_MS,
                    bands=(parse_band("peak=0-4@08:00-18:00"),))


def test_R5_a_large_deck_travels_in_parts_under_a_megabyte_and_comes_back_equal():
    codec = EventCodec()
    card = big_card(25_000)
    parts = card_to_parts(card, event_id="ratecard:big", published_at_ms=T_2026_12_01 - DAY_MS)
    assert [p.part for p in parts] == [0, 1, 2] and {p.parts for p in parts} == {3}
    assert sum(len(p.destinations) for p in parts) == 25_001
    assert all(len(p.destinations) <= PART_DESTINATIONS_MAX for p in parts)
    encoded = [codec.encode(p) for p in parts]
    assert max(len(v) for v in encoded) < 1_000_000  # Kafka's default max.message.bytes
    decoded = [codec.decode_event(v) for v in encoded]
    assert decoded == parts
    assert card_from_parts(list(reversed(decoded))) == card


def test_parts_that_do_not_make_one_card_are_refused():
    parts = card_to_parts(big_card(15_000), event_id="e", published_at_ms=0)
    with pytest.raises(InvalidRateCard, match=r"parts \[0\] are not 0..1"):
        card_from_parts(parts[:1])
    from dataclasses import replace

    with pytest.raises(InvalidRateCard, match="disagrees"):
        card_from_parts([parts[0], replace(parts[1], currency="EUR")])
    with pytest.raises(InvalidRateCard, match="prefix 10000000 appears twice"):
        card_from_parts([parts[0], replace(parts[1], destinations=parts[0].destinations[:1])])


def test_R5_book_takes_a_card_when_complete_and_never_lets_it_change():
    from dataclasses import replace

    book = RateBook(lead_ms=3_900_000)
    card = big_card(15_000)
    p0, p1 = card_to_parts(card, event_id="e", published_at_ms=0)
    published = T_2026_12_01 - 10 * DAY_MS
    assert book.add(p1, published) == (None, None)  # parts may arrive in any order
    assert book.add(p1, published + 5) == (None, None)  # a re-sent part changes nothing
    done, reason = book.add(p0, published + 10)
    assert reason is None and done == card and book.effective_cards() == (card,)
    assert book.add(p0, published + 20) == (None, None)  # the importer retried: harmless
    changed = replace(p0, destinations=(replace(p0.destinations[0], rate_micros_per_minute=1),) + p0.destinations[1:])
    _, reason = book.add(changed, published + 30)
    assert "already published; cards are immutable" in reason
    assert book.effective_cards() == (card,)


def test_R5_a_card_never_takes_effect_before_publication_plus_lead():
    card = big_card(10)
    lead = 3_900_000
    assert effective_card(card, T_2026_12_01 - DAY_MS, lead) is card  # published ahead: its own date
    late = effective_card(card, T_2026_12_01 + DAY_MS, lead)  # backdated: from publication + lead
    assert late.valid_from_ms == T_2026_12_01 + DAY_MS + lead and late.destinations is card.destinations
    assert effective_card(card, card.valid_to_ms, lead) is None  # would start after it ends
    book = RateBook(lead_ms=lead)
    (only,) = card_to_parts(card, event_id="e", published_at_ms=0)
    _, reason = book.add(only, card.valid_to_ms - 1)
    assert "expires before it can take effect" in reason and book.effective_cards() == ()


def test_R2_R5_a_published_card_rates_exactly_like_the_card_it_came_from():
    card = big_card(10)
    (part,) = card_to_parts(card, event_id="e", published_at_ms=0)
    again = card_from_parts([EventCodec().decode_event(EventCodec().encode(part))])
    start = T_2026_12_01 + 9 * 3_600_000 + 2 * DAY_MS  # a Thursday, 09:00 UTC: peak
    cdr = CallDetailRecord("e1", "carrier", "c1", "a1", "15550000001", "+442071234567", start, start + 1_000,
                           start + 1_000 + 95_000, Disposition.ANSWERED)
    assert rate_call(cdr, again) == rate_call(cdr, card)
    assert rate_call(cdr, card).billed_s == 95  # 60/1 with a 30 s minimum


def test_cli_rates_import_dry_run_prints_a_summary_and_a_bad_deck_is_one_clean_error(tmp_path):
    good = deck(tmp_path, "44,United Kingdom,0.02,0,60,60", "1,US/Canada,0.01,0,6,6")
    run = subprocess.run([sys.executable, "-m", "streams.cli", "rates", "import", good, "--currency", "USD",
                          "--valid-from", "2026-12-01", "--dry-run"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["destinations"] == 2 and summary["card_id"] == "deck@2026-12-01" and not summary["published"]
    bad = deck(tmp_path, "44,United Kingdom,0.02,0,60,60", "44,Duplicate,0.02,0,60,60")
    run = subprocess.run([sys.executable, "-m", "streams.cli", "rates", "import", bad, "--currency", "USD",
                          "--valid-from", "2026-12-01"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "deck.csv:3: duplicate prefix 44 (first on line 2)" in run.stderr


def test_R5_worker_looks_at_the_rates_topic_before_every_batch_when_there_is_no_margin():
    from dataclasses import replace

    from streams.config.settings import Settings
    from streams.worker.rate_feed import RateFeed

    default = RateFeed(Settings())  # lead 3900 s, skew 3600 s: a 300 s margin
    assert default.refresh_seconds == 5.0 and default.due()  # never looked yet
    tight = RateFeed(replace(Settings(), rate_card_lead_seconds=60, max_clock_skew_seconds=60))
    assert tight.refresh_seconds == 0
    import time

    tight._looked_at = time.monotonic()
    assert tight.due()  # looked just now, and still due: no margin
    default._looked_at = time.monotonic()
    assert not default.due()


def test_a_deck_saved_by_a_spreadsheet_reads_as_any_other(tmp_path):
    """A UTF-8 BOM and CRLF line ends (Excel's CSV), and a currency given in lower case."""
    from streams.edge.rate_decks import load_rate_card

    plain = tmp_path / "plain.csv"
    plain.write_text("prefix,destination,rate\n44,UK,0.02\n1,US,0.01\n")
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n"))
    a = load_rate_card(str(plain), "USD", "2026-01-01", card_id="c")
    b = load_rate_card(str(excel), "usd", "2026-01-01", card_id="c")
    assert a == b and b.currency == "USD" and len(b.destinations) == 2


def test_R2_a_max_cost_column_caps_a_destination_and_travels_on_the_wire(tmp_path):
    from projections.rate_book import card_from_parts, card_to_parts

    path = tmp_path / "sat.csv"
    path.write_text("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s,max_cost\n"
                    "882,Satellite,4.00,0.50,60,60,10.00\n1,USA,0.01,0,60,60,\n")
    card = load_rate_card(path, "USD", "2026-12-01")
    assert (card.destinations["882"].max_cost_micros, card.destinations["1"].max_cost_micros) == (10_000_000, 0)
    parts = card_to_parts(card, event_id="rc", published_at_ms=0)
    assert card_from_parts(parts).destinations["882"].max_cost_micros == 10_000_000
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s,max_cost\n"
                   "882,Satellite,4.00,0.50,60,60,-1\n")
    with pytest.raises(RateCardError, match="bad.csv:2: negative rate, connect fee or maximum cost"):
        load_rate_card(bad, "USD", "2026-12-01")

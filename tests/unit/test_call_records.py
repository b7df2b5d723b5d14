"""R33: a month of call records as the customer downloads it (streams/documents/call_records.py),
and the months a customer may pick (streams/api/statements.py ``call_months``)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from hypothesis import given, strategies as st

from projections.periods import period_start_ms
from streams.api import read_model as rm
from streams.api.statements import CALL_MONTHS_MAX, call_months
from streams.documents.call_records import CSV_COLUMNS, csv_chunks, decimal_micros, local_iso, safe_cell

# A record in the call log's order (read_model.CALL_COLUMNS): 2026-03-29 00:59:30 UTC, the
# night Brussels moves from +01:00 to +02:00 at 01:00 UTC.
ROW = ("sw-1/c-1", 1_774_745_970, 1_774_745_975, 1_774_746_035, "OUTBOUND", "+3225550101", "+3225550199",
       "Belgium fixed", 60, 12_500, "EUR", 0)


def test_times_are_the_accounts_own_with_the_offset_of_that_day():
    assert local_iso(ROW[1], "Europe/Brussels") == "2026-03-29T01:59:30+01:00"
    assert local_iso(ROW[3], "Europe/Brussels") == "2026-03-29T03:00:35+02:00", "summer time began in the call"
    assert local_iso(None, "Europe/Brussels") == "", "an unanswered call has no answer time"


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_an_amount_is_written_exactly_and_reads_back_to_the_micro_unit(micros):
    text = decimal_micros(micros)
    whole, _, part = text.lstrip("-").partition(".")
    assert len(part) == 6 and (-1 if text.startswith("-") else 1) * (int(whole) * 1_000_000 + int(part)) == micros


def test_a_cell_a_spreadsheet_would_evaluate_is_plain_text_but_numbers_stay_numbers():
    for hostile in ("=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx", "+44*2"):
        assert safe_cell(hostile) == "'" + hostile
    for plain in ("+15550000001", "-0.012500", "12", "Belgium fixed", "", 60):
        assert safe_cell(plain) == plain


def test_the_file_has_a_header_then_one_row_per_call_over_every_page():
    hostile = ROW[:7] + ("=1+1",) + ROW[8:]
    unanswered = ROW[:2] + (None,) + ROW[3:8] + (0, 0, "EUR", 1)
    text = "".join(csv_chunks([[ROW], [hostile, unanswered]], "Europe/Brussels"))
    assert text.endswith("\r\n") and text.count("\r\n") == 4, "RFC 4180 lines"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3
    assert rows[0]["start"] == "2026-03-29T01:59:30+01:00" and rows[0]["caller"] == "+3225550101"
    assert (rows[0]["charge"], rows[0]["charge_micros"], rows[0]["currency"]) == ("0.012500", "12500", "EUR")
    assert rows[1]["destination"] == "'=1+1"
    assert (rows[2]["answer"], rows[2]["charge"], rows[2]["revision"]) == ("", "0.000000", "1")


def test_no_calls_is_the_header_alone():
    assert "".join(csv_chunks([], "UTC")) == ",".join(CSV_COLUMNS) + "\r\n"


def account(opened_at_s: int, time_zone: str = "America/New_York") -> rm.AccountRow:
    return rm.AccountRow("acct-1", "USD", "basic", "", "prepaid", "ACTIVE", "", 0, time_zone, "1", "", opened_at_s,
                         0, 0, 0, 0, 0, 0, -1, "")


def test_a_customer_picks_among_the_months_since_the_opening_newest_first():
    now_ms = period_start_ms("2026-12", "America/New_York") + 3_600_000
    opened = account(period_start_ms("2026-09", "America/New_York") // 1000 + 86_400)
    assert call_months(opened, now_ms) == ["2026-12", "2026-11", "2026-10", "2026-09"]
    # The zone decides the month: 1 December 00:30 in New York is still November in Honolulu.
    assert call_months(replace(opened, time_zone="Pacific/Honolulu"), now_ms - 3_000_000)[0] == "2026-11"


def test_an_old_account_picks_among_five_years_of_months_only():
    months = call_months(account(0, "UTC"), period_start_ms("2026-12", "UTC"))
    assert len(months) == CALL_MONTHS_MAX and months[0] == "2026-12" and months[-1] == "2021-12"

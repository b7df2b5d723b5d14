"""A month of a customer's call records as a CSV file (R33: the call records behind a charge,
given on request; R32: in a machine-readable form), for a spreadsheet or the customer's own
reconciliation of an invoice.

Times are in the account's own zone with their UTC offset (ISO 8601), as the customer's month
and invoice are (R13); amounts are exact, as a decimal of the currency and as integer
micro-units, never a float. A cell that a spreadsheet would take for a formula (``=``, ``+``,
``-``, ``@``, a tab or a carriage return first) is written with a leading apostrophe unless it is
a plain number (``+15550000001``, ``-0.012500``): a destination's name comes from a rate card,
and a file the customer opens must not run what someone wrote into one (OWASP's "CSV
injection").
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from typing import Iterable, Iterator

from projections.periods import zone

# One row per call, in this order (the call log's record: streams/api/read_model.py CALL_COLUMNS).
CSV_COLUMNS = ("call_key", "start", "answer", "end", "direction", "caller", "callee", "destination", "billed_s",
               "charge", "charge_micros", "currency", "revision")
FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")  # a dialled number, an amount: nothing to evaluate


def local_iso(epoch_s: int | None, time_zone: str) -> str:
    """``epoch_s`` in ``time_zone`` with its offset that day (``2026-10-03T09:12:44-04:00``); "" for none."""
    if epoch_s is None:
        return ""
    return datetime.fromtimestamp(int(epoch_s), timezone.utc).astimezone(zone(time_zone)).isoformat()


def decimal_micros(micros: int) -> str:
    """Micro-units as an exact decimal with six places: -1234567 -> ``-1.234567``."""
    sign = "-" if micros < 0 else ""
    whole, part = divmod(abs(int(micros)), 1_000_000)
    return f"{sign}{whole}.{part:06d}"


def safe_cell(value: object) -> object:
    """A text a spreadsheet would evaluate, made plain text; numbers as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_FIRST) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_row(row: tuple, time_zone: str) -> list[object]:
    """A call-log record (``CALL_COLUMNS``' order) as the file's row (``CSV_COLUMNS``' order)."""
    key, start, answer, end, direction, caller, callee, destination, billed, charge, currency, revision = row
    values = [key, local_iso(start, time_zone), local_iso(answer, time_zone), local_iso(end, time_zone), direction,
              caller, callee, destination, int(billed), decimal_micros(int(charge)), int(charge), currency,
              int(revision)]
    return [safe_cell(v) for v in values]


def csv_chunks(pages: Iterable[list[tuple]], time_zone: str) -> Iterator[str]:
    """The file, a chunk per page of records: the header first, then each page's rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()
    for rows in pages:
        out.seek(0)
        out.truncate()
        writer.writerows(csv_row(r, time_zone) for r in rows)
        yield out.getvalue()

"""What the CDR adapters share: a parsed-or-rejected record, and local timestamps to UTC."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from projections.events import CallDetailRecord

STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class CdrRejected(ValueError):
    """A source record that cannot become a ``CallDetailRecord``; ``code`` is the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Leg:
    """Where a record stands in its call: switches write one record per leg or per attempt."""

    call: str  # the call it belongs to: Asterisk's uniqueid; FreeSWITCH's A-leg uuid
    billed: bool  # False for a FreeSWITCH B leg: the call is billed on its A leg's record
    sequence: int  # Asterisk's sequence (newcdrcolumns), else the record's place in the file


@dataclass(frozen=True, slots=True)
class Parsed:
    """One source record: its line (or record number), its original text, and the outcome."""

    line: int
    raw: str
    cdr: CallDetailRecord | None
    rejected: CdrRejected | None
    leg: Leg | None = None
    legs: int = 1  # records assembled into this call (streams/edge/assembly.py)


def json_value(text: str) -> Any:
    """``json.loads`` with its refusals as ``CdrRejected("bad_json")``: a syntax error, or nesting
    deeper than the interpreter can recurse (``[[[[...`` must not crash a reader)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CdrRejected("bad_json", f"{exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise CdrRejected("bad_json", "nested too deeply") from None


def carrier_zone(name: str) -> ZoneInfo:
    """The carrier's time zone by IANA name; raises ``ValueError`` naming it if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as America/New_York or UTC)") from None


def local_ms(text: str, zone: ZoneInfo, column: str) -> int:
    """``YYYY-MM-DD HH:MM:SS`` in the carrier's zone -> epoch milliseconds UTC.

    A wall time that occurs twice (the hour a DST change repeats) is read as its first
    occurrence (``fold=0``); switches that log in local time cannot tell the two apart either,
    which is why carriers should log in UTC where they can.
    """
    try:
        local = datetime.strptime(text.strip(), STAMP_FORMAT)
    except ValueError:
        raise CdrRejected("bad_timestamp", f"{column} {text!r} is not YYYY-MM-DD HH:MM:SS") from None
    return int(local.replace(tzinfo=zone).timestamp()) * 1000

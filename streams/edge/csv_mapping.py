"""One CSV adapter for every layout, driven by a column mapping (``--format csv --mapping FILE``).

Switches and proxies export CDRs as CSV in layouts of their own. Instead of one adapter per
layout, a mapping file (TOML) says where each field is and how to read it. Mappings are shipped
for Asterisk ``cdr_custom`` in the legacy Master.csv order, FreeSWITCH ``mod_cdr_csv``'s default
template, and exports of Kamailio's ``acc_cdrs`` table and OpenSIPS's ``acc`` table
(``streams/edge/mappings/``; ``--mapping asterisk-master`` names a shipped one). A mapping::

    header = false              # true: the first line names the columns, and columns are named
    delimiter = ","
    times = "local"             # local "YYYY-MM-DD HH:MM:SS" in the carrier's zone, "utc" the
                                # same in UTC, "epoch" seconds, "epoch_ms", or "iso" (ISO 8601)
    [columns]                   # a field -> a column (its index from 0, or its header name)
    call_id = 16                # required: the source's unique id, with the carrier the call key
    caller = 1                  # required
    callee = 2                  # required
    start = 9                   # required
    answer = 10                 # the answer time; or answer_at_start = true (Kamailio: a
                                # CDR starts at the 200 OK), or setup_seconds (OpenSIPS)
    end = 11                    # or billsec, from which end = answer + billsec
    billsec = 13                # answer to hang-up, whole seconds (a fraction is rounded up:
                                # a started second is billed, as switches count it)
    disposition = 14            # mapped through [dispositions]; or sip_code (200 answered,
                                # 486/600 busy, 408/480/487 no answer, else failed)
    accountcode = 0             # the ledger account; else the number directory decides
    trunk = 6                   # the trunk the call went out on (a channel's peer: SIP/carrier-a)
    source = 5                  # the peer or trunk the call came from, for the directory
    sequence = 20               # Asterisk's sequence: legs of one call_id are assembled
    a_leg = 11                  # a B leg's A leg uuid (it is billed on its A leg)
    [dispositions]              # the source's words -> ANSWERED, NO_ANSWER, BUSY, FAILED
    call_id_name = "uniqueid"   # the source's name for its id: a record without it is missing_uniqueid

The same checks as the native adapters apply: an answer time that disagrees with ``billsec`` by
more than a second is refused (``billsec_mismatch``), the switch's ``billsec`` is what is billed,
and a record without an account and unknown to the directory is refused (``unknown_number``).
Rows of one ``call_id`` (Asterisk forks) are assembled like Master.csv rows.
"""

from __future__ import annotations

import csv
import math
import tomllib
from decimal import Decimal, InvalidOperation
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from projections.events import CallDetailRecord, Disposition
from projections.validation import InvalidEvent, check_bounds, validate_cdr
from streams.edge.cdr import CdrRejected, Leg, Parsed, local_ms
from streams.edge.directory import NumberDirectory, owner_of

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
TIMES = ("local", "utc", "epoch", "epoch_ms", "iso")
FIELDS = ("call_id", "caller", "callee", "start", "answer", "end", "billsec", "setup_seconds", "disposition",
          "sip_code", "accountcode", "trunk", "source", "sequence", "a_leg")
REQUIRED = ("call_id", "caller", "callee", "start")
BILLSEC_TOLERANCE_MS = 1_000  # answer and billsec are each rounded to the second
SIP_DISPOSITIONS = {"200": Disposition.ANSWERED, "486": Disposition.BUSY, "600": Disposition.BUSY,
                    "408": Disposition.NO_ANSWER, "480": Disposition.NO_ANSWER, "487": Disposition.NO_ANSWER}
UTC = ZoneInfo("UTC")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Mapping:
    name: str
    columns: dict[str, int | str]
    header: bool = False
    delimiter: str = ","
    times: str = "local"
    answer_at_start: bool = False
    dispositions: dict[str, Disposition] = field(default_factory=dict)
    call_id_name: str = "call_id"  # the source's name of its unique id: a record without one is missing_<name>

    @classmethod
    def load(cls, name_or_path: str) -> Mapping:
        """A shipped mapping by name (``asterisk-master``) or a TOML file by path."""
        path = Path(name_or_path)
        if not path.suffix and not path.exists():
            path = MAPPINGS_DIR / f"{name_or_path}.toml"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            shipped = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml")))
            raise MappingError(f"{name_or_path}: cannot read the mapping ({exc.strerror}); shipped: {shipped}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise MappingError(f"{path}: not a TOML mapping: {exc}") from None
        return cls._checked(str(path), data)

    @classmethod
    def _checked(cls, where: str, data: dict) -> Mapping:
        columns = data.get("columns")
        if not isinstance(columns, dict):
            raise MappingError(f"{where}: no [columns] table")
        header = data.get("header", False)
        for name, column in columns.items():
            if name not in FIELDS:
                raise MappingError(f"{where}: columns.{name} is not one of {', '.join(FIELDS)}")
            if not (isinstance(column, str) if header else type(column) is int and 0 <= column < 1_000):
                raise MappingError(f"{where}: columns.{name} must be a column " +
                                   ("name (header = true)" if header else "index from 0"))
        missing = [f for f in REQUIRED if f not in columns]
        if missing or ("answer" not in columns and "setup_seconds" not in columns
                       and not data.get("answer_at_start")):
            raise MappingError(f"{where}: columns {', '.join(missing) or 'answer'} required (or answer_at_start)")
        if "end" not in columns and "billsec" not in columns:
            raise MappingError(f"{where}: an end or a billsec column is required")
        times = data.get("times", "local")
        if times not in TIMES:
            raise MappingError(f"{where}: times must be one of {', '.join(TIMES)}")
        words = data.get("dispositions", {})
        try:
            dispositions = {str(k).upper(): Disposition[str(v)] for k, v in words.items()}
        except KeyError as exc:
            raise MappingError(f"{where}: dispositions map to ANSWERED, NO_ANSWER, BUSY or FAILED, not {exc}") from None
        delimiter = data.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise MappingError(f"{where}: delimiter must be one character")
        call_id_name = data.get("call_id_name", "call_id")
        if not isinstance(call_id_name, str) or not call_id_name.isidentifier():
            raise MappingError(f"{where}: call_id_name must be a name such as uniqueid")
        return cls(str(data.get("name", Path(where).stem)), dict(columns), bool(header), delimiter, times,
                   bool(data.get("answer_at_start", False)), dispositions, call_id_name)


class _Row:
    """One CSV row read through a mapping."""

    def __init__(self, mapping: Mapping, cells: list[str], names: dict[str, int], zone: ZoneInfo) -> None:
        self.mapping, self.cells, self.names, self.zone = mapping, cells, names, zone

    def text(self, name: str) -> str:
        column = self.mapping.columns.get(name)
        if column is None:
            return ""
        index = self.names.get(column, -1) if isinstance(column, str) else column
        return self.cells[index].strip() if 0 <= index < len(self.cells) else ""

    def seconds(self, name: str) -> int | None:
        """Whole seconds, a fraction rounded up (a started second is billed); None when empty."""
        text = self.text(name)
        if not text:
            return None
        try:
            value = Decimal(text)  # exact: 121.250 s is 122 billed seconds, never 121.99999
        except InvalidOperation:
            raise CdrRejected("bad_number", f"{name} {text!r} is not a number of seconds") from None
        if not value.is_finite() or not 0 <= value < 10**7:
            raise CdrRejected("bad_number", f"{name} {text!r} is out of range")
        return math.ceil(value)

    def time_ms(self, name: str) -> int | None:
        text = self.text(name)
        if not text or text in ("0", "NULL", "\\N"):
            return None
        times = self.mapping.times
        try:
            if times in ("local", "utc"):  # with milliseconds (Kamailio's datetime(3)) or without
                whole, _, fraction = text.partition(".")
                millis = int((fraction + "000")[:3]) if fraction.isdigit() else 0 if not fraction else -1
                if millis < 0:
                    raise ValueError(text)
                return local_ms(whole, self.zone if times == "local" else UTC, name) + millis
            if times == "iso":
                at = datetime.fromisoformat(text.replace("Z", "+00:00"))
                return int((at if at.tzinfo else at.replace(tzinfo=self.zone)).timestamp() * 1000)
            at = Decimal(text) * (1000 if times == "epoch" else 1)
            if not at.is_finite():
                raise ValueError(text)
            return int(at)
        except (ValueError, OverflowError, InvalidOperation):
            raise CdrRejected("bad_timestamp", f"{name} {text!r} is not a {times} time") from None


def _peer(value: str) -> str:
    """``SIP/carrier-a-0000001f`` -> ``SIP/carrier-a``: a channel name's peer, without the
    channel's own 8-hex-digit suffix; any other value as it is."""
    head, sep, tail = value.rpartition("-")
    if "/" in value and sep and len(tail) == 8 and all(c in "0123456789abcdef" for c in tail.lower()):
        return head
    return value


def _disposition(row: _Row, answered: bool) -> Disposition:
    word = row.text("disposition").upper()
    if word:
        if word not in row.mapping.dispositions:
            raise CdrRejected("unknown_disposition", f"disposition {word[:40]!r}")
        return row.mapping.dispositions[word]
    code = row.text("sip_code")
    if code:
        return SIP_DISPOSITIONS.get(code, Disposition.FAILED)
    return Disposition.ANSWERED if answered else Disposition.NO_ANSWER


def _times(row: _Row, call_id: str) -> tuple[int, int | None, int, Disposition]:
    """(start, answer, end, disposition), billing the switch's own billsec when it gives one."""
    start = row.time_ms("start")
    if start is None:
        raise CdrRejected("bad_timestamp", f"call {call_id} has no start time")
    billsec = row.seconds("billsec")
    setup = row.seconds("setup_seconds")
    answer = start if row.mapping.answer_at_start else (
        start + setup * 1000 if setup is not None else row.time_ms("answer"))
    end = row.time_ms("end")
    disposition = _disposition(row, answer is not None and (billsec is None or billsec > 0))
    if disposition is not Disposition.ANSWERED:
        return start, None, end if end is not None else start, disposition  # an answer time here is noise
    if end is None:
        if answer is None or billsec is None:
            raise CdrRejected("bad_timestamp", f"call {call_id} is answered with no end, or no answer and billsec")
        return start, answer, answer + billsec * 1000, disposition
    if billsec is None:
        return start, answer, end, disposition
    if answer is not None and abs((end - answer) - billsec * 1000) > BILLSEC_TOLERANCE_MS:
        raise CdrRejected("billsec_mismatch", f"call {call_id}: answer..end is {(end - answer) // 1000} s "
                                              f"but billsec is {billsec} s")
    if end - billsec * 1000 < start:  # a fraction rounded up past the start: keep the answer, bill billsec
        return start, answer, answer + billsec * 1000, disposition
    return start, end - billsec * 1000, end, disposition  # bill exactly what the switch billed


def parse_row(row: _Row, carrier_id: str, directory: NumberDirectory | None) -> CallDetailRecord:
    """One row through its mapping. Raises ``CdrRejected`` with a reason code."""
    call_id = row.text("call_id")
    if not call_id:
        name = row.mapping.call_id_name
        raise CdrRejected(f"missing_{name}", f"no {name} (column {row.mapping.columns['call_id']}): the call key")
    caller, callee = row.text("caller"), row.text("callee")
    account_id, direction = owner_of(directory, row.text("accountcode"), caller, callee, _peer(row.text("source")),
                                     f"call {call_id}")
    start, answer, end, disposition = _times(row, call_id)
    cdr = CallDetailRecord(
        event_id=f"{carrier_id}/{call_id}", carrier_id=carrier_id, call_id=call_id, account_id=account_id,
        caller=caller, callee=callee, start_at_ms=start, answer_at_ms=answer, end_at_ms=end,
        disposition=disposition, direction=direction, trunk=_peer(row.text("trunk")))
    try:
        check_bounds(cdr)  # the log's own bounds at the edge: a call dated 9999 never reaches a worker
        validate_cdr(cdr)
    except InvalidEvent as exc:
        raise CdrRejected(exc.code, str(exc)) from None
    return cdr


def _leg(row: _Row, call_id: str, line: int) -> Leg:
    a_leg = row.text("a_leg")
    if a_leg and a_leg != call_id:
        return Leg(a_leg, False, line)
    sequence = row.text("sequence")
    return Leg(call_id, True, int(sequence) if sequence.isdigit() else line)


def read_mapped_csv(lines: Iterable[str], mapping: Mapping, carrier_id: str, zone: ZoneInfo,
                    directory: NumberDirectory | None = None, first_line: int = 1) -> Iterator[Parsed]:
    """Every row of a CSV export read through ``mapping``, parsed or rejected with its line
    number (one record per line: CDR exports write no embedded newlines)."""
    names: dict[str, int] = {}
    for number, line in enumerate(lines, start=first_line):
        raw = line.rstrip("\r\n")
        if not raw.strip():
            continue
        try:
            (cells,) = csv.reader([raw], delimiter=mapping.delimiter)
        except csv.Error as exc:
            yield Parsed(number, raw, None, CdrRejected("bad_csv", str(exc)))
            continue
        if mapping.header and not names:
            names = {name.strip(): i for i, name in enumerate(cells)}
            continue
        row = _Row(mapping, cells, names, zone)
        try:
            cdr = parse_row(row, carrier_id, directory)
        except CdrRejected as exc:
            yield Parsed(number, raw, None, exc)
            continue
        yield Parsed(number, raw, cdr, None, _leg(row, cdr.call_id, number))

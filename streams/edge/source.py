"""Where carriers' CDRs are read from, and how: a ``Source`` (the format, the carrier, its time
zone, the number directory, the revision of a correction file) and the parsers of whole files
(``parse_file``) and of chunks of text (``parse_lines``, for a followed file and an HTTP push).

Formats: ``asterisk-csv`` (Master.csv), ``freeswitch-json`` (mod_json_cdr), ``plain-json`` (JSON
Lines of ``streams/edge/plain_json.py``), ``csv`` with a column mapping (Asterisk cdr_custom,
FreeSWITCH mod_cdr_csv, Kamailio acc_cdrs, OpenSIPS acc: ``streams/edge/csv_mapping.py``), and
``avro`` (an Avro
object container file of ``voiceledger.CallDetailRecord`` records, in any committed version).
Text formats go through call assembly (``streams/edge/assembly.py``) before they are billed.

A correction file (``revision`` > 0, ``voiceledger ingest --revision N``) gives each of its calls
that revision: they supersede the calls of the same keys sent before (projections/corrections.py).
An Avro record carries its own revision.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

import fastavro

from projections.validation import InvalidEvent, validate_cdr
from schemas.codec import EventCodec, cdr_from_record
from streams.edge.assembly import assemble
from streams.edge.asterisk import read_master_csv
from streams.edge.cdr import CdrRejected, Parsed
from streams.edge.csv_mapping import Mapping, read_mapped_csv
from streams.edge.directory import NumberDirectory
from streams.edge.freeswitch import read_json_cdrs
from streams.edge.plain_json import read_plain_json

FORMATS = ("asterisk-csv", "freeswitch-json", "plain-json", "csv", "avro")
FILE_BYTES_MAX = 2 * 1024**3  # JSON files are read whole; refuse what cannot be meant
REVISION_MAX = 1_000_000  # a correction file's revision (an Avro int, and more than any carrier re-sends)


class IngestError(ValueError):
    """A file that cannot be read at all (not a bad record): the message names the file."""


@dataclass(frozen=True)
class Source:
    """How one carrier's records are read."""

    fmt: str
    carrier_id: str | None  # required for the text formats: it scopes the call key
    zone: ZoneInfo  # the carrier's zone, for timestamps written without one
    directory: NumberDirectory | None = None  # who pays when a record has no accountcode
    revision: int = 0  # > 0: the calls correct those sent before
    mapping: Mapping | None = None  # the column mapping of --format csv (streams/edge/csv_mapping.py)


def _read_avro(path: Path, carrier_id: str | None, codec: EventCodec) -> Iterator[Parsed]:
    reader_schema = codec.registry.latest_of("voiceledger.CallDetailRecord").parsed
    with open(path, "rb") as handle:
        try:
            records = fastavro.reader(handle, reader_schema=reader_schema)
        except Exception as exc:  # fastavro raises several types for a file that is not OCF
            raise IngestError(f"{path}: not an Avro object container file of CallDetailRecord: {exc}") from None
        number = 0
        while True:
            number += 1
            try:
                record = next(records)
            except StopIteration:
                return
            except Exception as exc:  # a corrupt block: the rest of the file cannot be found
                yield Parsed(number, "", None, CdrRejected("avro_decode_failed", f"{type(exc).__name__}: {exc}"))
                return
            raw = repr(record)
            try:
                cdr = cdr_from_record(record)
                if carrier_id is not None and cdr.carrier_id != carrier_id:
                    raise CdrRejected("carrier_mismatch", f"record of carrier {cdr.carrier_id!r}, "
                                                          f"not {carrier_id!r}")
                validate_cdr(cdr)
            except InvalidEvent as exc:
                yield Parsed(number, raw, None, CdrRejected(exc.code, str(exc)))
                continue
            except CdrRejected as exc:
                yield Parsed(number, raw, None, exc)
                continue
            yield Parsed(number, raw, cdr, None)


def parse_file(path: Path, source: Source, codec: EventCodec) -> Iterator[Parsed]:
    """Every call of one file, its legs assembled (``streams/edge/assembly.py``), or a rejected
    record; a switch's records in file order, give or take the assembly window."""
    if source.fmt == "avro":
        yield from _read_avro(path, source.carrier_id, codec)
        return
    try:
        if source.fmt not in ("asterisk-csv", "csv") and path.stat().st_size > FILE_BYTES_MAX:
            raise IngestError(f"{path}: larger than {FILE_BYTES_MAX} bytes; split it into JSON Lines files")
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            yield from parse_lines(handle if source.fmt in ("asterisk-csv", "csv") else [handle.read()], source)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror}") from None


def parse_lines(lines: Iterable[str], source: Source, first_line: int = 1) -> Iterator[Parsed]:
    """The calls of text in a text format: Master.csv lines, or JSON (one object, an array, or
    JSON Lines, given as one string). Line numbers count from ``first_line``."""
    assert source.carrier_id, "the text formats need a carrier: it scopes the call key"
    if source.fmt == "asterisk-csv":
        records = read_master_csv(lines, source.carrier_id, source.zone, source.directory, first_line)
    elif source.fmt == "freeswitch-json":
        records = read_json_cdrs("".join(lines), source.carrier_id, source.zone, source.directory, first_line)
    elif source.fmt == "plain-json":
        records = read_plain_json("".join(lines), source.carrier_id, source.zone, source.directory, first_line)
    elif source.fmt == "csv" and source.mapping is not None:
        records = read_mapped_csv(lines, source.mapping, source.carrier_id, source.zone, source.directory, first_line)
    else:
        raise IngestError(f"unknown text format {source.fmt!r} (csv needs a mapping); one of {', '.join(FORMATS[:4])}")
    for parsed in assemble(records):
        yield _revised(parsed, source.revision)


def _revised(parsed: Parsed, revision: int) -> Parsed:
    if revision and parsed.cdr is not None:
        return replace(parsed, cdr=replace(parsed.cdr, revision=revision))
    return parsed

"""``voiceledger ingest``: carriers' CDR files onto the events topic.

Formats: ``asterisk-csv`` (Master.csv), ``freeswitch-json`` (mod_json_cdr), and ``avro`` (an Avro
object container file of ``voiceledger.CallDetailRecord`` records, in any committed version).
Every record is parsed and validated at the edge:

- a good record is produced to the events topic, keyed by account, in envelopes of up to
  ``envelope_max`` CDRs of one partition (the worker's per-message cost is paid once per
  envelope);
- a bad record is reported with its file and line, and goes to the dead-letter topic with the
  reason and the original text (``source_topic`` = ``file:<path>``, ``source_offset`` = the line
  number). It never stops the file.

Re-ingesting a file is safe: a CDR's identity is (carrier, the source's unique id), and the
worker counts a re-sent CDR as a duplicate, never a second charge.

R32: with ``seal_personal_data`` (the default) caller and callee reach the log sealed with the
subscriber's key (``streams/edge/sealing.py``; deterministic, so a re-ingested file still gives
duplicates). A *rejected* line goes to the dead-letter topic as it was read, numbers and all,
because its account may be unknown: give that topic a retention shorter than the erasure
deadline (README, privacy).
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import fastavro

from projections.events import CallDetailRecord
from projections.periods import EPOCH
from projections.validation import InvalidEvent, validate_cdr
from schemas.codec import EventCodec, cdr_from_record
from streams.config.settings import Settings
from streams.edge.assembly import assemble
from streams.edge.asterisk import read_master_csv
from streams.edge.cdr import CdrRejected, Parsed
from streams.edge.directory import NumberDirectory
from streams.edge.freeswitch import read_json_cdrs
from streams.edge.sealing import sealer_for
from streams.kafka.codec import codec_for
from streams.kafka.producer import new_producer, plan_messages
from streams.kafka.topics import ensure_topics

FORMATS = ("asterisk-csv", "freeswitch-json", "avro")
CHUNK_RECORDS = 20_000  # records parsed before they are produced: bounds memory on big files
FILE_BYTES_MAX = 2 * 1024**3  # JSON files are read whole; refuse what cannot be meant


class IngestError(ValueError):
    """A file that cannot be read at all (not a bad record): the message names the file."""


@dataclass
class IngestSummary:
    files: int = 0
    read: int = 0
    produced: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)

    def line(self) -> str:
        reasons = ", ".join(f"{code} {n}" for code, n in sorted(self.reasons.items()))
        return (f"ingest: {self.files} file(s), {self.read} record(s) read, {self.produced} produced, "
                f"{self.rejected} rejected" + (f" ({reasons})" if reasons else ""))


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


def _iso(at_ms: int | None) -> str | None:
    if at_ms is None:
        return None
    return (EPOCH + timedelta(milliseconds=at_ms)).isoformat().replace("+00:00", "Z")


def call_json(cdr: CallDetailRecord, legs: int) -> dict:
    """An assembled call as ``ingest --dry-run`` prints it (times ISO 8601 UTC; ``talk_s`` is
    answer to hang-up, before any billing increment; ``answer_at`` null when unanswered)."""
    talk_ms = 0 if cdr.answer_at_ms is None else cdr.end_at_ms - cdr.answer_at_ms
    return {"call_key": cdr.call_key, "account_id": cdr.account_id, "direction": cdr.direction.value.lower(),
            "legs": legs, "caller": cdr.caller, "callee": cdr.callee, "start_at": _iso(cdr.start_at_ms),
            "answer_at": _iso(cdr.answer_at_ms), "end_at": _iso(cdr.end_at_ms), "talk_s": talk_ms // 1000,
            "disposition": cdr.disposition.value}


def parse_file(path: Path, fmt: str, carrier_id: str | None, zone: ZoneInfo, codec: EventCodec,
               directory: NumberDirectory | None = None) -> Iterator[Parsed]:
    """Every call of one file, its legs assembled (``streams/edge/assembly.py``), or a rejected
    record; a switch's records in file order, give or take the assembly window."""
    if fmt == "avro":
        yield from _read_avro(path, carrier_id, codec)
        return
    assert carrier_id, "the CLI requires --carrier for text formats"
    try:
        if fmt == "asterisk-csv":
            with open(path, encoding="utf-8", errors="replace", newline="") as handle:
                yield from assemble(read_master_csv(handle, carrier_id, zone, directory))
        elif fmt == "freeswitch-json":
            if path.stat().st_size > FILE_BYTES_MAX:
                raise IngestError(f"{path}: larger than {FILE_BYTES_MAX} bytes; split it into JSON Lines files")
            yield from assemble(read_json_cdrs(path.read_text(encoding="utf-8", errors="replace"), carrier_id, zone,
                                               directory))
        else:
            raise IngestError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror}") from None


async def ingest(settings: Settings, paths: list[Path], fmt: str, carrier_id: str | None, zone: ZoneInfo,
                 envelope_max: int = 200, report: Callable[[str], None] | None = None,
                 directory: NumberDirectory | None = None) -> IngestSummary:
    """Parse, validate and produce every record of ``paths``; returns what happened."""
    report = report or (lambda text: print(text, file=sys.stderr, flush=True))
    codec = codec_for(settings)
    for path in paths:  # fail before producing anything if a file is missing
        if not path.is_file():
            raise IngestError(f"{path}: no such file")
    await ensure_topics(settings)
    producer = new_producer(settings)
    await producer.start()
    summary = IngestSummary()
    pending: list = []

    async def send(topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        pending.append(await producer.send(topic, key=key, value=value, partition=partition))
        if len(pending) >= 5_000:
            await asyncio.gather(*pending)
            pending.clear()

    sealer = sealer_for(settings)

    async def produce(cdrs: list[CallDetailRecord]) -> None:
        if sealer is not None:  # R32: numbers reach the log sealed with the subscriber's key
            cdrs = sealer.seal_events(cdrs)
        for partition, key, value in plan_messages(cdrs, codec, settings.partitions, envelope_max):
            await send(settings.events_topic, key, value, partition)
        summary.produced += len(cdrs)

    try:
        for path in paths:
            summary.files += 1
            chunk: list[CallDetailRecord] = []
            for parsed in parse_file(path, fmt, carrier_id, zone, codec, directory):
                summary.read += 1
                if parsed.cdr is not None and sealer is not None and sealer.past_retention(parsed.cdr):
                    parsed = replace(parsed, cdr=None, rejected=CdrRejected(
                        "past_retention", "the call is older than the retention: its month's key is destroyed (R31)"))
                if parsed.cdr is not None:
                    chunk.append(parsed.cdr)
                    if len(chunk) >= CHUNK_RECORDS:
                        await produce(chunk)
                        chunk = []
                        report(f"  {path}: {summary.read} read, {summary.produced} produced, {summary.rejected} rejected")
                    continue
                rejected = parsed.rejected
                summary.rejected += 1
                summary.reasons[rejected.code] += 1
                report(f"  {path}:{parsed.line}: {rejected.code}: {rejected}")
                letter = codec.encode_dead_letter(
                    reason_code=rejected.code, reason=f"{path}:{parsed.line}: {rejected}",
                    source_topic=f"file:{path}", source_partition=-1, source_offset=parsed.line,
                    source_index=0, original=parsed.raw.encode(),
                )
                await send(settings.dead_letter_topic, f"file:{path}/{parsed.line}".encode(), letter)
            if chunk:
                await produce(chunk)
            if sealer is not None:
                sealer.forget()  # an erasure between files holds for the next one
        await asyncio.gather(*pending)  # every record is on the broker before we say so
        await producer.flush()
    finally:
        await producer.stop()
    return summary

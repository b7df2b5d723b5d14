"""``voiceledger ingest``: carriers' CDR files onto the events topic.

Every record is parsed and validated at the edge (``streams/edge/source.py``):

- a good call is produced to the events topic, keyed by account, in envelopes
  (``streams/edge/cdr_sink.py``);
- a bad record is reported with its file and line, and goes to the dead-letter topic with the
  reason and the original text (``source_topic`` = ``file:<path>``, ``source_offset`` = the line
  number). It never stops the file.

Re-ingesting a file is safe: a CDR's identity is (carrier, the source's unique id), and the
worker counts a re-sent CDR as a duplicate, never a second charge. A carrier's correction file
is ingested with ``--revision N``: its calls supersede those sent before (projections/corrections.py).

Who pays for a record without an account code is the number directory's answer
(``streams/edge/directory.py``): the numbers of every account on the log, read from the accounts
table's changelog when ingest starts, with the ``--directory`` CSV file over them.

R32: with ``seal_personal_data`` (the default) caller and callee reach the log sealed with the
subscriber's key (``streams/edge/sealing.py``; deterministic, so a re-ingested file still gives
duplicates). A *rejected* line goes to the dead-letter topic as it was read, numbers and all,
because its account may be unknown: that topic lets it go before the erasure deadline
(``dead_letter_retention_days``, at most 28 days while sealing is on).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Callable

from projections.events import CallDetailRecord
from projections.periods import EPOCH
from streams.config.settings import Settings
from streams.edge.cdr import Parsed
from streams.edge.cdr_sink import CdrSink, SinkCounts
from streams.edge.directory import NumberDirectory
from streams.edge.sealing import opener_for
from streams.edge.source import IngestError, Source, parse_file
from streams.kafka.codec import codec_for
from streams.kafka.reader import read_account_states

CHUNK_RECORDS = 20_000  # records parsed before they are produced: bounds memory on big files

__all__ = ["IngestError", "IngestSummary", "call_json", "ingest", "log_directory"]


@dataclass
class IngestSummary:
    files: int = 0
    read: int = 0
    counts: SinkCounts | None = None

    @property
    def produced(self) -> int:
        return self.counts.produced if self.counts else 0

    @property
    def rejected(self) -> int:
        return self.counts.rejected if self.counts else 0

    def line(self) -> str:
        reasons = self.counts.reasons if self.counts else {}
        text = ", ".join(f"{code} {n}" for code, n in sorted(reasons.items()))
        return (f"ingest: {self.files} file(s), {self.read} record(s) read, {self.produced} produced, "
                f"{self.rejected} rejected" + (f" ({text})" if text else ""))


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


async def log_directory(settings: Settings, overlay: NumberDirectory | None = None) -> NumberDirectory:
    """The numbers of every account the worker has folded, with ``overlay`` (a CSV file) over them."""
    states = await read_account_states(settings, codec_for(settings))
    # R32: the numbers are sealed on the log (whatever seal_personal_data says now, as for every reader).
    return NumberDirectory.from_states(states.values(), settings.country_code, opener_for(settings)).overlaid_with(
        overlay)


async def ingest(settings: Settings, paths: list[Path], source: Source, envelope_max: int = 200,
                 report: Callable[[str], None] | None = None) -> IngestSummary:
    """Parse, validate and produce every record of ``paths``; returns what happened."""
    report = report or (lambda text: print(text, file=sys.stderr, flush=True))
    for path in paths:  # fail before producing anything if a file is missing
        if not path.is_file():
            raise IngestError(f"{path}: no such file")
    if source.fmt != "avro":
        source = replace(source, directory=await log_directory(settings, source.directory))
    sink = CdrSink(settings, envelope_max)
    await sink.start()
    summary = IngestSummary(counts=sink.counts)
    try:
        for path in paths:
            summary.files += 1
            await _one_file(path, source, sink, summary, report)
            sink.forget_keys()  # an erasure between files holds for the next one
        await sink.flush()  # every record is on the broker before we say so
    finally:
        await sink.stop()
    return summary


async def _one_file(path: Path, source: Source, sink: CdrSink, summary: IngestSummary,
                    report: Callable[[str], None]) -> None:
    chunk: list[CallDetailRecord] = []
    for parsed in parse_file(path, source, sink.codec):
        summary.read += 1
        rejected = parsed.rejected if parsed.cdr is None else sink.refusal(parsed.cdr)
        if rejected is None:
            chunk.append(parsed.cdr)
            if len(chunk) >= CHUNK_RECORDS:
                await sink.calls(chunk)
                chunk = []
                report(f"  {path}: {summary.read} read, {summary.produced} produced, {summary.rejected} rejected")
            continue
        report(f"  {path}:{parsed.line}: {rejected.code}: {rejected}")
        await sink.reject(f"file:{path}", parsed.line, parsed.raw, rejected)
    if chunk:
        await sink.calls(chunk)


def rejected_json(parsed: Parsed, path: str) -> dict:
    """A rejected record as ``ingest --dry-run`` prints it."""
    return {"rejected": parsed.rejected.code if parsed.rejected else "unreadable", "file": path, "line": parsed.line}

"""Dead letters read back, and events among them re-driven onto the log once their cause is mended.

A worker dead-letters an event it cannot fold, with its reason: a CDR for an account not opened
yet (``unknown_account``), a call no rate card prices, a payment in another currency. Counted is
not billed: once an operator has mended the cause (opened the account, imported the card), the
calls must reach the ledger, or their revenue is lost. ``redrive`` produces the events of the
chosen letters to the events topic again, as they were logged (sealed numbers stay sealed):

- safe to repeat: the fold knows each event by its dedup key, so an event already applied, by
  an earlier re-drive or because the carrier sent it again, is a duplicate and changes nothing;
- never lost: an event whose cause is not mended yet is dead-lettered again, with its reason;
- replayable: the re-driven event is a record of the events topic like any other, so a rebuild
  folds it at the same place in the log and gives the same state.

Only letters of the events topic hold an event (``source_topic``); a record the edge refused
(``file:...``, ``http:...``) holds the carrier's text and goes through ``ingest`` again, and one
that did not decode has no event to send. Both are listed, and reported as not re-drivable.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from schemas.codec import DecodeError
from streams.config.settings import Settings
from streams.edge.publish import produce_events
from streams.kafka.codec import codec_for
from streams.kafka.reader import topic_batches
from streams.kafka.security import client_kwargs

REASON_SHOWN_MAX = 300  # characters of a letter's reason in a listing
# The whole topic, read as fetched: 28 days of an incident's letters may be millions of records.
READ_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Letter:
    """One dead letter, where it is on the dead-letter topic and where its record came from."""

    at: str  # partition/offset on the dead-letter topic
    logged_at_ms: int
    reason_code: str
    reason: str
    source: str  # topic/partition/offset/index, or the edge's file:... / http:... and its line
    events: tuple[Any, ...]  # what a re-drive would send: () when it holds no event

    def as_json(self) -> dict:
        return {"at": self.at, "logged_at_ms": self.logged_at_ms, "reason_code": self.reason_code,
                "reason": self.reason[:REASON_SHOWN_MAX], "source": self.source, "redrivable": bool(self.events)}


async def read_letters(settings: Settings, reason_code: str = "", limit: int = 10_000,
                       account_id: str = "") -> list[Letter]:
    """The dead letters, oldest first per partition, those of ``reason_code`` and of events of
    ``account_id`` if given; at most ``limit`` of them. The topic is read as fetched and only the
    letters chosen are kept, so memory is bounded by ``limit``, not by the topic (an incident can
    dead-letter millions of records in a day); reading stops once ``limit`` are chosen."""
    codec = codec_for(settings)
    out: list[Letter] = []
    # Up to the end offsets at the start (idle_s=0), not until the topic is quiet: workers may
    # go on dead-lettering a storm while an operator lists, and the topic's writers send
    # records Tansu counts exactly too (one a batch with broker_flavor "tansu").
    batches = topic_batches(settings.broker, settings.dead_letter_topic, timeout_s=READ_TIMEOUT_S, idle_s=0.0,
                            security=client_kwargs(settings))
    async with contextlib.aclosing(batches):
        async for records in batches:
            for record in records:
                letter = _chosen(settings, codec, record, reason_code, account_id)
                if letter is not None:
                    out.append(letter)
                    if len(out) >= limit:
                        return out
    return out


def _chosen(settings: Settings, codec: Any, record: Any, reason_code: str, account_id: str) -> Letter | None:
    try:
        letter = codec.decode_dead_letter(record.value or b"")
    except DecodeError as exc:  # anyone who may write the topic may write anything there
        letter = {"reason_code": "not_a_dead_letter", "reason": f"{exc.code}: {exc}", "source_topic": "",
                  "source_partition": -1, "source_offset": -1, "source_index": 0, "original": b""}
    if reason_code and letter["reason_code"] != reason_code:
        return None
    events = _events(settings, codec, letter)
    if account_id and not any(getattr(e, "account_id", "") == account_id for e in events):
        return None
    return Letter(f"{record.partition}/{record.offset}", record.timestamp, letter["reason_code"],
                  letter["reason"], _source(letter), events)


def _source(letter: dict) -> str:
    if letter["source_partition"] < 0:  # the edge: a file's line, or an HTTP request's number
        return f"{letter['source_topic']}:{letter['source_offset']}"
    return f"{letter['source_topic']}/{letter['source_partition']}/{letter['source_offset']}/{letter['source_index']}"


def _events(settings: Settings, codec: Any, letter: dict) -> tuple[Any, ...]:
    if letter["source_topic"] != settings.events_topic:
        return ()
    try:
        return tuple(codec.decode(letter["original"]))
    except DecodeError:  # the reason it was dead-lettered, or cut short: nothing to send
        return ()


async def redrive(settings: Settings, letters: list[Letter]) -> int:
    """Produce the events of ``letters`` to the events topic again; returns how many."""
    events = [e for letter in letters for e in letter.events]
    if events:
        await produce_events(settings, events, envelope_max=200)
    return len(events)

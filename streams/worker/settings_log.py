"""The settings topic: each version of the fold's settings, and the check a worker makes at start.

``streams/config/versions.py`` says what a version is and which changes are safe. This reads and
writes the versions as ``SettingsVersion`` records on ``settings_topic`` (one partition, kept for
ever), so the log says which settings every part of it was folded with:

- ``guard``: before a worker folds anything (a rebuild's worker too). It records the first
  version; records a version whose changes are all safe (dated from a moment not yet reached);
  and refuses, as one line and exit 2, a version that changes a term already in force;
- ``accept``: an operator records such a version on purpose, with a reason (a price that was
  wrong from the start, a new default for ``dedup_window_days``); the workers then start with it.
  A rebuild from before that point differs from live, and the record says where and why;
- ``versions``: every recorded version, for ``voiceledger settings history``.

Each version keeps the fold's settings whole as well (``streams/config/settings_record.py``: the
configured cards' prices included), so the log says what every price was in every version. A
version recorded by a release before that is recorded once more at the next start, the same
terms with the settings whole.

Time is the wall clock here, not an event's: the question is what may already have been folded.
"""

from __future__ import annotations

import getpass
import logging
import socket
import time
from dataclasses import dataclass

from schemas.codec import DecodeError

from streams.worker.fold_settings import fold_settings_from
from streams.config.settings import ConfigError, Settings
from streams.config.settings_epochs import Epochs, epochs_of
from streams.config.settings_record import PACKED_BYTES_MAX, packed
from streams.config.versions import Change, Term, changes, in_force, moment, terms_of, version_digest
from streams.kafka.codec import codec_for
from streams.kafka.producer import new_producer
from streams.kafka.reader import read_topic
from streams.kafka.security import client_kwargs
from streams.kafka.topics import ensure_topics
from streams.observe import metrics
from streams.worker import settings_starts

log = logging.getLogger("voiceledger.settings")

READ_TIMEOUT_S = 30.0
CHANGES_NAMED_MAX = 3  # in the one line that refuses a version; ``settings check`` lists them all


@dataclass(frozen=True)
class Verdict:
    """What the settings at hand are, against the last recorded version."""

    digest: str
    terms: dict[str, Term]
    plans: tuple[str, ...]
    last: dict | None  # the last recorded version, None before the first
    found: list[Change]  # every change since it
    refused: list[Change]  # those already in force
    fold_settings: bytes = b""  # the settings whole (settings_record.packed): kept with a new version
    starts: tuple[dict, ...] = ()  # every SettingsStart read with the versions (settings_starts.py)
    recorded: tuple[dict, ...] = ()  # every version read, oldest first

    @property
    def unchanged(self) -> bool:
        return self.last is not None and self.last["digest"] == self.digest

    @property
    def kept_whole(self) -> bool:
        """The last version keeps its settings whole, or they are too large to keep: nothing to
        record again. A version recorded before versions kept them is recorded once more, with
        them, unchanged in its terms."""
        return self.last is not None and (bool(self.last.get("fold_settings")) or not self.fold_settings)


async def versions(settings: Settings) -> list[dict]:
    """Every recorded version, oldest first."""
    return (await read_log(settings))[0]


async def epochs(settings: Settings) -> Epochs:
    """Which settings fold each event (``streams/config/settings_epochs.py``), from the topic."""
    return epochs_from(*await read_log(settings))


def epochs_from(found: list[dict], starts: list[dict]) -> Epochs:
    """The epochs of versions and starts already read (warns of a version not kept whole)."""
    table = epochs_of(found, starts)
    if table.unknown:
        log.warning("versions %s were accepted in force but not kept whole: the events before them are folded "
                    "with the settings at hand", ", ".join(d[:12] for d in table.unknown))
    return table


async def read_log(settings: Settings) -> tuple[list[dict], list[dict]]:
    """Every recorded version and every start of one accepted in force (``SettingsStart``), each
    oldest first. A record that is neither (not Avro, another schema) is left out, logged and
    counted: it must not stop every worker's start."""
    codec = codec_for(settings)
    records = await read_topic(settings.broker, settings.settings_topic, timeout_s=READ_TIMEOUT_S, idle_s=0.3,
                               security=client_kwargs(settings))
    found: dict[str, list[dict]] = {"version": [], "start": []}
    for r in records:
        try:
            kind, record = codec.decode_settings_record(r.value or b"")
        except DecodeError as exc:
            log.error("settings topic offset %d left out (%s): %s", r.offset, exc.code, exc)
            metrics.EVENTS_REJECTED.labels(topic=settings.settings_topic, reason=exc.code).inc()
            continue
        if kind == "version":  # a v1 record reads with the default, which fastavro gives as text
            record = {**record, "fold_settings": bytes(record.get("fold_settings") or b"")}
        found[kind].append(record)
    return found["version"], found["start"]


async def verdict(settings: Settings, now_ms: int | None = None) -> Verdict:
    """The settings at hand against the last recorded version; nothing is written."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    fold = fold_settings_from(settings)  # no published cards: its cards are the configured ones
    terms = terms_of(fold, fold.rate_cards)
    plans = tuple(sorted(settings.plans))
    whole = packed(fold)
    recorded, starts = await read_log(settings)
    last = recorded[-1] if recorded else None
    read = {"starts": tuple(starts), "recorded": tuple(recorded)}
    if last is None:
        return Verdict(version_digest(terms, plans), terms, plans, None, [], [], whole, **read)
    found = changes(_terms_of_record(last), terms)
    return Verdict(version_digest(terms, plans), terms, plans, last, found,
                   in_force(found, now_ms, fold.max_clock_skew_ms, _new_plans(plans, recorded)), whole, **read)


async def guard(settings: Settings, now_ms: int | None = None) -> tuple[str, str]:
    """Before a worker folds: record the version at hand if it is new and safe; raise
    ``ConfigError`` (one line) if it changes a term already in force. Returns what it did
    ("recorded", "unchanged") and the version's digest. The topics must be there (``ensure_topics``:
    a worker makes them first)."""
    action, digest, _ = await guarded(settings, now_ms)
    return action, digest


async def guarded(settings: Settings, now_ms: int | None = None) -> tuple[str, str, Epochs | None]:
    """``guard``, and the epochs of the log it read, so that a worker reads the topic once at
    start: None when it recorded a version (then the fold stage reads the log again, as written)."""
    v = await verdict(settings, now_ms)
    if v.unchanged and v.kept_whole:
        return "unchanged", v.digest, epochs_from(list(v.recorded), list(v.starts))
    return (*await _guard_recording(settings, v, now_ms), None)


async def _guard_recording(settings: Settings, v: Verdict, now_ms: int | None) -> tuple[str, str]:
    """A version that differs from the last recorded, or is not kept whole: recorded, or refused."""
    if v.unchanged:
        await _record(settings, v, "the same terms, with the settings kept whole", now_ms)
        return "recorded", v.digest
    if v.refused:
        named = "; ".join(c.described() for c in v.refused[:CHANGES_NAMED_MAX])
        more = len(v.refused) - CHANGES_NAMED_MAX
        raise ConfigError(
            f"settings: {len(v.refused)} change(s) to what the fold already priced with, since the version "
            f"recorded at {_when(v.last)}: {named}{f'; and {more} more' if more > 0 else ''}. A rebuild "
            "would no longer equal live: date the change from a month not yet begun (@YYYY-MM), or record it "
            "on purpose with 'voiceledger settings accept --reason TEXT' ('voiceledger settings check' lists "
            "every change)")
    reason = "the first version" if v.last is None else f"{len(v.found)} change(s), none yet in force"
    await _record(settings, v, reason, now_ms)
    return "recorded", v.digest


async def accept(settings: Settings, reason: str, now_ms: int | None = None) -> Verdict:
    """Record the version at hand whatever it changes, with the operator's reason. A change in
    force is accepted only with the group stopped, and where it starts in each partition is
    recorded with it (``settings_starts.py``): the events before are folded with the version it
    replaces, live and in a rebuild."""
    await ensure_topics(settings)
    v = await verdict(settings, now_ms)
    if v.unchanged:
        return v
    if v.refused:
        await settings_starts.require_stopped(settings)
    await _record(settings, v, reason, now_ms)
    if v.refused and v.last is not None:
        await settings_starts.record(settings, v.last["digest"], v.digest, now_ms)
    return v


async def _record(settings: Settings, v: Verdict, reason: str, now_ms: int | None) -> None:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    record = {
        "digest": v.digest, "recorded_at_ms": now_ms, "recorded_by": _who(), "reason": reason,
        "changed_in_force": [c.name for c in v.refused], "plans": list(v.plans),
        "terms": [{"name": t.name, "starts_ms": t.starts_ms, "value": t.value} for _, t in sorted(v.terms.items())],
        "fold_settings": v.fold_settings,
    }
    if not v.fold_settings:
        log.warning("settings version %s kept by its terms alone: its settings pass %d bytes compressed",
                    v.digest[:12], PACKED_BYTES_MAX)
    value = codec_for(settings).encode_settings_version(record)
    producer = new_producer(settings)
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await producer.start()
        await producer.send_and_wait(settings.settings_topic, value, key=f"{now_ms}/{v.digest}".encode(), partition=0)
    finally:
        await producer.stop()


def _new_plans(plans: tuple[str, ...], recorded: list[dict]) -> frozenset[str]:
    """Plans no account can have been opened on: in no version's catalogue, every one of which
    was closed (an empty catalogue takes any plan name: then none is new)."""
    if any(not r["plans"] for r in recorded):
        return frozenset()
    return frozenset(plans).difference(*(r["plans"] for r in recorded))


def _terms_of_record(record: dict) -> dict[str, Term]:
    return {t["name"]: Term(t["name"], t["starts_ms"], t["value"]) for t in record["terms"]}


def _when(record: dict | None) -> str:
    return "-" if record is None else moment(record["recorded_at_ms"])


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "?"
    return f"{user}@{socket.gethostname()}"[:200]

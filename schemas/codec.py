"""Avro codec with the Confluent wire framing, and the file-based schema registry.

Every value on a voiceledger topic is ``0x00`` + 4-byte big-endian schema id + Avro body, so
Kafka ecosystem tools (Schema Registry aware consumers, kcat, ksqlDB) can read it. The schema
id tells the reader which event type a message holds, so one topic can carry several types.

The registry is ``schemas/registry.json`` plus the committed ``.avsc`` files. Ids are fixed
there forever; a reader always decodes with the newest version of a subject as its reader
schema, and fastavro resolves older writer schemas against it (schema evolution).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import struct
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import fastavro

from schemas.avro_fast import AvroKernel, attribute_records, fastavro_read, write_state
from projections.account import AccountState
from projections.packed import PackedTable
from projections.identity import dedup_key_id
from projections.invoicing import Billing
from projections.lifecycle import Lifecycle
from projections.journal import JournalEntry, Posting
from projections import events as ev
from projections.events import (
    ACCOUNT_EVENTS,
    AccountEvent,
    AccountOpened,
    CallDetailRecord,
    Direction,
    Disposition,
    PaymentReceived,
)

MAGIC_BYTE = 0
HEADER = struct.Struct(">bI")
SCHEMA_DIR = Path(__file__).resolve().parent / "avro"
REGISTRY_FILE = Path(__file__).resolve().parent / "registry.json"


class DecodeError(ValueError):
    """A message value that is not a voiceledger event; ``code`` goes to the dead letter."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RegisteredSchema:
    schema_id: int
    subject: str
    version: int
    parsed: Any


class SchemaRegistry(Protocol):
    """What the codec needs of a registry: the writer schema of an id, the newest of a subject."""

    def writer(self, schema_id: int) -> RegisteredSchema | None: ...

    def latest_of(self, subject: str) -> RegisteredSchema: ...


def committed_schemas(registry_file: Path = REGISTRY_FILE, schema_dir: Path = SCHEMA_DIR) -> list[dict]:
    """The manifest entries with each schema's JSON (``"schema"``), in id order."""
    manifest = json.loads(registry_file.read_text())
    out = []
    for entry in sorted(manifest["schemas"], key=lambda e: e["id"]):
        out.append({**entry, "schema": json.loads((schema_dir / entry["file"]).read_text())})
    return out


class FileSchemaRegistry:
    """Schema ids and parsed schemas from the committed files. Read-only and deterministic."""

    def __init__(self, registry_file: Path = REGISTRY_FILE, schema_dir: Path = SCHEMA_DIR) -> None:
        manifest = json.loads(registry_file.read_text())
        named: dict[str, Any] = {}
        self.by_id: dict[int, RegisteredSchema] = {}
        self.latest: dict[str, RegisteredSchema] = {}
        # Files are parsed in id order so a record can reference one defined before it.
        for entry in sorted(manifest["schemas"], key=lambda e: e["id"]):
            raw = json.loads((schema_dir / entry["file"]).read_text())
            # A reference to a named type means the version registered *before* this schema,
            # forever: each schema gets its own snapshot of the names, so registering a new
            # version of a type later never changes how older schemas that refer to it read.
            snapshot = dict(named)
            parsed = fastavro.parse_schema(raw, named_schemas=snapshot)
            named.update(snapshot)
            reg = RegisteredSchema(entry["id"], entry["subject"], entry["version"], parsed)
            assert reg.schema_id not in self.by_id, f"schema id {reg.schema_id} used twice"
            self.by_id[reg.schema_id] = reg
            current = self.latest.get(reg.subject)
            if current is None or reg.version > current.version:
                self.latest[reg.subject] = reg

    def writer(self, schema_id: int) -> RegisteredSchema | None:
        return self.by_id.get(schema_id)

    def latest_of(self, subject: str) -> RegisteredSchema:
        return self.latest[subject]


def frame(schema_id: int, body: bytes) -> bytes:
    return HEADER.pack(MAGIC_BYTE, schema_id) + body


_DISPOSITION = {d.value: d for d in Disposition}  # a dict probe is ~10x cheaper than Enum()
_DIRECTION = {d.value: d for d in Direction}
_STATUS = {s.value: s for s in ev.AccountStatus}
STATE_SUBJECT = "voiceledger.state.AccountState"
ERASURE_SUBJECTS = {"voiceledger.ErasureRequested": "request", "voiceledger.ErasureAnswered": "answer"}
# The AccountState version the kernel's own state writer writes (schemas/avro_kernel.pyx:
# write_state). A newer version goes through the dict until that writer learns it, and
# tests/unit/test_state_writer.py fails until then.
STATE_WRITER_VERSION = 11


def cdr_from_record(d: dict) -> CallDetailRecord:
    return CallDetailRecord(
        d["event_id"], d["carrier_id"], d["call_id"], d["account_id"], d["caller"], d["callee"],
        d["start_at_ms"], d["answer_at_ms"], d["end_at_ms"], _DISPOSITION[d["disposition"]],
        _DIRECTION[d["direction"]], d["trunk"], d["callee_route"], d["revision"],
    )


def _cdr_to_dict(c: CallDetailRecord) -> dict:
    return {
        "event_id": c.event_id, "carrier_id": c.carrier_id, "call_id": c.call_id,
        "account_id": c.account_id, "caller": c.caller, "callee": c.callee,
        "start_at_ms": c.start_at_ms, "answer_at_ms": c.answer_at_ms, "end_at_ms": c.end_at_ms,
        "disposition": c.disposition.value, "direction": c.direction.value, "trunk": c.trunk,
        "callee_route": c.callee_route, "revision": c.revision,
    }


def _opened_from_dict(d: dict) -> AccountOpened:
    return AccountOpened(d["event_id"], d["account_id"], d["occurred_at_ms"], d["currency"], d["plan"],
                         d["billing_mode"], tuple(d["numbers"]), d["time_zone"], d["tax_jurisdiction"], d["country"],
                         d["customer_name"], d["billing_address"], d["customer_tax_id"], d["locale"])


def _opened_to_dict(e: AccountOpened) -> dict:
    return {"event_id": e.event_id, "account_id": e.account_id, "occurred_at_ms": e.occurred_at_ms,
            "currency": e.currency, "plan": e.plan, "billing_mode": e.billing_mode,
            "numbers": list(e.numbers), "time_zone": e.time_zone, "tax_jurisdiction": e.tax_jurisdiction,
            "country": e.country, "customer_name": e.customer_name, "billing_address": e.billing_address,
            "customer_tax_id": e.customer_tax_id, "locale": e.locale}


def _payment_from_dict(d: dict) -> PaymentReceived:
    return PaymentReceived(d["event_id"], d["account_id"], d["received_at_ms"], d["amount_micros"],
                           d["currency"], d["payment_ref"])


def _payment_to_dict(e: PaymentReceived) -> dict:
    return {"event_id": e.event_id, "account_id": e.account_id, "received_at_ms": e.received_at_ms,
            "amount_micros": e.amount_micros, "currency": e.currency, "payment_ref": e.payment_ref}


# --- generic conversion, for the event types that are not on the hot path ------------------


def to_avro(value: Any) -> Any:
    """A dataclass event as the plain data fastavro writes: enums by value, tuples as lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [to_avro(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: to_avro(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_avro_as(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
        origin = typing.get_origin(kind)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_from_avro_as(item, v) for v in value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    if dataclasses.is_dataclass(kind):
        return from_avro(kind, value)
    return value


def from_avro(cls: type, record: dict) -> Any:
    """The inverse of ``to_avro`` for one dataclass type, driven by its type hints."""
    hints = _hints(cls)
    return cls(**{f.name: _from_avro_as(hints[f.name], record[f.name]) for f in dataclasses.fields(cls)})


def _call_rated_to_dict(r: Any) -> dict:
    return {"event_id": r.event_id, "account_id": r.account_id, "occurred_at_ms": r.occurred_at_ms,
            "call_key": r.call_key, "duration_s": r.duration_s, "billed_s": r.billed_s,
            "destination_prefix": r.destination_prefix, "destination_name": r.destination_name,
            "rate_micros_per_minute": r.rate_micros_per_minute, "usage_micros": r.usage_micros,
            "connect_fee_micros": r.connect_fee_micros, "charge_micros": r.charge_micros,
            "currency": r.currency, "rate_card_id": r.rate_card_id, "on_net": r.on_net,
            "band": r.band, "included_s": r.included_s, "revision": r.revision}


def _destination_to_dict(d: Any) -> dict:
    return {"prefix": d.prefix, "name": d.name, "rate_micros_per_minute": d.rate_micros_per_minute,
            "connect_fee_micros": d.connect_fee_micros, "initial_increment_s": d.initial_increment_s,
            "subsequent_increment_s": d.subsequent_increment_s, "minimum_billable_s": d.minimum_billable_s,
            "tiers": [{"from_s": t.from_s, "rate_micros_per_minute": t.rate_micros_per_minute,
                       "increment_s": t.increment_s} for t in d.tiers] if d.tiers else (),
            "band_rates": [{"band": b.band, "rate_micros_per_minute": b.rate_micros_per_minute}
                           for b in d.band_rates] if d.band_rates else (), "max_cost_micros": d.max_cost_micros}


def _card_part_to_dict(e: Any) -> dict:
    return {"event_id": e.event_id, "occurred_at_ms": e.occurred_at_ms, "card_id": e.card_id,
            "currency": e.currency, "valid_from_ms": e.valid_from_ms, "valid_to_ms": e.valid_to_ms,
            "destinations": [_destination_to_dict(d) for d in e.destinations],
            "bands": [{"name": b.name, "weekdays": list(b.weekdays), "start_minute": b.start_minute,
                       "end_minute": b.end_minute} for b in e.bands],
            "part": e.part, "parts": e.parts, "split_at_bands": e.split_at_bands}


def _destination_from_dict(x: dict) -> Any:
    tiers, band_rates = x["tiers"], x["band_rates"]
    return ev.RateCardDestination(
        x["prefix"], x["name"], x["rate_micros_per_minute"], x["connect_fee_micros"], x["initial_increment_s"],
        x["subsequent_increment_s"], x["minimum_billable_s"],
        tuple(ev.RateTier(t["from_s"], t["rate_micros_per_minute"], t["increment_s"]) for t in tiers) if tiers else (),
        tuple(ev.BandRate(b["band"], b["rate_micros_per_minute"]) for b in band_rates) if band_rates else (),
        x["max_cost_micros"])


def _card_part_from_dict(d: dict) -> Any:
    return ev.RateCardPublished(
        d["event_id"], d["occurred_at_ms"], d["card_id"], d["currency"], d["valid_from_ms"], d["valid_to_ms"],
        tuple(map(_destination_from_dict, d["destinations"])),
        tuple(ev.RateBand(b["name"], tuple(b["weekdays"]), b["start_minute"], b["end_minute"]) for b in d["bands"]),
        d["part"], d["parts"], d["split_at_bands"])


# Hand-written converters for the hot types (a CDR is decoded ~100k times a second; every
# rated call is encoded once). ``test_every_event_type_round_trips`` holds them to the schemas.
_FAST_TO_DICT: dict[type, Callable[[Any], dict]] = {
    AccountOpened: _opened_to_dict,
    CallDetailRecord: _cdr_to_dict,
    PaymentReceived: _payment_to_dict,
    ev.CallRated: _call_rated_to_dict,
    ev.RateCardPublished: _card_part_to_dict,  # 200k destinations per deck
}
_FAST_FROM_DICT: dict[type, Callable[[dict], Any]] = {
    AccountOpened: _opened_from_dict,
    CallDetailRecord: cdr_from_record,
    PaymentReceived: _payment_from_dict,
    ev.RateCardPublished: _card_part_from_dict,
}

# Every event type with a schema, by its subject (the record's full name).
EVENT_TYPES: dict[str, type] = {
    f"voiceledger.{cls.__name__}": cls
    for cls in (*ACCOUNT_EVENTS, ev.RateCardPublished, ev.PeriodTicked, ev.CallRated,
                ev.InvoiceIssued, ev.AccountStatusChanged, ev.InterimInvoiceDue, ev.InvoiceNumbered)
}
SUBJECT_OF: dict[type, str] = {cls: subject for subject, cls in EVENT_TYPES.items()}
ACCOUNT_EVENT_SUBJECTS = frozenset(SUBJECT_OF[cls] for cls in ACCOUNT_EVENTS)
# The events topic carries account events and time ticks (a tick goes to every partition).
EVENTS_TOPIC_SUBJECTS = ACCOUNT_EVENT_SUBJECTS | {SUBJECT_OF[ev.PeriodTicked]}
CDR_BATCH_SUBJECT = "voiceledger.CallDetailRecordBatch"


def _event_from_record(subject: str, record: dict) -> Any:
    cls = EVENT_TYPES[subject]
    fast = _FAST_FROM_DICT.get(cls)
    return fast(record) if fast else from_avro(cls, record)


# Journal entries and their postings are written from their attributes (encode_journal_batch):
# their fields are, by name, the JournalEntryPosted record's. So are rated calls' (CallRated).
attribute_records((JournalEntry, Posting, ev.CallRated))


def _entry_to_dict(e: JournalEntry) -> dict:
    return {"entry_id": e.entry_id, "account_id": e.account_id, "kind": e.kind,
            "occurred_at_ms": e.occurred_at_ms, "currency": e.currency,
            "postings": [{"ledger_account": p.ledger_account, "amount_micros": p.amount_micros}
                         for p in e.postings]}


def _entry_from_dict(d: dict) -> JournalEntry:
    return JournalEntry(d["entry_id"], d["account_id"], d["kind"], d["occurred_at_ms"], d["currency"],
                        tuple(Posting(p["ledger_account"], p["amount_micros"]) for p in d["postings"]))


def _unpack(packed: bytes | str, width: int, code: str, what: str) -> PackedTable:
    """A packed table read from a record (ids put in ascending order, as ``pack_dedup_keys`` writes them);
    raises ``DecodeError(code)``."""
    if isinstance(packed, str):  # the field's default, read into an older record: Avro spells bytes defaults as text
        packed = packed.encode("latin-1")
    if len(packed) % (8 * (width + 1)):
        raise DecodeError(code, f"{what} of {len(packed)} bytes is not a whole number of keys")
    return PackedTable.from_bytes(packed, width)


def pack_dedup_keys(keys: Mapping[int, tuple[int, int]]) -> bytes:
    """AccountState v4's dedup_keys: each key id's (event time, content fingerprint). Key ids,
    ascending, then each key's values, as little-endian int64 arrays back to back: how the state
    keeps them in memory too (projections/packed.py), so a state's are written as they are."""
    return PackedTable.of(keys, 2).data


def unpack_dedup_keys(packed: bytes, legacy: dict[str, list[int]]) -> PackedTable:
    """The state's dedup keys from v4's packed form, and from a pre-v4 record's string keys."""
    keys = _unpack(packed, 2, "bad_dedup_keys", "dedup_keys")
    return keys.with_rows({dedup_key_id(key): (at_ms, fingerprint) for key, (at_ms, fingerprint) in legacy.items()})


def pack_call_charges(charges: Mapping[int, tuple[int, int, int, int]]) -> bytes:
    """AccountState v5's call_charges: each call's (charge, included seconds, revision, parties
    fingerprint) by its key id, packed as the dedup keys are."""
    return PackedTable.of(charges, 4).data


def unpack_call_charges(packed: bytes | str) -> PackedTable:
    """The calls' charges from v5's packed form; empty for an older record (none was kept)."""
    return _unpack(packed, 4, "bad_call_charges", "call_charges")


class EventCodec:
    """Encode and decode account events (single or enveloped) and internal state records."""

    def __init__(self, registry: SchemaRegistry | None = None, kernel: AvroKernel | None = None) -> None:
        self.registry = registry or FileSchemaRegistry()
        # Compiled where built, fastavro otherwise (schemas/avro_fast.py); AvroKernel(compiled=False):
        # fastavro only, as on an install without a compiler.
        self._kernel = kernel or AvroKernel()

    def _write(self, subject: str, record: dict, as_dicts: Callable[[], dict] | None = None) -> bytes:
        reg = self.registry.latest_of(subject)
        return self._kernel.write(HEADER.pack(MAGIC_BYTE, reg.schema_id), reg.schema_id, reg.parsed, record, as_dicts)

    def _read(self, value: bytes) -> tuple[str, dict]:
        if len(value) < HEADER.size:
            raise DecodeError("truncated", f"message of {len(value)} bytes has no schema header")
        magic, schema_id = HEADER.unpack_from(value)
        if magic != MAGIC_BYTE:
            raise DecodeError("bad_magic_byte", f"magic byte {magic} is not 0 (not Confluent-framed Avro)")
        writer = self.registry.writer(schema_id)
        if writer is None:
            raise DecodeError("unknown_schema_id", f"schema id {schema_id} is not registered")
        reader = self.registry.latest_of(writer.subject)
        try:
            if reader is writer:  # the newest version: the compiled reader, where built
                record, end = self._kernel.read(value, HEADER.size, schema_id, writer.parsed)
            else:
                record, end = fastavro_read(value, HEADER.size, writer.parsed, reader.parsed)
        except Exception as exc:  # fastavro raises many types for corrupt bodies
            raise DecodeError("avro_decode_failed", f"schema {schema_id}: {type(exc).__name__}: {exc}") from exc
        if end != len(value):
            raise DecodeError("trailing_bytes", f"{len(value) - end} bytes left after the record")
        return writer.subject, record

    # --- events -------------------------------------------------------------------------

    def encode(self, event: Any) -> bytes:
        """Any event with a schema (account events, rate cards, ticks, outputs)."""
        cls = type(event)
        fast = _FAST_TO_DICT.get(cls)
        return self._write(SUBJECT_OF[cls], fast(event) if fast else to_avro(event))

    def encode_cdr_batch(self, records: list[CallDetailRecord]) -> bytes:
        return self._write(CDR_BATCH_SUBJECT, {"records": [_cdr_to_dict(r) for r in records]})

    def decode(self, value: bytes) -> list[AccountEvent]:
        """One message -> its events (an envelope gives many). Raises ``DecodeError``."""
        return self.decode_message(value)[0]

    def decode_message(self, value: bytes) -> tuple[list[AccountEvent], bool]:
        """One message -> (its events, whether it was an envelope). Raises ``DecodeError``."""
        subject, record = self._read(value)
        if subject != CDR_BATCH_SUBJECT and subject not in EVENTS_TOPIC_SUBJECTS:
            raise DecodeError("not_an_account_event", f"{subject} does not belong on the events topic")
        try:
            if subject == CDR_BATCH_SUBJECT:
                return [cdr_from_record(r) for r in record["records"]], True
            return [_event_from_record(subject, record)], False
        except (ValueError, KeyError, TypeError) as exc:
            raise DecodeError("bad_field", f"{subject}: {exc}") from exc

    def decode_event(self, value: bytes) -> Any:
        """One message holding one event of any type with a schema. Raises ``DecodeError``."""
        subject, record = self._read(value)
        if subject not in EVENT_TYPES:
            raise DecodeError("not_an_event", f"{subject} is not an event type")
        try:
            return _event_from_record(subject, record)
        except (ValueError, KeyError, TypeError) as exc:
            raise DecodeError("bad_field", f"{subject}: {exc}") from exc

    # --- rated calls (calls.rated) ----------------------------------------------------------

    def encode_call_rated_batch(self, records: list[ev.CallRated]) -> bytes:
        """A ``CallRatedBatch``: the kernel reads the records' attributes (attribute_records);
        fastavro gets their dicts when the kernel gives up."""
        return self._write("voiceledger.CallRatedBatch", {"records": records},
                           lambda: {"records": [_call_rated_to_dict(r) for r in records]})

    def decode_call_rated_message(self, value: bytes) -> list[Any]:
        """A ``calls.rated`` message: one ``CallRated``, or an envelope of many."""
        subject, record = self._read(value)
        if subject == "voiceledger.CallRated":
            return [from_avro(ev.CallRated, record)]
        if subject == "voiceledger.CallRatedBatch":
            return [from_avro(ev.CallRated, r) for r in record["records"]]
        raise DecodeError("not_a_rated_call", subject)

    # --- dead letters -------------------------------------------------------------------

    def encode_dead_letter(self, *, reason_code: str, reason: str, source_topic: str,
                           source_partition: int, source_offset: int, source_index: int,
                           original: bytes) -> bytes:
        return self._write("voiceledger.DeadLetter", {
            "reason_code": reason_code, "reason": reason, "source_topic": source_topic,
            "source_partition": source_partition, "source_offset": source_offset,
            "source_index": source_index, "original": original,
        })

    def decode_dead_letter(self, value: bytes) -> dict:
        subject, record = self._read(value)
        if subject != "voiceledger.DeadLetter":
            raise DecodeError("not_a_dead_letter", subject)
        return record

    # --- versions of the fold's settings (the settings topic) -----------------------------

    def encode_settings_version(self, record: dict) -> bytes:
        return self._write("voiceledger.SettingsVersion", record)

    def decode_settings_version(self, value: bytes) -> dict:
        subject, record = self._read(value)
        if subject != "voiceledger.SettingsVersion":
            raise DecodeError("not_a_settings_version", subject)
        return record

    def encode_settings_start(self, record: dict) -> bytes:
        return self._write("voiceledger.SettingsStart", record)

    def decode_settings_record(self, value: bytes) -> tuple[str, dict]:
        """("version" or "start", the record): what the settings topic holds."""
        subject, record = self._read(value)
        if subject == "voiceledger.SettingsVersion":
            return "version", record
        if subject == "voiceledger.SettingsStart":
            return "start", record
        raise DecodeError("not_a_settings_version", subject)

    # --- subscribers' erasure requests and their answers (the erasure-requests topic) ------

    def encode_erasure_request(self, record: dict) -> bytes:
        return self._write("voiceledger.ErasureRequested", record)

    def encode_erasure_answer(self, record: dict) -> bytes:
        return self._write("voiceledger.ErasureAnswered", record)

    def decode_erasure_record(self, value: bytes) -> tuple[str, dict]:
        """("request" or "answer", the record); any other record is a ``DecodeError``."""
        subject, record = self._read(value)
        kind = ERASURE_SUBJECTS.get(subject)
        if kind is None:
            raise DecodeError("not_an_erasure_record", subject)
        return kind, record

    # --- journal entries (ledger.entries) ------------------------------------------------

    def encode_journal_entry(self, entry: JournalEntry) -> bytes:
        return self._write("voiceledger.JournalEntryPosted", _entry_to_dict(entry))

    def encode_journal_batch(self, entries: list[JournalEntry]) -> bytes:
        # The kernel reads the entries' attributes (avro_fast.attribute_records): ~3% of a batch
        # went into the dicts; fastavro gets them when the kernel gives up.
        return self._write("voiceledger.JournalEntryBatch", {"entries": entries},
                           lambda: {"entries": [_entry_to_dict(e) for e in entries]})

    def decode_journal_message(self, value: bytes) -> list[JournalEntry]:
        """A ``ledger.entries`` message: one entry, or an envelope of many."""
        subject, record = self._read(value)
        if subject == "voiceledger.JournalEntryPosted":
            return [_entry_from_dict(record)]
        if subject == "voiceledger.JournalEntryBatch":
            return [_entry_from_dict(r) for r in record["entries"]]
        raise DecodeError("not_a_journal_entry", subject)

    # --- account state (the accounts table's values) ------------------------------------

    def encode_state(self, s: AccountState) -> bytes:
        reg = self.registry.latest_of(STATE_SUBJECT)
        if reg.version == STATE_WRITER_VERSION and self._kernel.compiled:
            # Written from the state's attributes (~4x cheaper; a worker writes about one state a
            # CDR with many accounts); the dict below when the kernel is not sure of a value.
            value = write_state(HEADER.pack(MAGIC_BYTE, reg.schema_id), s, s.lifecycle.status._value_,
                                pack_dedup_keys(s.recent_keys), pack_call_charges(s.call_charges))
            if value is not None:
                return value
        return self.encode_state_record(s)

    def encode_state_record(self, s: AccountState) -> bytes:
        """The state through its record's dict: the reference of ``encode_state``'s writer, and
        the only way for any other version of the schema."""
        return self._write(STATE_SUBJECT, {
            "account_id": s.account_id, "opened_event_id": s.opened_event_id, "currency": s.currency,
            "plan": s.plan, "billing_mode": s.billing_mode, "numbers": list(s.numbers),
            "time_zone": s.time_zone, "opened_at_ms": s.opened_at_ms,
            "balance_micros": s.balance_micros, "charged_micros": s.charged_micros,
            "paid_micros": s.paid_micros, "calls_charged": s.calls_charged,
            "newest_event_ms": s.newest_event_ms,
            "positions": {k: list(v) for k, v in s.positions.items()},
            "recent_keys": {}, "dedup_keys": pack_dedup_keys(s.recent_keys),
            "included_used_s": dict(s.included_used_s),
            "status": s.lifecycle.status.value, "status_reason": s.lifecycle.reason,
            "status_since_ms": s.lifecycle.since_ms, "fee_period": s.lifecycle.fee_period,
            "unpaid_period": s.lifecycle.unpaid_period, "held_from": s.lifecycle.held_from,
            "last_activity_ms": s.lifecycle.last_activity_ms, "interim_due": s.lifecycle.interim_due,
            "unbilled": {k: list(v) for k, v in s.billing.unbilled.items()},
            "billed_through": s.billing.billed_through, "invoice_year": s.billing.invoice_year,
            "invoice_seq": s.billing.invoice_seq,
            "recent_invoices": {k: {"issued_at_ms": v[0], "total_micros": v[1], "period": v[2], "kind": v[3]}
                                for k, v in s.billing.recent_invoices.items()},
            "open_disputes": {k: {"invoice_number": v[0], "period": v[1], "opened_at_ms": v[2], "amount_micros": v[3]}
                              for k, v in s.billing.open_disputes.items()},
            "payments_since": s.billing.payments_since, "tax_jurisdiction": s.tax_jurisdiction,
            "pending_plan": s.pending_plan, "pending_plan_from": s.pending_plan_from,
            "call_charges": pack_call_charges(s.call_charges), "country_code": s.country_code,
            "customer_name": s.customer_name, "billing_address": s.billing_address,
            "customer_tax_id": s.customer_tax_id, "card_override": s.card_override,
            "card_override_from_ms": s.card_override_from_ms,
            "earlier_deals": [{"from_ms": f, "card": c} for f, c in s.earlier_deals],
            "dedup_floor_ms": s.dedup_floor_ms, "credit_limit_micros": s.credit_limit_micros, "locale": s.locale,
        })

    def decode_state(self, value: bytes) -> AccountState:
        subject, d = self._read(value)
        assert subject == "voiceledger.state.AccountState", subject
        return AccountState(
            account_id=d["account_id"], opened_event_id=d["opened_event_id"], currency=d["currency"],
            plan=d["plan"], billing_mode=d["billing_mode"], numbers=tuple(d["numbers"]),
            time_zone=d["time_zone"], opened_at_ms=d["opened_at_ms"],
            balance_micros=d["balance_micros"], charged_micros=d["charged_micros"],
            paid_micros=d["paid_micros"], calls_charged=d["calls_charged"],
            newest_event_ms=d["newest_event_ms"],
            positions={k: (v[0], v[1]) for k, v in d["positions"].items()},
            recent_keys=unpack_dedup_keys(d["dedup_keys"], d["recent_keys"]),
            included_used_s=dict(d["included_used_s"]),
            lifecycle=Lifecycle(_STATUS[d["status"]], d["status_reason"], d["status_since_ms"], d["fee_period"],
                                d["unpaid_period"], d["held_from"], d["last_activity_ms"], d["interim_due"]),
            billing=Billing({k: (v[0], v[1]) for k, v in d["unbilled"].items()}, d["billed_through"],
                            d["invoice_year"], d["invoice_seq"],
                            {k: (v["issued_at_ms"], v["total_micros"], v["period"], v["kind"])
                             for k, v in d["recent_invoices"].items()},
                            {k: (v["invoice_number"], v["period"], v["opened_at_ms"], v["amount_micros"])
                             for k, v in d["open_disputes"].items()}, d["payments_since"]),
            tax_jurisdiction=d["tax_jurisdiction"], pending_plan=d["pending_plan"],
            pending_plan_from=d["pending_plan_from"],
            call_charges=unpack_call_charges(d["call_charges"]), country_code=d["country_code"],
            customer_name=d["customer_name"], billing_address=d["billing_address"],
            customer_tax_id=d["customer_tax_id"], card_override=d["card_override"],
            card_override_from_ms=d["card_override_from_ms"],
            earlier_deals=tuple((x["from_ms"], x["card"]) for x in d["earlier_deals"]),
            dedup_floor_ms=d["dedup_floor_ms"], credit_limit_micros=d["credit_limit_micros"], locale=d["locale"],
        )

    # --- invoice numbering (projections/numbering.py) -----------------------------------

    def encode_numbering_batch(self, source_partition: int, items: list[Any]) -> bytes:
        """One events partition's drafts and passed ticks, in its log order."""
        from projections.numbering import Draft

        out = []
        for it in items:
            if isinstance(it, Draft):
                out.append({"kind": "DRAFT", "source_offset": it.source_offset, "reference": it.reference,
                            "account_id": it.account_id, "issuer": it.issuer, "year": it.year,
                            "issued_at_ms": it.issued_at_ms, "tick_ms": 0})
            else:
                out.append({"kind": "TICK", "source_offset": it.source_offset, "reference": "", "account_id": "",
                            "issuer": "", "year": 0, "issued_at_ms": 0, "tick_ms": it.tick_ms})
        return self._write("voiceledger.InvoiceNumberingBatch", {"source_partition": source_partition, "items": out})

    def decode_numbering_batch(self, value: bytes) -> list[Any]:
        from projections.numbering import Draft, TickPassed

        subject, record = self._read(value)
        if subject != "voiceledger.InvoiceNumberingBatch":
            raise DecodeError("not_a_numbering_batch", subject)
        p = record["source_partition"]
        return [Draft(i["reference"], i["account_id"], i["issuer"], i["year"], i["issued_at_ms"], p, i["source_offset"])
                if i["kind"] == "DRAFT" else TickPassed(p, i["source_offset"], i["tick_ms"])
                for i in record["items"]]

    def encode_numbering_state(self, s: Any, drafts: list | None = None, draft_records: int = 0,
                               draft_slot: int = 0) -> bytes:
        """The numbering state's head record, holding ``drafts`` ((epoch, draft) pairs; all of
        them when None). The others are in ``draft_records`` records (streams/worker/numbering_store.py)."""
        from projections.numbering import drafts_of

        return self._write("voiceledger.state.NumberingState", {
            "partitions": s.partitions, "next_offset": s.next_offset,
            "sealed": [{"partition": p, "offset": s.sealed_offset[p], "tick_ms": s.sealed_tick_ms[p]}
                       for p in sorted(s.sealed_offset)],
            "drafts": _numbering_drafts(drafts_of(s) if drafts is None else drafts),
            "last_sequence": dict(s.last_sequence), "draft_records": draft_records, "draft_slot": draft_slot,
        })

    def decode_numbering_state(self, value: bytes) -> tuple[Any, int, int]:
        """(state with the head's drafts, how many draft records hold the rest, their slot)."""
        from projections.numbering import NumberingState

        subject, d = self._read(value)
        assert subject == "voiceledger.state.NumberingState", subject
        s = NumberingState(d["partitions"], d["next_offset"])
        for x in d["sealed"]:
            s.sealed_offset[x["partition"]] = x["offset"]
            s.sealed_tick_ms[x["partition"]] = x["tick_ms"]
        _hold_numbering_drafts(s, d["drafts"])
        s.last_sequence = dict(d["last_sequence"])
        return s, d["draft_records"], d["draft_slot"]

    def encode_numbering_drafts(self, drafts: list) -> bytes:
        return self._write("voiceledger.state.NumberingDrafts", {"drafts": _numbering_drafts(drafts)})

    def decode_numbering_drafts(self, value: bytes, state: Any) -> None:
        """Put the drafts of one draft record into ``state``."""
        subject, d = self._read(value)
        if subject != "voiceledger.state.NumberingDrafts":
            raise DecodeError("wrong_subject", f"a numbering draft record is a {subject}")
        _hold_numbering_drafts(state, d["drafts"])


def _numbering_drafts(drafts: list) -> list[dict]:
    return [{"epoch_ms": epoch, "reference": d.reference, "account_id": d.account_id, "issuer": d.issuer,
             "year": d.year, "issued_at_ms": d.issued_at_ms, "source_partition": d.source_partition,
             "source_offset": d.source_offset} for epoch, d in drafts]


def _hold_numbering_drafts(state: Any, records: list[dict]) -> None:
    from projections.numbering import Draft, hold

    for x in records:
        hold(state, x["epoch_ms"], Draft(x["reference"], x["account_id"], x["issuer"], x["year"], x["issued_at_ms"],
                                         x["source_partition"], x["source_offset"]))

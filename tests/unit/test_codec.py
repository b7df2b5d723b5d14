"""The event contracts: every event round-trips through Confluent-framed Avro, committed bytes
of every schema version still decode with the current reader, and malformed bytes raise a
``DecodeError`` with a reason code (so the worker dead-letters them instead of crashing)."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataclasses import replace

from projections.account import AccountState
from projections.identity import dedup_key_id
from projections.events import AccountOpened, CallDetailRecord, CallRated, Direction, Disposition, PaymentReceived
from projections import events as ev
from projections.rating import RatedCall, call_rated
from schemas.codec import (
    ACCOUNT_EVENT_SUBJECTS,
    EVENT_TYPES,
    REGISTRY_FILE,
    DecodeError,
    EventCodec,
    _call_rated_to_dict,
    pack_call_charges,
    pack_dedup_keys,
    unpack_call_charges,
    unpack_dedup_keys,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "avro"
codec = EventCodec()
text = st.text(max_size=20)
millis = st.integers(0, 2**50)

cdrs = st.builds(CallDetailRecord, text, text, text, text, text, text, millis, st.none() | millis, millis,
                 st.sampled_from(Disposition), st.sampled_from(Direction), text)
events = st.one_of(
    cdrs,
    st.builds(AccountOpened, text, text, millis, st.sampled_from(["USD", "EUR"]), text,
              st.sampled_from(["prepaid", "postpaid"]), st.lists(text, max_size=3).map(tuple), text, text),
    st.builds(PaymentReceived, text, text, millis, st.integers(-2**63, 2**63 - 1), text, text),
)


def strategy_for(kind) -> st.SearchStrategy:
    """Values of a field type as the schemas allow them (longs are 64-bit)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        inner = next(a for a in typing.get_args(kind) if a is not type(None))
        return st.none() | strategy_for(inner)
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(kind)[0]), max_size=3).map(tuple)
    if kind is str:
        return text
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.integers(-2**63, 2**63 - 1)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return st.sampled_from(kind)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return st.builds(kind, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(kind)})
    raise TypeError(kind)


@pytest.mark.parametrize("subject", sorted(EVENT_TYPES))
def test_every_event_type_round_trips(subject):
    """Every event type with a schema: encode, decode, equal (account events and the rest)."""
    cls = EVENT_TYPES[subject]

    @given(strategy_for(cls))
    def round_trip(event):
        value = codec.encode(event)
        assert codec.decode_event(value) == event
        if subject in ACCOUNT_EVENT_SUBJECTS:
            assert codec.decode(value) == [event]

    round_trip()


@given(events)
def test_every_event_round_trips(event):
    assert codec.decode(codec.encode(event)) == [event]


def test_only_account_events_and_ticks_decode_from_the_events_topic():
    tick = ev.PeriodTicked("t", 1, ev.TickKind.HOUR, "2026-10")
    assert codec.decode(codec.encode(tick)) == [tick]  # ticks go to every partition (lifecycle)
    rated = ev.CallRated("c:x/1", "a", 1, "x/1", 1, 60, "1", "US", 1, 1, 0, 1, "USD", "card", False)
    with pytest.raises(DecodeError) as info:
        codec.decode(codec.encode(rated))
    assert info.value.code == "not_an_account_event"


@given(cdrs.map(lambda c: replace(c, revision=c.start_at_ms % 5)), strategy_for(RatedCall))
def test_a_call_rated_record_is_the_reference_record_and_writes_as_its_dict(cdr, rated):
    """The processor builds each CallRated record by position (issue 22), and the kernel writes
    it from its attributes: it must be the record spelled out field by field (the dataclass's own
    keyword ``__init__``), and its bytes what the reference dict's are."""
    record = call_rated(cdr, rated)
    reference = object.__new__(CallRated)
    CallRated.__dataclass_init__(
        reference, event_id=f"c:{cdr.carrier_id}/{cdr.call_id}", account_id=cdr.account_id,
        occurred_at_ms=cdr.start_at_ms, call_key=f"{cdr.carrier_id}/{cdr.call_id}", duration_s=rated.duration_s,
        billed_s=rated.billed_s, destination_prefix=rated.destination_prefix, destination_name=rated.destination_name,
        rate_micros_per_minute=rated.rate_micros_per_minute, usage_micros=rated.usage_micros,
        connect_fee_micros=rated.connect_fee_micros, charge_micros=rated.charge_micros, currency=rated.currency,
        rate_card_id=rated.rate_card_id, on_net=rated.on_net, band=rated.band, included_s=rated.included_s,
        revision=cdr.revision)
    assert record == reference and _call_rated_to_dict(record) == _call_rated_to_dict(reference)
    as_dict = codec._write("voiceledger.CallRatedBatch", {"records": [_call_rated_to_dict(reference)]})
    assert codec.encode_call_rated_batch([record]) == as_dict
    assert codec.decode_call_rated_message(as_dict) == [record]


@given(st.lists(cdrs, max_size=10))
def test_envelope_round_trips(records):
    decoded, enveloped = codec.decode_message(codec.encode_cdr_batch(records))
    assert decoded == records and enveloped


def test_confluent_framing_magic_byte_and_schema_id():
    value = codec.encode(PaymentReceived("p", "a", 1, 2, "USD"))
    assert value[0] == 0 and int.from_bytes(value[1:5], "big") == 4


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.bin")), ids=lambda p: p.name)
def test_committed_bytes_of_every_version_decode_with_current_reader(path):
    value = path.read_bytes()
    if path.name.startswith("JournalEntry"):
        events = codec.decode_journal_message(value)
    elif path.name.startswith("CallDetailRecordBatch"):
        events = codec.decode(value)
    elif path.name.startswith("CallRatedBatch"):
        events = codec.decode_call_rated_message(value)
    elif path.name.startswith("AccountState"):
        events = [codec.decode_state(value)]
    elif path.name.startswith("SettingsVersion"):
        version = codec.decode_settings_version(value)
        assert [t["starts_ms"] is None for t in version["terms"]] == [True, False]
        if ".v2." in path.name:  # v2 keeps the settings whole
            from streams.config.settings_record import unpacked

            assert unpacked(version["fold_settings"]).invoice_issuer == "VL"
        return  # a version names no account
    elif path.name.startswith("SettingsStart"):
        kind, start = codec.decode_settings_record(value)
        assert (kind, start["partition"], start["first_offset"]) == ("start", 3, 120_044)
        return  # names no account
    elif path.name.startswith("Erasure"):
        kind, record = codec.decode_erasure_record(value)
        assert (kind, record["account_id"]) == ("request" if "Requested" in path.name else "answer", "acct-1")
        return  # not an account event
    elif path.name.startswith("InvoiceNumberingBatch"):
        events = codec.decode_numbering_batch(value)
        assert [type(e).__name__ for e in events] == ["Draft", "TickPassed"]
    else:
        events = [codec.decode_event(value)]
    assert events
    assert all(getattr(e, "account_id", "acct-1") == "acct-1" for e in events)


def test_v1_account_opened_reads_with_the_v2_default():
    (opened,) = codec.decode((FIXTURES / "AccountOpened.v1.bin").read_bytes())
    assert opened.tax_jurisdiction == "" and opened.time_zone == "America/New_York"
    (v2,) = codec.decode((FIXTURES / "AccountOpened.v2.bin").read_bytes())
    assert v2.tax_jurisdiction == "BE"


def test_v1_cdr_reads_with_an_empty_route_and_v2_keeps_its_sealed_fields():
    """R32: a v2 CDR carries sealed caller and callee and the clear route that rating reads."""
    (old,) = codec.decode((FIXTURES / "CallDetailRecord.v1.bin").read_bytes())
    assert old.callee_route == "" and old.dialled == old.callee == "+442071234567"
    (new,) = codec.decode((FIXTURES / "CallDetailRecord.v2.bin").read_bytes())
    assert new.callee.startswith("vlseal1:") and new.callee_route == "+442071"
    assert new.dialled == "+442071"
    batch = codec.decode((FIXTURES / "CallDetailRecordBatch.v2.bin").read_bytes())
    assert [c.dialled for c in batch] == ["+442071", "+442071234567"]


def test_every_registered_schema_version_has_a_fixture_or_is_internal():
    manifest = json.loads(REGISTRY_FILE.read_text())
    for entry in manifest["schemas"]:
        if entry["subject"].startswith("voiceledger.state.") or entry["subject"] == "voiceledger.DeadLetter":
            continue
        name = entry["subject"].split(".")[-1] + f".v{entry['version']}.bin"
        assert (FIXTURES / name).exists(), f"no encoded fixture for {name}"


def test_schema_ids_are_unique_and_files_are_never_reused():
    manifest = json.loads(REGISTRY_FILE.read_text())
    ids = [e["id"] for e in manifest["schemas"]]
    files = [e["file"] for e in manifest["schemas"]]
    assert len(ids) == len(set(ids)) and len(files) == len(set(files))


@pytest.mark.parametrize("value,code", [
    (b"", "truncated"),
    (b"\x01\x00\x00\x00\x02abc", "bad_magic_byte"),
    (b"\x00\x00\x00\x03\xe7abc", "unknown_schema_id"),
    (b"\x00\x00\x00\x00\x02\xff\xff\xff", "avro_decode_failed"),
    (codec.encode(PaymentReceived("p", "a", 1, 2, "USD")) + b"x", "trailing_bytes"),
])
def test_malformed_values_raise_decode_error_with_reason(value, code):
    with pytest.raises(DecodeError) as info:
        codec.decode(value)
    assert info.value.code == code


def test_account_state_round_trips():
    state = AccountState("a", "o", "USD", "p", "prepaid", ("1",), "UTC", 5, balance_micros=-7,
                         charged_micros=7, positions={"t/0": (3, 1)},
                         recent_keys={dedup_key_id("c:x"): (9, -5), -2**63: (2**62, 2**63 - 1)})
    assert codec.decode_state(codec.encode_state(state)) == state


def test_a_state_at_the_dedup_bound_fits_a_record_the_topics_take():
    """Every part rewrites an account's state whole; a state a broker refuses would stop the
    worker at every restart. At the highest ``dedup_max_keys`` a setting may give, with every
    key's call charged and the account's numbers at their bounds, the record fits the 8 MiB that
    the producers send and the topics are made to take (streams/kafka/topics.py)."""
    from projections.validation import LIST_ITEMS_MAX, TEXT_CHARS_MAX
    from streams.config.settings import Settings
    from streams.kafka.topics import RECORD_BYTES_MAX

    n = next(f.metadata["high"] for f in dataclasses.fields(Settings) if f.name == "dedup_max_keys")
    widest = -2**63  # ten varint bytes, and eight packed like any other
    state = AccountState("a" * TEXT_CHARS_MAX, "o" * TEXT_CHARS_MAX, "USD", "p", "prepaid",
                         ("\u20ac" * TEXT_CHARS_MAX,) * LIST_ITEMS_MAX, "UTC", 5,
                         recent_keys={widest + i: (widest, widest) for i in range(n)},
                         call_charges={widest + i: (widest, widest, widest, widest) for i in range(n)})
    size = len(codec.encode_state(state))
    assert 64 * n < size <= RECORD_BYTES_MAX


def test_v1_account_state_in_an_old_changelog_reads_with_the_v2_default():
    state = codec.decode_state((FIXTURES / "AccountState.v1.bin").read_bytes())
    assert state.included_used_s == {} and state.balance_micros == -20_000
    assert state.recent_keys == {dedup_key_id("c:carrier-a/c-1"): (1_790_812_800_000, 42)}


def test_v4_state_keeps_dedup_keys_packed_and_a_v3_record_still_reads_its_string_keys():
    v3 = codec.decode_state((FIXTURES / "AccountState.v3.bin").read_bytes())
    v4 = codec.decode_state((FIXTURES / "AccountState.v4.bin").read_bytes())
    assert v3.recent_keys == v4.recent_keys == {dedup_key_id("c:carrier-a/c-1"): (1_790_812_800_000, 42),
                                                dedup_key_id("p:pay-1"): (1_790_812_860_000, -7)}
    assert v3 == v4
    # 24 bytes a key: the v4 record of 1,000 keys is ~24 KB, where v3's map took ~49 KB.
    many = replace(v4, recent_keys={dedup_key_id(f"c:carrier-a/carrier-a-{n:09d}"): (n, -n) for n in range(1000)})
    assert 24_000 <= len(codec.encode_state(many)) < 25_000
    assert codec.decode_state(codec.encode_state(many)) == many


def test_a_packed_dedup_field_of_a_broken_length_is_a_decode_error():
    with pytest.raises(DecodeError) as info:
        unpack_dedup_keys(b"\0" * 25, {})
    assert info.value.code == "bad_dedup_keys"


def test_rated_call_envelope_v2_carries_band_and_included_seconds_and_v1_reads_with_defaults():
    (new,) = codec.decode_call_rated_message((FIXTURES / "CallRatedBatch.v2.bin").read_bytes())
    assert (new.band, new.included_s) == ("peak", 60)
    (old,) = codec.decode_call_rated_message((FIXTURES / "CallRatedBatch.v1.bin").read_bytes())
    assert (old.band, old.included_s) == ("standard", 0)


def test_v3_cdr_carries_its_revision_and_older_ones_read_as_revision_0():
    (old,) = codec.decode((FIXTURES / "CallDetailRecord.v2.bin").read_bytes())
    (new,) = codec.decode((FIXTURES / "CallDetailRecord.v3.bin").read_bytes())
    assert (old.revision, new.revision) == (0, 2)
    (rated,) = codec.decode_call_rated_message((FIXTURES / "CallRated.v3.bin").read_bytes())
    assert rated.revision == 2
    (opened,) = codec.decode((FIXTURES / "AccountOpened.v3.bin").read_bytes())
    assert opened.country == "BE"


def test_v5_state_keeps_the_calls_charges_and_a_v4_record_reads_with_none():
    v4 = codec.decode_state((FIXTURES / "AccountState.v4.bin").read_bytes())
    v5 = codec.decode_state((FIXTURES / "AccountState.v5.bin").read_bytes())
    assert v4.call_charges == {} and v4.country_code == ""
    assert v5.call_charges == {dedup_key_id("c:carrier-a/c-1"): (20_000, 0, 2, 7)} and v5.country_code == "32"
    assert codec.decode_state(codec.encode_state(v5)) == v5
    with pytest.raises(DecodeError) as info:
        unpack_call_charges(b"\0" * 41)
    assert info.value.code == "bad_call_charges"


def _array_packing(table: dict[int, tuple[int, ...]]) -> bytes:
    """The packing before issue 22 (array's), ids ascending (projections/packed.py), kept as the
    reference of the faster one."""
    table = dict(sorted(table.items()))
    import sys
    from array import array
    from itertools import chain

    ids, values = array("q", table), array("q", chain.from_iterable(table.values()))
    if sys.byteorder != "little":
        ids.byteswap()
        values.byteswap()
    return ids.tobytes() + values.tobytes()


_INT64 = st.integers(-2**63, 2**63 - 1)


@given(keys=st.dictionaries(_INT64, st.tuples(_INT64, _INT64), max_size=60),
       charges=st.dictionaries(_INT64, st.tuples(_INT64, _INT64, _INT64, _INT64), max_size=60))
def test_packed_dedup_keys_and_charges_are_the_reference_bytes_and_read_back(keys, charges):
    """In whatever order a map was written (a rebuild folds in other batches than the worker),
    its bytes are the same."""
    assert pack_dedup_keys(keys) == _array_packing(keys)
    assert pack_call_charges(charges) == _array_packing(charges)
    assert unpack_dedup_keys(pack_dedup_keys(keys), {}) == keys
    assert unpack_call_charges(pack_call_charges(charges)) == charges

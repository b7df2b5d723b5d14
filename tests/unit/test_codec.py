"""The event contracts: every event round-trips through Confluent-framed Avro, committed bytes
of every schema version still decode with the current reader, and malformed bytes raise a
``DecodeError`` with a reason code (so the worker dead-letters them instead of crashing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.account import AccountState
from projections.events import AccountOpened, CallDetailRecord, Direction, Disposition, PaymentReceived
from schemas.codec import REGISTRY_FILE, DecodeError, EventCodec

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "avro"
codec = EventCodec()
text = st.text(max_size=20)
millis = st.integers(0, 2**50)

cdrs = st.builds(CallDetailRecord, text, text, text, text, text, text, millis, st.none() | millis, millis,
                 st.sampled_from(Disposition), st.sampled_from(Direction), text)
events = st.one_of(
    cdrs,
    st.builds(AccountOpened, text, text, millis, st.sampled_from(["USD", "EUR"]), text,
              st.sampled_from(["prepaid", "postpaid"]), st.lists(text, max_size=3).map(tuple), text),
    st.builds(PaymentReceived, text, text, millis, st.integers(-2**63, 2**63 - 1), text, text),
)


@given(events)
def test_every_event_round_trips(event):
    assert codec.decode(codec.encode(event)) == [event]


@given(st.lists(cdrs, max_size=10))
def test_envelope_round_trips(records):
    decoded, enveloped = codec.decode_message(codec.encode_cdr_batch(records))
    assert decoded == records and enveloped


def test_confluent_framing_magic_byte_and_schema_id():
    value = codec.encode(PaymentReceived("p", "a", 1, 2, "USD"))
    assert value[0] == 0 and int.from_bytes(value[1:5], "big") == 4


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.bin")), ids=lambda p: p.name)
def test_committed_bytes_of_every_version_decode_with_current_reader(path):
    if path.name.startswith("JournalEntry"):
        events = codec.decode_journal_message(path.read_bytes())
    else:
        events = codec.decode(path.read_bytes())
    assert events and all(e.account_id == "acct-1" for e in events)


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
                         charged_micros=7, positions={"t/0": (3, 1)}, recent_keys={"c:x": (9, -5)})
    assert codec.decode_state(codec.encode_state(state)) == state

"""The kernel's own AccountState writer (``schemas/avro_kernel.pyx: write_state``) against the
reference: the state's record dict written by fastavro (``EventCodec.encode_state_record`` with
the kernel off). Byte for byte, on states a fold made and on generated ones with every field
away from its default (issue 22: the changelog, and so a rebuild, must not change by a byte)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.account import AccountState
from projections.events import AccountStatus
from projections.invoicing import Billing
from projections.lifecycle import Lifecycle
from schemas import avro_fast
from schemas.avro_fast import AvroKernel
from schemas.codec import STATE_SUBJECT, STATE_WRITER_VERSION, EventCodec

KERNEL = EventCodec()
REFERENCE = EventCodec(kernel=AvroKernel(compiled=False))

text = st.text(max_size=12)
long = st.integers(-2**63, 2**63 - 1)
small = st.integers(-1000, 10**12)


def test_the_writer_knows_the_newest_state_version():
    """A new AccountState version must teach write_state its fields (or the states of every
    worker go back to the slower dict path without anyone noticing)."""
    newest = max(int(p.name.split(".v")[1].split(".")[0]) for p in Path("schemas/avro").glob("AccountState.v*.avsc"))
    assert KERNEL.registry.latest_of(STATE_SUBJECT).version == newest == STATE_WRITER_VERSION
    fields = [f["name"] for f in json.loads(Path(f"schemas/avro/AccountState.v{newest}.avsc").read_text())["fields"]]
    assert len(fields) == 46 and fields[-1] == "locale"


def test_the_kernel_writes_states_itself():
    """Not only through its fallback: the writer answers for a plain state (when built)."""
    if not avro_fast.COMPILED:
        return  # the install could not build the kernel: encode_state is the reference itself
    state = AccountState("a-1", "o-1", "EUR", "basic", "prepaid", ("+3225550000",), "Europe/Brussels", 1)
    written = avro_fast.write_state(b"\x00\x00\x00\x00\x01", state, state.lifecycle.status.value, b"", b"")
    assert written is not None and written[5:] == REFERENCE.encode_state_record(state)[5:]


states = st.builds(
    AccountState,
    account_id=text, opened_event_id=text, currency=st.sampled_from(["EUR", "USD", "JPY"]), plan=text,
    billing_mode=st.sampled_from(["prepaid", "postpaid"]), numbers=st.lists(text, max_size=3).map(tuple),
    time_zone=text, opened_at_ms=small, balance_micros=long, charged_micros=long, paid_micros=long,
    calls_charged=small, newest_event_ms=small,
    positions=st.dictionaries(text, st.tuples(small, small), max_size=3),
    recent_keys=st.dictionaries(long, st.tuples(small, long), max_size=5),
    included_used_s=st.dictionaries(text, small, max_size=3),
    lifecycle=st.builds(Lifecycle, st.sampled_from(list(AccountStatus)), text, small, text, text, text, small,
                        st.booleans()),
    billing=st.builds(Billing, st.dictionaries(text, st.tuples(small, long), max_size=3), text,
                      st.integers(-2**31, 2**31 - 1), small,
                      st.dictionaries(text, st.tuples(small, long, text, text), max_size=2),
                      st.dictionaries(text, st.tuples(text, text, small, long), max_size=2), long),
    tax_jurisdiction=text, pending_plan=text, pending_plan_from=text,
    call_charges=st.dictionaries(long, st.tuples(long, small, small, long), max_size=4),
    country_code=text, customer_name=text, billing_address=text, customer_tax_id=text, card_override=text,
    card_override_from_ms=small, earlier_deals=st.lists(st.tuples(small, text), max_size=2).map(tuple),
    dedup_floor_ms=small, credit_limit_micros=st.integers(-1, 10**15), locale=text,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states)
def test_generated_states_are_written_as_the_reference_writes_them(state):
    assert KERNEL.encode_state(state) == REFERENCE.encode_state_record(state)
    assert KERNEL.decode_state(KERNEL.encode_state(state)) == state


def test_values_the_writer_is_not_sure_of_go_through_the_dict():
    """A str subclass, a bool where a long goes, an int where a boolean goes, an int past 64
    bits: the writer gives up, and the result (bytes or error) is the reference's."""
    class Name(str):
        pass

    base = AccountState("a-1", "o-1", "EUR", "basic", "prepaid", ("+3225550000",), "UTC", 1)
    for state in (replace(base, plan=Name("basic")), replace(base, balance_micros=True),
                  replace(base, lifecycle=replace(base.lifecycle, interim_due=1))):
        assert avro_fast.write_state(b"", state, "ACTIVE", b"", b"") is None
        assert KERNEL.encode_state(state) == REFERENCE.encode_state_record(state)
    too_big = replace(base, balance_micros=2**63)
    assert avro_fast.write_state(b"", too_big, "ACTIVE", b"", b"") is None
    errors = []
    for codec in (KERNEL, REFERENCE):
        try:
            codec.encode_state(too_big)
        except Exception as exc:  # noqa: BLE001 - the same refusal either way is what is asserted
            errors.append(type(exc))
    assert len(errors) == 2 and errors[0] == errors[1]

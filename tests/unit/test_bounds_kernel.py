"""The bounds check in C (projections/slots_kernel.pyx: ``bounds_clear``, issue 22) against its
reference, the walk in Python (projections/validation.py: ``walk_bounds``).

Every event from outside passes ``check_bounds`` first: a time, an amount, a text or a list
out of its bound is a dead letter with its reason (``time_out_of_range``, ``field_too_long``...).
The compiled check may only say "surely within"; whatever else, the walk decides. So the two
must agree on every event: the same error (code and message), or none. The events here are
generated around each bound, with values of the wrong type too (an ``__init__`` checks no
types, and the reference's verdict on them must stand).
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from projections import validation
from projections.events import (AccountOpened, AccountStatusChanged, CallDetailRecord, Disposition,
                                PaymentReceived)
from projections.validation import (AMOUNT_MAX_MICROS, LIST_ITEMS_MAX, TEXT_CHARS_MAX, TIME_MAX_MS, TIME_MIN_MS,
                                    InvalidEvent, check_bounds, walk_bounds)

T0 = 1_790_812_800_000


class Text(str):
    """A str of another type: the C check leaves it to the walk."""


TIMES = st.sampled_from([TIME_MIN_MS - 1, TIME_MIN_MS, T0, TIME_MAX_MS - 1, TIME_MAX_MS, 2**63, -(2**63) - 1,
                         2**80, 1.79e12, True])
AMOUNTS = st.sampled_from([0, 1, -1, AMOUNT_MAX_MICROS, AMOUNT_MAX_MICROS + 1, -AMOUNT_MAX_MICROS,
                           -AMOUNT_MAX_MICROS - 1, 2**64, 12.5, False])
TEXTS = st.one_of(st.sampled_from([0, 1, TEXT_CHARS_MAX, TEXT_CHARS_MAX + 1]).map(lambda n: "x" * n),
                  st.sampled_from([TEXT_CHARS_MAX, TEXT_CHARS_MAX + 1]).map(lambda n: Text("é" * n)),
                  st.text(max_size=4))
NUMBERS = st.one_of(st.sampled_from([("1", "x" * TEXT_CHARS_MAX), ("1", "x" * (TEXT_CHARS_MAX + 1)), ("1", 2)]),
                    st.lists(TEXTS, max_size=3).map(tuple),
                    st.sampled_from([LIST_ITEMS_MAX, LIST_ITEMS_MAX + 1]).map(lambda n: ("1",) * n),
                    st.lists(TEXTS, max_size=2))  # a list, not a tuple


def outcome(check, event: object) -> tuple | None:  # noqa: ANN001 - either check
    try:
        check(event)
    except InvalidEvent as exc:
        return "invalid", exc.code, str(exc)
    except Exception as exc:  # noqa: BLE001 - a value of the wrong type: the walk's own error
        return type(exc).__name__, str(exc)
    return None


# An event within every bound, of each kind the tests build; each example changes one to three
# of its fields to a value near a bound (or of the wrong type), so that most examples have one
# field to judge and the rest clear.
VALID = (
    CallDetailRecord("e1", "carrier-a", "k1", "a1", "+15550001234", "+447700900123", T0, T0 + 1_000, T0 + 61_000,
                     Disposition.ANSWERED, trunk="t1", callee_route="+44"),
    PaymentReceived("p1", "a1", T0, 5_000_000, "USD", "ref"),
    AccountStatusChanged("s1", "a1", T0, "active", "suspended", "unpaid", ("+15550001234",), T0),
    AccountOpened("o1", "a1", T0, "USD", "basic", "prepaid", ("+15550001234",), "Europe/Paris"),
)
BY_KIND = {"time": TIMES, "amount": AMOUNTS, "text": TEXTS, "list": NUMBERS,
           "zone": st.sampled_from(["UTC", "Mars/Olympus", "x" * 2000])}


@st.composite
def events(draw) -> object:  # noqa: ANN001 - Hypothesis's draw
    event = draw(st.sampled_from(VALID))
    bounded = [(name, kind) for name, kind in validation._kinds(type(event)) if kind]
    changed = draw(st.lists(st.sampled_from(bounded), min_size=1, max_size=3, unique=True))
    return dataclasses.replace(event, **{name: draw(BY_KIND[kind]) for name, kind in changed})


@settings(max_examples=400, deadline=None)
@given(events())
def test_the_check_in_c_gives_the_walks_verdict_on_every_event(event):
    assert outcome(check_bounds, event) == outcome(walk_bounds, event)


def test_every_valid_event_is_cleared_and_passes():
    for event in VALID:
        assert outcome(check_bounds, event) is None
        clear = validation._clear_of(type(event))
        assert clear is None or clear(event)


@pytest.mark.parametrize("kind", [CallDetailRecord, PaymentReceived, AccountStatusChanged])
def test_the_hot_event_types_are_checked_in_c(kind):
    assert validation.bounds_clear is not None, "the slots kernel is not built: run setup.py build_ext"
    assert validation._clear_of(kind) is not None


def test_an_event_with_a_time_zone_is_walked():
    assert validation._clear_of(AccountOpened) is None  # a zone is a look-up the C check cannot do


def test_the_c_check_clears_an_event_within_its_bounds_and_nothing_near_one():
    call = CallDetailRecord("e1", "carrier-a", "k1", "a1", "+15550001234", "+447700900123", T0, T0 + 1_000,
                            T0 + 61_000, Disposition.ANSWERED)
    clear = validation._clear_of(CallDetailRecord)
    assert clear(call)
    for change in ({"start_at_ms": TIME_MAX_MS}, {"answer_at_ms": TIME_MIN_MS - 1}, {"answer_at_ms": None},
                   {"callee": "9" * (TEXT_CHARS_MAX + 1)}, {"trunk": Text("t")}):
        assert clear(dataclasses.replace(call, **change)) is (change == {"answer_at_ms": None})
    assert not clear(PaymentReceived("p", "a1", T0, 1, "USD", "r"))  # another type: not its offsets

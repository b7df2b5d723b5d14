"""Packed tables (``projections/packed.py``), an account's dedup keys and calls' charges (issue 22).

The kernel (``projections/packed_kernel.pyx``) must give its plain-Python reference's bytes for
every operation, on generated tables; a ``PackedTable`` must answer as the dict it replaces; and an
``Overlay``'s merge must be the dict a fold used to copy and write into."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections import packed
from projections import packed_kernel as kernel  # built by `make` (setup.py), as the tests expect
from projections.packed import EMPTY_KEYS, Overlay, PackedTable

I64 = st.integers(-2**63, 2**63 - 1)
SMALL = st.integers(-50, 50)  # ids that collide, so that updates replace rows
WIDTHS = st.sampled_from([1, 2, 4])


def tables(width: int, ids=I64):  # noqa: ANN001, ANN201 - a strategy of dicts of ``width``-long rows
    return st.dictionaries(ids, st.tuples(*[I64] * width), max_size=40)


def _raw(table: dict[int, tuple[int, ...]]) -> bytes:
    """A table's bytes in the dict's own order (as a record before this change could hold them)."""
    from array import array

    a = array("q", list(table))
    for row in table.values():
        a.extend(row)
    return a.tobytes()


def test_the_kernel_is_built_and_is_what_the_tables_use():
    """`make` builds it (setup.py); a build without it would pass every other test, slower."""
    assert packed.find is kernel.find and packed.union is kernel.union


@settings(max_examples=300, deadline=None)
@given(data=st.data(), width=WIDTHS)
def test_every_operation_of_the_kernel_gives_the_references_bytes(data, width):
    ids = data.draw(st.sampled_from([I64, SMALL]))
    old, updates = data.draw(tables(width, ids)), data.draw(tables(width, ids))
    base = packed.union_reference(b"", width, old)
    assert kernel.union(b"", width, old) == base
    assert kernel.union(base, width, updates) == packed.union_reference(base, width, updates)
    raw = _raw(old)
    assert kernel.canonical(raw, width) == packed.canonical_reference(raw, width) == base
    low = data.draw(I64)
    assert kernel.kept(base, width, low) == packed.kept_reference(base, width, low)
    other = packed.union_reference(b"", width, updates)
    assert kernel.restricted(base, width, other, width) == packed.restricted_reference(base, width, other, width)
    assert kernel.first_min(base, width) == packed.first_min_reference(base, width)
    for key in [*old, *updates, data.draw(I64), 2**63, -2**63 - 1]:
        assert kernel.find(base, width, key) == packed.find_reference(base, width, key)


def test_an_id_given_twice_reads_as_its_last_row_as_a_dict_would():
    raw = _raw({3: (1, 1), 1: (2, 2)})  # ids 3, 1; rows a, b
    twice = raw[:8] + raw[:8] + raw[8:16] + raw[16:] + raw[16:32]  # ids 3, 3, 1; rows a, b, a
    assert kernel.canonical(twice, 2) == packed.canonical_reference(twice, 2)
    assert PackedTable(kernel.canonical(twice, 2), 2) == {3: (2, 2), 1: (1, 1)}


@pytest.mark.parametrize("updates", [{1: (2, 2**63)}, {2**63: (1, 1)}, {1: (2,)}, {1.0: (2, 3)}, {1: (2, 3.0)},
                                     {1: (2, "3")}])
def test_what_cannot_be_packed_is_refused_alike(updates):
    outcomes = []
    for union in (kernel.union, packed.union_reference):
        try:
            outcomes.append(union(b"", 2, updates))
        except (OverflowError, TypeError, ValueError) as exc:
            outcomes.append(type(exc))
    assert outcomes[0] == outcomes[1] and isinstance(outcomes[0], type)


def test_a_broken_length_is_refused():
    with pytest.raises(ValueError):
        PackedTable(b"\0" * 25, 2)
    with pytest.raises(ValueError):
        kernel.find(b"\0" * 25, 2, 1)


@settings(max_examples=200, deadline=None)
@given(table=tables(2), probe=I64)
def test_a_packed_table_answers_as_the_dict(table, probe):
    t = PackedTable.of(table, 2)
    assert len(t) == len(table) and dict(t.items()) == table and t == table and table == t
    assert list(t) == sorted(table) and t.values() == [table[k] for k in sorted(table)]
    assert t.get(probe) == table.get(probe) and (probe in t) == (probe in table)
    assert PackedTable.of(dict(reversed(table.items())), 2).data == t.data, "ids ascending: one form a map"
    if table:
        key = next(iter(table))
        assert t[key] == table[key]
        assert t.first_min() == min(v[0] for v in table.values())
        assert t != {**table, key: (0, 1) if table[key] != (0, 1) else (1, 0)}
    with pytest.raises(KeyError):
        t[2**64]  # noqa: B018 - past 64 bits: held by no table


@settings(max_examples=200, deadline=None)
@given(old=tables(2, SMALL), writes=st.lists(st.tuples(SMALL, st.tuples(I64, I64)), max_size=30))
def test_an_overlay_merges_into_the_dict_a_fold_wrote(old, writes):
    overlay, reference = Overlay(PackedTable.of(old, 2)), dict(old)
    for key, row in writes:
        assert overlay.get(key) == reference.get(key)
        overlay[key] = row
        reference[key] = row
        assert len(overlay) == len(reference) and overlay[key] == row
    assert overlay.table() == reference
    assert overlay.table().data == PackedTable.of(reference, 2).data


def test_an_overlay_written_nothing_gives_back_its_very_table():
    base = PackedTable.of({1: (2, 3)}, 2)
    assert Overlay(base).table() is base and Overlay(EMPTY_KEYS).table() is EMPTY_KEYS

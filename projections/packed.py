"""An account's dedup keys and calls' charges, kept packed: tables of 64-bit ids to rows of 64-bit ints.

Why (issue 22): every batch part that touches an account copied its two largest maps (a dedup
key's (time, fingerprint) and a call's (charge, included seconds, revision, parties)), trimmed
them, compared them with the old ones and packed them again for the changelog. With ~30 keys an
account that was ~15 us of the ~40 us a part pays per account it touches (three Python objects a
key, scattered in memory, each touched four times), thousands of keys for a busy account, and a
part touches most accounts once or twice when there are many.
The changelog already keeps each map as two little-endian int64 arrays, the ids then the rows
(``schemas/codec.py: pack_dedup_keys``); this keeps it in that form in memory too, ids ascending:

- ``PackedTable``: the immutable map an ``AccountState`` holds, read by binary search;
- ``Overlay``: what a fold writes during a part, over the state's table, merged into a new
  table once, when the part ends (``_Fold.finish``).

A state so costs no Python object a key; writing it to the changelog is writing these bytes. The
ids are in ascending order, so two equal maps are equal bytes, whatever order they were written in
(a rebuild folds in other batches than the live worker).

The operations on the bytes are here in plain Python, the reference; ``packed_kernel.pyx`` does
the same in C where built (``tests/unit/test_packed.py`` holds the two equal on generated tables).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping

LITTLE = sys.byteorder == "little"


def _arrays(data: bytes, width: int) -> tuple[array, array]:
    a = array("q")
    a.frombytes(data)
    if not LITTLE:
        a.byteswap()
    n = len(a) // (width + 1)
    return a[:n], a[n:]


def _bytes(ids: list[int] | array, rows: list[int] | array) -> bytes:
    a = array("q", ids)
    a.extend(rows)
    if not LITTLE:
        a.byteswap()
    return a.tobytes()


def find_reference(data: bytes, width: int, key: int) -> tuple[int, ...] | None:
    """The row of ``key``, or None."""
    ids, rows = _arrays(data, width)
    i = bisect_left(ids, key)
    if i == len(ids) or ids[i] != key:
        return None
    return tuple(rows[i * width:(i + 1) * width])


def canonical_reference(data: bytes, width: int) -> bytes:
    """The same map with its ids in ascending order; of an id given twice, the last row (as
    ``dict(zip(ids, rows))`` reads it)."""
    ids, rows = _arrays(data, width)
    table = {k: rows[i * width:(i + 1) * width] for i, k in enumerate(ids)}
    order = sorted(table)
    return _bytes(order, [v for k in order for v in table[k]])


def union_reference(data: bytes, width: int, updates: dict[int, tuple[int, ...]]) -> bytes:
    """The map with ``updates`` written over it (a row given for an id it holds replaces that row)."""
    for row in updates.values():
        if len(row) != width:
            raise ValueError(f"a row of {len(row)} values, not {width}")
    ids, rows = _arrays(data, width)
    table = {k: tuple(rows[i * width:(i + 1) * width]) for i, k in enumerate(ids)}
    table.update(updates)
    order = sorted(table)
    return _bytes(order, [v for k in order for v in table[k]])


def kept_reference(data: bytes, width: int, low: int) -> bytes:
    """The rows whose first value is at least ``low`` (a dedup key's time)."""
    ids, rows = _arrays(data, width)
    keep = [i for i in range(len(ids)) if rows[i * width] >= low]
    return _bytes([ids[i] for i in keep], [v for i in keep for v in rows[i * width:(i + 1) * width]])


def restricted_reference(data: bytes, width: int, other: bytes, other_width: int) -> bytes:
    """The rows whose id the table ``other`` holds too."""
    ids, rows = _arrays(data, width)
    theirs = set(_arrays(other, other_width)[0])
    keep = [i for i in range(len(ids)) if ids[i] in theirs]
    return _bytes([ids[i] for i in keep], [v for i in keep for v in rows[i * width:(i + 1) * width]])


def first_min_reference(data: bytes, width: int) -> int | None:
    """The least first value of any row (the oldest dedup key's time); None for no row."""
    ids, rows = _arrays(data, width)
    return min(rows[0::width]) if len(ids) else None


try:  # the same operations in C (projections/packed_kernel.pyx, built by setup.py)
    if not LITTLE:
        raise ImportError("the kernel reads little-endian int64s in place")
    from projections.packed_kernel import canonical, find, first_min, kept, restricted, union
except ImportError:  # no C compiler at install, or a big-endian machine: the same bytes, slower
    find, canonical, union, kept = find_reference, canonical_reference, union_reference, kept_reference
    restricted, first_min = restricted_reference, first_min_reference


class PackedTable(Mapping):
    """An immutable map of 64-bit ids to rows of ``width`` 64-bit ints, as packed bytes.

    ``data`` is the changelog's form: ``n`` ids ascending, then the ``n`` rows. Build one with
    ``of`` (from a map) or ``from_bytes`` (bytes read from a record, put in order)."""

    __slots__ = ("data", "width", "_n")

    def __init__(self, data: bytes, width: int) -> None:
        """``data`` must already be canonical (ids ascending, each once): use ``from_bytes`` else."""
        if width < 1 or len(data) % (8 * (width + 1)):
            raise ValueError(f"{len(data)} bytes are not a whole number of rows of {width}")
        self.data = data
        self.width = width
        self._n = len(data) // (8 * (width + 1))

    @classmethod
    def from_bytes(cls, data: bytes, width: int) -> PackedTable:
        if len(data) % (8 * (width + 1)):
            raise ValueError(f"{len(data)} bytes are not a whole number of rows of {width}")
        return cls(canonical(data, width), width)

    @classmethod
    def of(cls, table: Mapping[int, tuple[int, ...]], width: int) -> PackedTable:
        """``table`` as a PackedTable (itself when it is one). Raises OverflowError for a value
        past 64 bits, TypeError or ValueError for one not an int or a row not ``width`` long."""
        if isinstance(table, PackedTable):
            if table.width != width:
                raise ValueError(f"a table of rows of {table.width}, not {width}")
            return table
        return cls(union(b"", width, dict(table)), width)

    def __getitem__(self, key: int) -> tuple[int, ...]:
        row = find(self.data, self.width, key) if type(key) is int else None
        if row is None:
            raise KeyError(key)
        return row

    def get(self, key: int, default: object = None) -> object:
        row = find(self.data, self.width, key) if type(key) is int else None
        return default if row is None else row

    def __contains__(self, key: object) -> bool:
        return type(key) is int and find(self.data, self.width, key) is not None

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[int]:
        return iter(_arrays(self.data, self.width)[0].tolist())

    def items(self):  # noqa: ANN201 - a list of (id, row), in id order
        ids, rows = _arrays(self.data, self.width)
        w = self.width
        return [(k, tuple(rows[i * w:(i + 1) * w])) for i, k in enumerate(ids.tolist())]

    def values(self):  # noqa: ANN201 - a list of rows, in id order
        return [row for _, row in self.items()]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedTable):
            return (self.width == other.width and self.data == other.data) or (self._n == 0 and other._n == 0)
        if isinstance(other, Mapping):
            return len(other) == self._n and dict(self.items()) == dict(other)
        return NotImplemented

    def __hash__(self) -> int:  # immutable, so usable as a dataclass field's default
        return hash((self.width, self.data))

    def __repr__(self) -> str:
        return f"PackedTable({dict(self.items())!r}, width={self.width})"

    def first_min(self) -> int | None:
        """The least first value of a row (a dedup key's time); None when empty."""
        return first_min(self.data, self.width)

    def kept(self, low: int) -> PackedTable:
        """The rows whose first value is at least ``low``."""
        return PackedTable(kept(self.data, self.width, low), self.width)

    def restricted(self, other: PackedTable) -> PackedTable:
        """The rows whose id ``other`` holds too."""
        return PackedTable(restricted(self.data, self.width, other.data, other.width), self.width)

    def with_rows(self, updates: dict[int, tuple[int, ...]]) -> PackedTable:
        """This table with ``updates`` written over it; itself when there are none."""
        if not updates:
            return self
        return PackedTable(union(self.data, self.width, updates), self.width)


EMPTY_KEYS = PackedTable(b"", 2)  # a dedup key's (event time, content fingerprint)
EMPTY_CHARGES = PackedTable(b"", 4)  # a call's (charge, included seconds, revision, parties fingerprint)


class Overlay:
    """A fold's writable view of a table: the rows written during a batch part, over the state's
    table (never changed); ``table()`` merges them once, when the part ends."""

    __slots__ = ("base", "new", "added")

    def __init__(self, base: PackedTable) -> None:
        self.base = base
        self.new: dict[int, tuple[int, ...]] = {}
        self.added = 0  # ids in ``new`` that ``base`` does not hold: len() without a merge

    def get(self, key: int, default: object = None) -> object:
        row = self.new.get(key)
        if row is not None:
            return row
        return self.base.get(key, default)

    def __getitem__(self, key: int) -> tuple[int, ...]:
        row = self.new.get(key)
        return self.base[key] if row is None else row

    def __setitem__(self, key: int, row: tuple[int, ...]) -> None:
        if key not in self.new and key not in self.base:
            self.added += 1
        self.new[key] = row

    def __len__(self) -> int:
        return len(self.base) + self.added

    def items(self):  # noqa: ANN201 - (id, row) pairs, the rows written over the table's
        return self.table().items()

    def table(self) -> PackedTable:
        return self.base.with_rows(self.new)

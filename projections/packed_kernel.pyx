# cython: language_level=3, boundscheck=False, wraparound=False
"""The operations of ``projections/packed.py`` on packed tables, in C (issue 22).

A table is ``n`` little-endian int64 ids, ascending, then ``n`` rows of ``width`` int64s. Each
function here gives exactly what its ``*_reference`` in ``packed.py`` gives (the reference:
``tests/unit/test_packed.py`` compares them on generated tables), without a Python object per
row: a fold looks a key up by binary search, and merges a part's new rows into the old table
once, in one pass. Built by setup.py, optional; ``packed.py`` uses it only on little-endian
machines, where the bytes can be read in place.
"""

from cpython.number cimport PyNumber_Index
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy


cdef inline Py_ssize_t _rows(bytes data, Py_ssize_t width) except -1:
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    if width < 1 or size % (8 * (width + 1)):
        raise ValueError(f"{size} bytes are not a whole number of rows of {width}")
    return size // (8 * (width + 1))


cdef inline Py_ssize_t _search(const int64_t* ids, Py_ssize_t n, int64_t key) noexcept nogil:
    """The first index whose id is not less than ``key`` (n: none)."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if ids[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def find(bytes data, Py_ssize_t width, key):
    """The row of ``key`` as a tuple, or None."""
    cdef Py_ssize_t n = _rows(data, width), i, j
    cdef const int64_t* ids = <const int64_t*>PyBytes_AS_STRING(data)
    cdef int64_t k
    try:
        k = key
    except OverflowError:  # no id is past 64 bits
        return None
    i = _search(ids, n, k)
    if i == n or ids[i] != k:
        return None
    cdef const int64_t* row = ids + n + i * width
    if width == 2:
        return (row[0], row[1])
    if width == 4:
        return (row[0], row[1], row[2], row[3])
    return tuple([row[j] for j in range(width)])


def first_min(bytes data, Py_ssize_t width):
    """The least first value of any row; None for no row."""
    cdef Py_ssize_t n = _rows(data, width), i
    if n == 0:
        return None
    cdef const int64_t* rows = (<const int64_t*>PyBytes_AS_STRING(data)) + n
    cdef int64_t least = rows[0]
    for i in range(1, n):
        if rows[i * width] < least:
            least = rows[i * width]
    return least


cdef bytes _select(bytes data, Py_ssize_t width, Py_ssize_t n, const char* keep, Py_ssize_t kept):
    """The rows whose ``keep`` flag is set, as a table of ``kept`` rows."""
    if kept == n:
        return data
    cdef bytes out = PyBytes_FromStringAndSize(NULL, kept * (width + 1) * 8)
    cdef int64_t* out_ids = <int64_t*>PyBytes_AS_STRING(out)
    cdef int64_t* out_rows = out_ids + kept
    cdef const int64_t* ids = <const int64_t*>PyBytes_AS_STRING(data)
    cdef const int64_t* rows = ids + n
    cdef Py_ssize_t i, o = 0
    for i in range(n):
        if keep[i]:
            out_ids[o] = ids[i]
            memcpy(out_rows + o * width, rows + i * width, width * 8)
            o += 1
    return out


def kept(bytes data, Py_ssize_t width, int64_t low):
    """The rows whose first value is at least ``low``."""
    cdef Py_ssize_t n = _rows(data, width), i, count = 0
    cdef const int64_t* rows = (<const int64_t*>PyBytes_AS_STRING(data)) + n
    cdef char* keep = <char*>malloc(n + 1)
    if keep == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            keep[i] = rows[i * width] >= low
            count += keep[i]
        return _select(data, width, n, keep, count)
    finally:
        free(keep)


def restricted(bytes data, Py_ssize_t width, bytes other, Py_ssize_t other_width):
    """The rows whose id the table ``other`` holds too (both ascending: one merge pass)."""
    cdef Py_ssize_t n = _rows(data, width), m = _rows(other, other_width), i, j = 0, count = 0
    cdef const int64_t* ids = <const int64_t*>PyBytes_AS_STRING(data)
    cdef const int64_t* theirs = <const int64_t*>PyBytes_AS_STRING(other)
    cdef char* keep = <char*>malloc(n + 1)
    if keep == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            while j < m and theirs[j] < ids[i]:
                j += 1
            keep[i] = j < m and theirs[j] == ids[i]
            count += keep[i]
        return _select(data, width, n, keep, count)
    finally:
        free(keep)


cdef bytes _packed_updates(dict updates, Py_ssize_t width):
    """``updates`` as a table of their own, ids ascending. Raises like ``array('q')`` would:
    OverflowError past 64 bits, TypeError for a value not an int; ValueError for a row not
    ``width`` long."""
    cdef Py_ssize_t n = len(updates), i = 0, j
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n * (width + 1) * 8)
    cdef int64_t* ids = <int64_t*>PyBytes_AS_STRING(out)
    cdef int64_t* rows = ids + n
    for row in updates.values():  # checked first, as the reference does
        if len(row) != width:
            raise ValueError(f"a row of {len(row)} values, not {width}")
    for key in sorted(updates):
        row = updates[key]
        ids[i] = PyNumber_Index(key)  # what array("q") takes: an int, or what has __index__
        for j in range(width):
            rows[i * width + j] = PyNumber_Index(row[j])
        i += 1
    return out


def union(bytes data, Py_ssize_t width, dict updates):
    """The table with ``updates`` written over it, ids ascending (one merge pass)."""
    cdef Py_ssize_t n = _rows(data, width)
    if not updates:
        return data
    cdef bytes new = _packed_updates(updates, width)
    cdef Py_ssize_t m = len(updates), i = 0, j = 0, o = 0
    cdef const int64_t* ids = <const int64_t*>PyBytes_AS_STRING(data)
    cdef const int64_t* rows = ids + n
    cdef const int64_t* new_ids = <const int64_t*>PyBytes_AS_STRING(new)
    cdef const int64_t* new_rows = new_ids + m
    cdef int64_t* out_ids = <int64_t*>malloc((n + m) * (width + 1) * 8 + 8)
    if out_ids == NULL:
        raise MemoryError()
    cdef int64_t* out_rows = out_ids + (n + m)
    try:
        while i < n or j < m:
            if j == m or (i < n and ids[i] < new_ids[j]):
                out_ids[o] = ids[i]
                memcpy(out_rows + o * width, rows + i * width, width * 8)
                i += 1
            else:
                if i < n and ids[i] == new_ids[j]:
                    i += 1  # the update replaces the row
                out_ids[o] = new_ids[j]
                memcpy(out_rows + o * width, new_rows + j * width, width * 8)
                j += 1
            o += 1
        out = PyBytes_FromStringAndSize(NULL, o * (width + 1) * 8)
        memcpy(PyBytes_AS_STRING(out), out_ids, o * 8)
        memcpy(PyBytes_AS_STRING(out) + o * 8, out_rows, o * width * 8)
        return out
    finally:
        free(out_ids)


def canonical(bytes data, Py_ssize_t width):
    """The table with its ids ascending, each once (of an id given twice, the last row); the
    bytes themselves when they already are (what this code writes)."""
    cdef Py_ssize_t n = _rows(data, width), i
    cdef const int64_t* ids = <const int64_t*>PyBytes_AS_STRING(data)
    for i in range(1, n):
        if ids[i - 1] >= ids[i]:
            break
    else:
        return data
    cdef const int64_t* rows = ids + n
    cdef dict table = {}
    for i in range(n):  # rare: a record an older version wrote, in its map's order
        table[ids[i]] = tuple([rows[i * width + j] for j in range(width)])
    return union(b"", width, table)

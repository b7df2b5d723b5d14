# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled Avro kernel (issue 22): what fastavro's schemaless writer and reader do, for the
schemas the codec uses, about ten times faster when writing and ~2-3 times when reading.

It walks a plan made once per schema by ``schemas/avro_fast.py`` and handles only what it is
sure of. Writing, a value of exactly the expected Python type; anything else (a missing field, a
subclass, an integer out of range, a string that is not UTF-8) raises ``Unfit``. Reading, bytes
that are plainly valid; anything else (truncated, out of range, not UTF-8) raises ``Unfit``.
Either way the caller then hands the whole record to fastavro, which writes or reads it, or
refuses it, as it always did. So this module never decides what is valid Avro; fastavro stays the
reference, and ``tests/unit/test_avro_kernel.py`` holds the two equal on generated records and
on mutated bytes.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.string cimport memcpy

# Plan node codes (T_ so as not to meet C's NULL); the plan is (code, argument) tuples (schemas/avro_fast.py: plan_of).
cdef enum:
    T_NULL = 0
    T_BOOLEAN = 1
    T_INT = 2
    T_LONG = 3
    T_STRING = 4
    T_BYTES = 5
    T_ENUM = 6
    T_ARRAY = 7
    T_MAP = 8
    T_RECORD = 9
    T_NULLABLE = 10

CODES = {"null": T_NULL, "boolean": T_BOOLEAN, "int": T_INT, "long": T_LONG, "string": T_STRING, "bytes": T_BYTES,
         "enum": T_ENUM, "array": T_ARRAY, "map": T_MAP, "record": T_RECORD, "nullable": T_NULLABLE}


class Unfit(Exception):
    """Not a value this writer is sure of: fastavro decides."""


cdef class _Out:
    """A growing byte buffer (a bytearray, doubled when full)."""
    cdef bytearray data
    cdef Py_ssize_t n

    def __cinit__(self, Py_ssize_t capacity):
        self.data = bytearray(capacity)
        self.n = 0

    cdef char* room(self, Py_ssize_t k) except NULL:
        cdef Py_ssize_t cap = PyByteArray_GET_SIZE(self.data)
        if self.n + k > cap:
            PyByteArray_Resize(self.data, max(cap * 2, self.n + k))
        return PyByteArray_AS_STRING(self.data) + self.n

    cdef int raw(self, const char* src, Py_ssize_t k) except -1:
        memcpy(self.room(k), src, k)
        self.n += k
        return 0

    cdef int varint(self, long long v) except -1:
        # Avro's zig-zag then base-128 varint, low groups first (the spec's "long").
        cdef unsigned long long z = (<unsigned long long>v << 1) ^ <unsigned long long>(v >> 63)
        cdef char* p = self.room(10)
        cdef int i = 0
        while z >= 0x80:
            p[i] = <char>((z & 0x7F) | 0x80)
            z >>= 7
            i += 1
        p[i] = <char>z
        self.n += i + 1
        return 0


cdef int _string(_Out out, object value) except -1:
    cdef Py_ssize_t k
    cdef const char* utf8
    if type(value) is not str:
        raise Unfit("string")
    utf8 = PyUnicode_AsUTF8AndSize(value, &k)  # raises on a lone surrogate: fastavro decides
    out.varint(k)
    out.raw(utf8, k)
    return 0


cdef int _write(_Out out, tuple node, object value) except -1:
    cdef int code = node[0]
    cdef object arg = node[1]
    cdef Py_ssize_t k
    if code == T_LONG or code == T_INT:
        if type(value) is not int:
            raise Unfit("integer")
        if code == T_INT and not (-2147483648 <= value <= 2147483647):
            raise Unfit("int out of range")
        out.varint(value)  # OverflowError past 64 bits: fastavro decides
    elif code == T_STRING:
        _string(out, value)
    elif code == T_RECORD:
        if type(value) is dict:
            for name, field in <tuple>arg:
                if name not in value:
                    raise Unfit("missing field")  # fastavro knows the defaults
                _write(out, <tuple>field, (<dict>value)[name])
        elif type(value) in _attribute_types:
            for name, field in <tuple>arg:
                _write(out, <tuple>field, getattr(value, name))  # AttributeError: the caller's dict decides
        else:
            raise Unfit("record")
    elif code == T_ARRAY:
        if type(value) is not list and type(value) is not tuple:  # fastavro writes a tuple as the list
            raise Unfit("array")
        k = len(value)
        if k:
            out.varint(k)
            if type(value) is list:
                for item in <list>value:
                    _write(out, <tuple>arg, item)
            else:
                for item in <tuple>value:
                    _write(out, <tuple>arg, item)
        out.varint(0)
    elif code == T_MAP:
        if type(value) is not dict:
            raise Unfit("map")
        k = len(value)
        if k:
            out.varint(k)
            for key, item in (<dict>value).items():
                _string(out, key)
                _write(out, <tuple>arg, item)
        out.varint(0)
    elif code == T_BOOLEAN:
        if type(value) is not bool:
            raise Unfit("boolean")
        out.raw(b"\x01" if value else b"\x00", 1)
    elif code == T_BYTES:
        if type(value) is not bytes:
            raise Unfit("bytes")
        out.varint(PyBytes_GET_SIZE(value))
        out.raw(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
    elif code == T_ENUM:
        if type(value) is not str or value not in <dict>arg[0]:
            raise Unfit("enum")
        out.varint((<dict>arg[0])[value])
    elif code == T_NULLABLE:  # ["null", T] or [T, "null"]: (index of null, index of T, T's node)
        if value is None:
            out.varint(arg[0])
        else:
            out.varint(arg[1])
            _write(out, <tuple>arg[2], value)
    elif code == T_NULL:
        if value is not None:
            raise Unfit("null")
    else:
        raise Unfit("unknown plan code")
    return 0


# Types whose instances are written as records field by field, each field read as the attribute
# of its name (attribute_records): an output record straight from the fold's frozen dataclass,
# without a dict built for it first (issue 22).
cdef frozenset _attribute_types = frozenset()


def attribute_records(types):
    """Let the writer read records of these types by attribute. Only for types whose attributes
    are, by name, exactly the record's fields as the caller's dict form would give them: the
    caller falls back to that dict form (and fastavro) whenever the writer gives up."""
    global _attribute_types
    _attribute_types = frozenset(types)


def write(bytes header, tuple plan, object record):
    """``header`` then ``record`` written by ``plan``; raises ``Unfit`` (or another error) for a
    record it is not sure of, having written nothing anywhere."""
    cdef _Out out = _Out(256)
    out.raw(PyBytes_AS_STRING(header), PyBytes_GET_SIZE(header))
    _write(out, plan, record)
    return PyBytes_FromStringAndSize(PyByteArray_AS_STRING(out.data), out.n)


# --- reading ----------------------------------------------------------------------------------
#
# The mirror of the writer for bytes from outside: bounds are checked on every read, and
# anything this reader is not sure of (a truncated body, a varint past 64 bits, a length below
# zero, a boolean byte other than 0 or 1, an index out of range, text that is not UTF-8) raises
# Unfit, and the caller gives the whole message to fastavro, which reads it or says why not.

cdef class _In:
    cdef const unsigned char* data
    cdef Py_ssize_t pos
    cdef Py_ssize_t end
    cdef object keep  # the bytes object data points into

    cdef long long varint(self) except? -1:
        cdef unsigned long long z = 0
        cdef unsigned long long b
        cdef int shift = 0
        while True:
            if self.pos >= self.end:
                raise Unfit("truncated")
            b = self.data[self.pos]
            self.pos += 1
            if shift == 63 and b > 1:
                raise Unfit("varint past 64 bits")
            z |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        return <long long>(z >> 1) ^ -<long long>(z & 1)

    cdef Py_ssize_t length(self) except -1:
        cdef long long k = self.varint()
        if k < 0 or k > self.end - self.pos:
            raise Unfit("length")
        return <Py_ssize_t>k

    cdef Py_ssize_t count(self) except -1:
        # An array or map block's item count; a negative count (followed by the block's size in
        # bytes) is legal Avro that the codec never writes: fastavro reads it.
        cdef long long k = self.varint()
        if k < 0 or k > self.end - self.pos:  # every item takes at least... fastavro decides
            raise Unfit("block count")
        return <Py_ssize_t>k


cdef object _read(_In src, tuple node):
    cdef int code = node[0]
    cdef object arg = node[1]
    cdef Py_ssize_t k, i
    cdef long long v
    cdef unsigned char b
    if code == T_LONG:
        return src.varint()
    elif code == T_STRING:
        k = src.length()
        i = src.pos
        src.pos += k
        try:
            return (<const char*>src.data)[i:i + k].decode("utf-8")
        except UnicodeDecodeError:
            raise Unfit("utf-8") from None
    elif code == T_RECORD:
        out = {}
        for name, field in <tuple>arg:
            out[name] = _read(src, <tuple>field)
        return out
    elif code == T_ARRAY:
        items = []
        k = src.count()
        while k:
            for i in range(k):
                items.append(_read(src, <tuple>arg))
            k = src.count()
        return items
    elif code == T_MAP:
        entries = {}
        k = src.count()
        while k:
            for i in range(k):
                key = _read(src, (T_STRING, None))
                entries[key] = _read(src, <tuple>arg)
            k = src.count()
        return entries
    elif code == T_INT:
        v = src.varint()
        if not (-2147483648 <= v <= 2147483647):
            raise Unfit("int out of range")
        return v
    elif code == T_BOOLEAN:
        if src.pos >= src.end:
            raise Unfit("truncated")
        b = src.data[src.pos]
        src.pos += 1
        if b > 1:
            raise Unfit("boolean")
        return b == 1
    elif code == T_BYTES:
        k = src.length()
        i = src.pos
        src.pos += k
        return (<const char*>src.data)[i:i + k]
    elif code == T_ENUM:
        v = src.varint()
        if not (0 <= v < len(<tuple>arg[1])):
            raise Unfit("enum index")
        return (<tuple>arg[1])[v]
    elif code == T_NULLABLE:  # (index of null, index of T, T's node)
        v = src.varint()
        if v == arg[0]:
            return None
        if v != arg[1]:
            raise Unfit("union index")
        return _read(src, <tuple>arg[2])
    elif code == T_NULL:
        return None
    raise Unfit("unknown plan code")


def read(bytes data, Py_ssize_t start, tuple plan):
    """(the record at ``data[start:]`` read by ``plan``, the position after it); raises ``Unfit``
    for anything it is not sure of."""
    cdef _In src = _In()
    src.keep = data
    src.data = <const unsigned char*>PyBytes_AS_STRING(data)
    src.pos = start
    src.end = PyBytes_GET_SIZE(data)
    if not 0 <= start <= src.end:
        raise Unfit("start")
    return _read(src, plan), src.pos


# --- the account state, written field by field (issue 22) --------------------------------------
#
# A worker writes one AccountState per account and batch; at 20,000 accounts that is about one
# per CDR. Through the plan (a dict of 44 entries built first, then walked) it cost ~24 us, as
# much as a CDR's whole fold. This writer reads the state's attributes in AccountState v11's field
# order instead. It is only used for that version (``schemas/codec.py``: STATE_WRITER_VERSION),
# and gives up like the plan's writer (``Unfit``) on any value not of the exact type: the caller
# then writes the dict through the plan, or fastavro. ``tests/unit/test_state_writer.py`` holds
# its bytes equal to fastavro's on generated states.

cdef inline int _long(_Out out, object value) except -1:
    if type(value) is not int:
        raise Unfit("integer")
    out.varint(value)  # OverflowError past 64 bits: the caller's fallback decides
    return 0


cdef int _array(_Out out, object items, bint of_strings) except -1:
    """An array of strings or of longs, from a tuple or a list."""
    if type(items) is not tuple and type(items) is not list:
        raise Unfit("array")
    cdef Py_ssize_t k = len(items)
    if k:
        out.varint(k)
        for item in items:
            if of_strings:
                _string(out, item)
            else:
                _long(out, item)
    out.varint(0)
    return 0


cdef int _map_head(_Out out, object table) except -1:
    if type(table) is not dict:
        raise Unfit("map")
    if len(<dict>table):
        out.varint(len(<dict>table))
    return 0


cdef int _bytes(_Out out, object value) except -1:
    if type(value) is not bytes:
        raise Unfit("bytes")
    out.varint(PyBytes_GET_SIZE(value))
    out.raw(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
    return 0


cdef int _tuple_of(object value, Py_ssize_t width) except -1:
    if type(value) is not tuple or len(<tuple>value) != width:
        raise Unfit("record tuple")
    return 0


cdef int _state_head(_Out out, object s) except -1:
    """account_id .. newest_event_ms, positions, recent_keys (always empty: dedup_keys holds them)."""
    for value in (s.account_id, s.opened_event_id, s.currency, s.plan, s.billing_mode):
        _string(out, value)
    _array(out, s.numbers, True)
    _string(out, s.time_zone)
    for value in (s.opened_at_ms, s.balance_micros, s.charged_micros, s.paid_micros, s.calls_charged,
                  s.newest_event_ms):
        _long(out, value)
    _map_head(out, s.positions)
    for key, position in (<dict>s.positions).items():
        _string(out, key)
        _array(out, position, False)
    out.varint(0)
    out.varint(0)  # recent_keys: {}
    return 0


cdef int _state_lifecycle(_Out out, object s, object lifecycle, object status) except -1:
    """included_used_s, then the lifecycle's fields (status as its enum's value)."""
    _map_head(out, s.included_used_s)
    for key, seconds in (<dict>s.included_used_s).items():
        _string(out, key)
        _long(out, seconds)
    out.varint(0)
    _string(out, status)
    _string(out, lifecycle.reason)
    _long(out, lifecycle.since_ms)
    for value in (lifecycle.fee_period, lifecycle.unpaid_period, lifecycle.held_from):
        _string(out, value)
    _long(out, lifecycle.last_activity_ms)
    if type(lifecycle.interim_due) is not bool:
        raise Unfit("boolean")
    out.raw(b"\x01" if lifecycle.interim_due else b"\x00", 1)
    return 0


cdef int _state_billing(_Out out, object billing) except -1:
    """unbilled .. payments_since."""
    _map_head(out, billing.unbilled)
    for key, sums in (<dict>billing.unbilled).items():
        _string(out, key)
        _array(out, sums, False)
    out.varint(0)
    _string(out, billing.billed_through)
    if type(billing.invoice_year) is not int or not (-2147483648 <= billing.invoice_year <= 2147483647):
        raise Unfit("int")
    out.varint(billing.invoice_year)
    _long(out, billing.invoice_seq)
    _map_head(out, billing.recent_invoices)
    for number, invoice in (<dict>billing.recent_invoices).items():  # (issued at, total, period, kind)
        _string(out, number)
        _tuple_of(invoice, 4)
        _long(out, (<tuple>invoice)[0])
        _long(out, (<tuple>invoice)[1])
        _string(out, (<tuple>invoice)[2])
        _string(out, (<tuple>invoice)[3])
    out.varint(0)
    _map_head(out, billing.open_disputes)
    for dispute, opened in (<dict>billing.open_disputes).items():  # (invoice number, period, at, amount)
        _string(out, dispute)
        _tuple_of(opened, 4)
        _string(out, (<tuple>opened)[0])
        _string(out, (<tuple>opened)[1])
        _long(out, (<tuple>opened)[2])
        _long(out, (<tuple>opened)[3])
    out.varint(0)
    _long(out, billing.payments_since)
    return 0


cdef int _state_tail(_Out out, object s, bytes call_charges) except -1:
    """tax_jurisdiction .. locale."""
    for value in (s.tax_jurisdiction, s.pending_plan, s.pending_plan_from):
        _string(out, value)
    _bytes(out, call_charges)
    for value in (s.country_code, s.customer_name, s.billing_address, s.customer_tax_id, s.card_override):
        _string(out, value)
    _long(out, s.card_override_from_ms)
    deals = s.earlier_deals
    if type(deals) is not tuple:
        raise Unfit("array")
    if len(<tuple>deals):
        out.varint(len(<tuple>deals))
        for deal in <tuple>deals:  # (from ms, card)
            _tuple_of(deal, 2)
            _long(out, (<tuple>deal)[0])
            _string(out, (<tuple>deal)[1])
    out.varint(0)
    _long(out, s.dedup_floor_ms)
    _long(out, s.credit_limit_micros)
    _string(out, s.locale)
    return 0


def write_state(bytes header, object s, object status, bytes dedup_keys, bytes call_charges):
    """``header`` then the AccountState v11 record of ``s`` (``status``: its lifecycle's status
    value; the two tables packed by the caller); raises ``Unfit`` (or another error) for a value
    it is not sure of, having written nothing anywhere."""
    cdef _Out out = _Out(512)
    out.raw(PyBytes_AS_STRING(header), PyBytes_GET_SIZE(header))
    _state_head(out, s)
    _bytes(out, dedup_keys)
    _state_lifecycle(out, s, s.lifecycle, status)
    _state_billing(out, s.billing)
    _state_tail(out, s, call_charges)
    return PyBytes_FromStringAndSize(PyByteArray_AS_STRING(out.data), out.n)

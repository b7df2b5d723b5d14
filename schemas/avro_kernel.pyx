# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled Avro writer (issue 22): the bytes fastavro's ``schemaless_writer`` writes, about
ten times faster, for the records the worker writes per call (``CallRated``, journal entries,
account states).

It walks a plan made once per schema by ``schemas/avro_writer.py`` and writes only what it is
sure of: a value of exactly the expected Python type. Anything else (a missing field, a
subclass, an integer out of range, a string that is not UTF-8) raises ``Unfit``, and the caller
hands the whole record to fastavro, which writes it or refuses it as it always did. So this
module never decides what is valid Avro; fastavro stays the reference, and
``tests/unit/test_avro_writer.py`` holds the two equal byte for byte on generated records.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.string cimport memcpy

# Plan node codes (T_ so as not to meet C's NULL); the plan is (code, argument) tuples (schemas/avro_writer.py: plan_of).
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
        if type(value) is not dict:
            raise Unfit("record")
        for name, field in <tuple>arg:
            if name not in value:
                raise Unfit("missing field")  # fastavro knows the defaults
            _write(out, <tuple>field, (<dict>value)[name])
    elif code == T_ARRAY:
        if type(value) is not list:
            raise Unfit("array")
        k = len(value)
        if k:
            out.varint(k)
            for item in <list>value:
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
        if type(value) is not str or value not in <dict>arg:
            raise Unfit("enum")
        out.varint((<dict>arg)[value])
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


def write(bytes header, tuple plan, object record):
    """``header`` then ``record`` written by ``plan``; raises ``Unfit`` (or another error) for a
    record it is not sure of, having written nothing anywhere."""
    cdef _Out out = _Out(256)
    out.raw(PyBytes_AS_STRING(header), PyBytes_GET_SIZE(header))
    _write(out, plan, record)
    return PyBytes_FromStringAndSize(PyByteArray_AS_STRING(out.data), out.n)

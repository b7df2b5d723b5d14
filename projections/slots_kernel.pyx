# cython: language_level=3, boundscheck=False, wraparound=False
"""The frozen records' slots read and written in C (issue 22): the ``__init__`` of the records
made per event, and the bounds check of every event from outside.

``projections/records.py: fast_init`` gives each such class an ``__init__`` written in Python
that sets each field through its slot's descriptor: a Python frame and one call per field,
~55 ns a field (a CDR has 14, its rating 15). The batch path makes about ten such records per
call. ``slot_init`` makes an ``__init__`` that binds the arguments as the dataclass's does
(positional, keyword, defaults, default factories) and stores each value straight into its
slot, at the offset the slot's own member descriptor gives, as that descriptor's ``__set__``
does. ``__post_init__`` runs after, as before. The dataclass's own ``__init__`` stays the
reference: ``tests/unit/test_records.py`` builds every class all three ways, with the
arguments' errors too.

``bounds_clear`` makes, for one event class, the check that each of its times, amounts, texts
and lists is surely within its bound, reading the slots at their offsets (~0.14 us a CDR,
against ~0.67 for the walk in Python). It never refuses anything itself: what it does not clear
goes to the walk (``projections/validation.py: walk_bounds``), which names the field and the
reason, so the verdict is always the reference's (``tests/unit/test_bounds_kernel.py``).

Built by setup.py, optional: without it the Python ``__init__`` and the walk are used.
"""

import sys

from cpython.bytes cimport PyBytes_AS_STRING
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.object cimport PyObject


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    int T_OBJECT_EX


cdef inline void _store(object record, Py_ssize_t offset, object value):
    """What a slot's member descriptor's ``__set__`` does: the new reference in, the old out."""
    cdef PyObject** slot = <PyObject**>((<char*><PyObject*>record) + offset)
    cdef PyObject* old = slot[0]
    Py_INCREF(value)
    slot[0] = <PyObject*>value
    Py_XDECREF(old)


def slot_offsets(type cls, tuple names):
    """The byte offset of each named slot of ``cls``, read from its member descriptor; raises
    ``TypeError`` for a name that is not a plain object slot of the class itself."""
    offsets = []
    for name in names:
        descriptor = cls.__dict__.get(name)
        if type(descriptor).__name__ != "member_descriptor":
            raise TypeError(f"slot_init: {cls.__name__}.{name} is not a slot")
        member = (<PyMemberDescrObject*><PyObject*>descriptor).d_member
        if member.type != T_OBJECT_EX:
            raise TypeError(f"slot_init: {cls.__name__}.{name} is not an object slot")
        offsets.append(member.offset)
    return offsets


cdef int _check_bound(tuple names, tuple defaults, tuple factories, object missing, str qualname,
                      Py_ssize_t given, dict kwargs) except -1:
    """Python's own checks of a call's arguments, before any field is set: a keyword for a field
    given by position, a required field not given, a keyword that names no field."""
    cdef Py_ssize_t i, n = len(names), named = 0
    if kwargs:
        for i in range(given):
            if names[i] in kwargs:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument '{names[i]}'")
    for i in range(given, n):
        if kwargs and names[i] in kwargs:
            named += 1
        elif factories[i] is None and defaults[i] is missing:
            raise TypeError(f"{qualname}.__init__() missing 1 required positional argument: '{names[i]}'")
    if kwargs and named != len(kwargs):
        unknown = next(k for k in kwargs if k not in names)
        raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument '{unknown}'")
    return 0


def slot_init(type cls, tuple names, tuple defaults, tuple factories, object missing, bint post_init):
    """An ``__init__`` for ``cls``: ``defaults[i]`` is the field's default or ``missing``;
    ``factories[i]`` its default factory or None (then the default, if any, applies)."""
    cdef Py_ssize_t n = len(names)
    offsets = b"".join(o.to_bytes(sizeof(Py_ssize_t), sys.byteorder, signed=True) for o in slot_offsets(cls, names))
    cdef str qualname = cls.__qualname__

    def __init__(self, *args, **kwargs):
        cdef const Py_ssize_t* at = <const Py_ssize_t*>PyBytes_AS_STRING(offsets)
        cdef Py_ssize_t given = len(args), i
        if given > n:
            raise TypeError(f"{qualname}.__init__() takes {n + 1} positional arguments but {given + 1} were given")
        if type(self) is not cls and not isinstance(self, cls):  # the offsets are only the class's own
            raise TypeError(f"{qualname}.__init__() needs a {qualname}")
        if given == n and not kwargs:  # every field given in order: the common call
            for i in range(n):
                _store(self, at[i], args[i])
            if post_init:
                self.__post_init__()
            return
        _check_bound(names, defaults, factories, missing, qualname, given, kwargs)
        for i in range(given):
            _store(self, at[i], args[i])
        for i in range(given, n):
            name = names[i]
            if kwargs and name in kwargs:
                _store(self, at[i], kwargs[name])
            elif factories[i] is not None:
                _store(self, at[i], factories[i]())  # afresh for each record, as the dataclass does
            else:
                _store(self, at[i], defaults[i])
        if post_init:
            self.__post_init__()

    return __init__


# What each field of an event is bounded as, from projections/validation.py's kinds. A kind
# not here ("zone": a look-up in the zone database) has no checker: the reference judges it.
cdef enum:
    KIND_NONE = 0
    KIND_TIME = 1
    KIND_AMOUNT = 2
    KIND_TEXT = 3
    KIND_LIST = 4
KIND_CODES = {"": KIND_NONE, "time": KIND_TIME, "amount": KIND_AMOUNT, "text": KIND_TEXT, "list": KIND_LIST}


cdef extern from "Python.h":
    bint PyLong_CheckExact(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyTuple_CheckExact(object o)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    Py_ssize_t PyTuple_GET_SIZE(object o)
    PyObject* PyTuple_GET_ITEM(object o, Py_ssize_t i)


cdef inline bint _int_within(PyObject* value, long long low, long long high):
    """An exact int in [low, high]; anything else is for the reference to judge."""
    cdef int overflow = 0
    cdef long long v
    if not PyLong_CheckExact(<object>value):
        return False
    v = PyLong_AsLongLongAndOverflow(<object>value, &overflow)
    return overflow == 0 and low <= v <= high


cdef inline bint _texts_within(PyObject* value, Py_ssize_t items_max, Py_ssize_t chars_max):
    cdef Py_ssize_t i, n
    cdef PyObject* item
    if not PyTuple_CheckExact(<object>value):
        return False
    n = PyTuple_GET_SIZE(<object>value)
    if n > items_max:
        return False
    for i in range(n):
        item = PyTuple_GET_ITEM(<object>value, i)
        if not PyUnicode_CheckExact(<object>item) or PyUnicode_GET_LENGTH(<object>item) > chars_max:
            return False
    return True


def bounds_clear(type cls, tuple names, tuple kinds, long long time_min, long long time_max,
                 long long amount_max, Py_ssize_t text_max, Py_ssize_t list_max):
    """A function telling whether an event of ``cls`` is surely within every bound: times in
    [time_min, time_max) or None, amounts in [-amount_max, amount_max], texts of at most
    ``text_max`` characters, lists of at most ``list_max`` such texts. False is no verdict: a
    value out of bounds, or of a type this does not judge, goes to the reference walk
    (``projections/validation.py: check_bounds``), which raises or passes it. ``kinds``: each
    field's kind as the reference names it; ``KeyError`` for one this cannot judge."""
    offsets = b"".join(o.to_bytes(sizeof(Py_ssize_t), sys.byteorder, signed=True) for o in slot_offsets(cls, names))
    codes = bytes(KIND_CODES[k] for k in kinds)
    cdef Py_ssize_t n = len(names)

    def clear(object event):
        cdef const Py_ssize_t* at = <const Py_ssize_t*>PyBytes_AS_STRING(offsets)
        cdef const unsigned char* kind = <const unsigned char*>PyBytes_AS_STRING(codes)
        cdef Py_ssize_t i
        cdef PyObject* value
        if type(event) is not cls:  # the offsets are only the class's own
            return False
        for i in range(n):
            value = (<PyObject**>((<char*><PyObject*>event) + at[i]))[0]
            if value == NULL:
                return False
            if kind[i] == KIND_TIME:
                if <object>value is not None and not _int_within(value, time_min, time_max - 1):
                    return False
            elif kind[i] == KIND_AMOUNT:
                if not _int_within(value, -amount_max, amount_max):
                    return False
            elif kind[i] == KIND_TEXT:
                if not PyUnicode_CheckExact(<object>value) or PyUnicode_GET_LENGTH(<object>value) > text_max:
                    return False
            elif kind[i] == KIND_LIST:
                if not _texts_within(value, list_max, text_max):
                    return False
        return True

    return clear

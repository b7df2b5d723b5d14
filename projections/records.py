"""Frozen records built at the cost of plain ones: ``fast_init`` for the classes made per event.

Why: a frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (the class's own ``__setattr__`` refuses), a looked-up builtin call per
field: ~105 ns a field, 1.7 us for a 16-field record, where a plain class takes 0.26 us. The
batch path makes about ten such records per call (the CDR, its position, its rating, its journal
entry and postings, its outcome), and measured their ``__init__`` at ~12% of its time
(docs/performance.md, issue 22). ``fast_init`` gives a slotted frozen dataclass an ``__init__``
that sets each field through its slot's own descriptor (``member.__set__``), bound once: the
same values in the same slots, about twice as fast. Everything else stays the dataclass's own:
the signature, the defaults, ``__post_init__``, equality, ``replace``, and the frozen
``__setattr__`` that refuses any later change.

It takes only what it can copy exactly: a frozen, slotted dataclass whose fields all go to
``__init__``, with plain defaults or default factories (no ``InitVar``, no keyword-only
fields). Anything else raises ``TypeError`` at import, never a silently different class. The
dataclass's own ``__init__`` stays on the class as ``__dataclass_init__``: it is the oracle of
``tests/unit/test_records.py``, which builds every class each way.

Where the slots kernel is built (``projections/slots_kernel.pyx``), the ``__init__`` is its C
version, which stores each value at its slot's offset (~4x faster for a CDR); the Python one
above stays as ``__python_init__``, its reference and what runs without a compiler.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T", bound=type)
R = TypeVar("R")

FAST_INIT_CLASSES: list[type] = []  # every class given a fast __init__, for the differential test

try:  # the __init__ in C (projections/slots_kernel.pyx, built by setup.py); optional
    from projections.slots_kernel import slot_init
except ImportError:  # an install without a C compiler: the Python __init__ below, the same records
    slot_init = None


def fast_init(cls: T) -> T:
    """Replace ``cls.__init__`` by one that sets the slots directly (see the module docstring)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"fast_init: {cls.__name__} is not a frozen, slotted dataclass")
    fields = dataclasses.fields(cls)
    if len(fields) != len(cls.__dataclass_fields__):  # the rest are InitVar or ClassVar pseudo-fields
        raise TypeError(f"fast_init: {cls.__name__} has an InitVar or a ClassVar")
    namespace: dict[str, object] = {}
    params_src, body = [], []
    for f in fields:
        if not f.init or f.kw_only is True:
            raise TypeError(f"fast_init: {cls.__name__}.{f.name} is not a plain positional field")
        if f.default_factory is not dataclasses.MISSING:  # as the dataclass does: a fresh value per record
            namespace["_MISSING"], namespace[f"_factory_{f.name}"] = dataclasses.MISSING, f.default_factory
            params_src.append(f"{f.name}=_MISSING")
            body.append(f"    if {f.name} is _MISSING:\n        {f.name} = _factory_{f.name}()")
        elif f.default is dataclasses.MISSING:
            params_src.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params_src.append(f"{f.name}=_default_{f.name}")
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__  # the slot's member descriptor
        body.append(f"    _set_{f.name}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(params_src)}):\n" + "\n".join(body or ["    pass"]) + "\n"
    exec(source, namespace)  # noqa: S102 - the source is built above from the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__dataclass_init__ = cls.__init__
    cls.__python_init__ = init  # the reference of the compiled one, and what runs without it
    cls.__init__ = init if slot_init is None else _compiled_init(cls, fields)
    FAST_INIT_CLASSES.append(cls)
    return cls


def _compiled_init(cls: type, fields: tuple) -> object:
    """The same ``__init__`` in C (projections/slots_kernel.pyx): ~0.2 us for a CDR's 14 fields
    instead of ~0.8, the values stored straight into the slots."""
    missing = dataclasses.MISSING
    return slot_init(cls, tuple(f.name for f in fields), tuple(f.default for f in fields),
                     tuple(None if f.default_factory is missing else f.default_factory for f in fields),
                     missing, hasattr(cls, "__post_init__"))


def evolved(record: R, changes: dict[str, object]) -> R:
    """``dataclasses.replace(record, **changes)`` for a frozen dataclass kept in a ``__dict__``
    (not slotted), at a fraction of its cost; ``record`` itself when every change equals what
    it already holds (where ``replace(...) == record``).

    Why: ``_Fold.finish`` builds each account's new state once per batch part, and compares it
    with the old one. ``replace`` reads every field, calls the generated ``__init__`` (one
    ``object.__setattr__`` per field, 30 of them) and the comparison builds two tuples of all
    of them: ~11% of the batch path at 20,000 accounts, where most parts touch an account once or
    twice. The fields not changed are the very same objects in both, so only the changes need
    comparing. No ``__init__`` runs, so a class with a ``__post_init__`` or an ``init=False``
    field is refused, as is a slotted one. ``tests/unit/test_records.py`` holds it equal to
    ``replace`` on generated changes."""
    cls = type(record)
    if cls not in _EVOLVABLE:
        _check_evolvable(cls)
    fields = cls.__dataclass_fields__
    if not changes.keys() <= fields.keys():
        raise TypeError(f"evolved: {cls.__name__} has no field {sorted(changes.keys() - fields.keys())[0]!r}")
    old = record.__dict__
    for name, value in changes.items():
        if not (value is old[name] or value == old[name]):
            break
    else:
        return record
    new = object.__new__(cls)
    values = dict(old)
    values.update(changes)
    object.__setattr__(new, "__dict__", values)
    return new


_EVOLVABLE: set[type] = set()


def _check_evolvable(cls: type) -> None:
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" in cls.__dict__ or hasattr(cls, "__post_init__") \
            or any(not f.init for f in dataclasses.fields(cls)):
        raise TypeError(f"evolved: {cls.__name__} is not a frozen dataclass with a __dict__, all fields in "
                        "__init__ and no __post_init__")
    _EVOLVABLE.add(cls)

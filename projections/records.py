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
``__init__``, with plain defaults (no ``default_factory``, no ``InitVar``, no keyword-only
fields). Anything else raises ``TypeError`` at import, never a silently different class. The
dataclass's own ``__init__`` stays on the class as ``__dataclass_init__``: it is the oracle of
``tests/unit/test_records.py``, which builds every class both ways.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T", bound=type)

FAST_INIT_CLASSES: list[type] = []  # every class given a fast __init__, for the differential test


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
        if not f.init or f.kw_only is True or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"fast_init: {cls.__name__}.{f.name} is not a plain positional field")
        if f.default is dataclasses.MISSING:
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
    cls.__init__ = init
    FAST_INIT_CLASSES.append(cls)
    return cls

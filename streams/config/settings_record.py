"""The fold's settings written whole, and read back: what each version on the settings topic keeps.

A version's terms (``versions.py``) say what changed and from when, but a configured rate card is
a term by its digest: the prices themselves were in a file. So each version also keeps every
``FoldSettings`` field, the configured cards' prices included, as canonical JSON compressed with
zlib. Then the log alone says what every price was in every version (``voiceledger settings
history --show DIGEST``), which an auditor asks, and it is the first step of a rebuild that folds
each part of the log with the version live used (``docs/operations.md``).

Canonical: a record's fields by name, those at their defaults left out (a release that adds a
field with a default writes the same text), keys in order, tuples and sets as lists. Reading is
by the fields' type hints, strictly: a value of another type, or a field this release does not
know (a newer release's), is a ``ValueError``, never a setting guessed. Pure.
"""

from __future__ import annotations

import json
import types
import typing
import zlib
from dataclasses import MISSING, fields, is_dataclass
from enum import Enum
from typing import Any

from projections.account import FoldSettings

PACKED_BYTES_MAX = 4 * 1024 * 1024  # the version's other fields and this fit the topic's 8 MiB records
UNPACKED_BYTES_MAX = 256 * 1024 * 1024  # read no further: a record off the log is not trusted to be small


def written(value: Any) -> str:
    """``value`` (a dataclass of plain values) as canonical JSON."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def read(kind: type, text: str) -> Any:
    """The ``kind`` that ``written`` wrote as ``text``."""
    return _typed(kind, json.loads(text))


def packed(fold: FoldSettings) -> bytes:
    """The fold's settings for a version record; ``b""`` when even compressed they pass
    ``PACKED_BYTES_MAX`` (the version is then kept by its terms alone)."""
    blob = zlib.compress(written(fold).encode(), 9)
    return blob if len(blob) <= PACKED_BYTES_MAX else b""


def unpacked(blob: bytes) -> FoldSettings:
    """``packed``'s settings; ``ValueError`` for bytes that are not such a record."""
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(blob, UNPACKED_BYTES_MAX)
        if inflater.unconsumed_tail:
            raise ValueError(f"the settings unpack to more than {UNPACKED_BYTES_MAX} bytes")
        return read(FoldSettings, text.decode())
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a version's settings: {type(exc).__name__}") from None


def plain(value: Any) -> Any:
    """``value`` as JSON values, as ``written`` writes them."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)
                if f.init and not _at_default(f, getattr(value, f.name))}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _at_default(f: Any, value: Any) -> bool:
    if f.default is not MISSING:
        return value == f.default
    return f.default_factory is not MISSING and value == f.default_factory()


def _typed(hint: Any, value: Any) -> Any:
    """``value`` (JSON) as the type ``hint`` names."""
    if is_dataclass(hint):
        return _record(hint, value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _typed(kind, value)
    if origin is tuple:
        _expect(value, list, hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(args[0], v) for v in value)
        if len(args) != len(value):
            raise ValueError(f"{len(value)} values where {hint} has {len(args)}")
        return tuple(_typed(a, v) for a, v in zip(args, value))
    if origin in (frozenset, set):
        _expect(value, list, hint)
        return origin(_typed(args[0], v) for v in value)
    if origin is dict:
        _expect(value, dict, hint)
        return {_typed(args[0], k): _typed(args[1], v) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint in (int, str, bool):
        _expect(value, hint, hint)  # exactly: JSON's true is not an int here
        return value
    raise ValueError(f"no reader for {hint}")


def _record(kind: type, value: Any) -> Any:
    _expect(value, dict, kind)
    hints = typing.get_type_hints(kind)
    known = {f.name: f for f in fields(kind) if f.init}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"{kind.__name__} has no field {unknown[0]!r} (written by a newer release?)")
    return kind(**{name: _typed(hints[name], v) for name, v in value.items()})


def _expect(value: Any, kind: type, hint: Any) -> None:
    if type(value) is not kind:
        raise ValueError(f"{type(value).__name__} where {hint} is expected")

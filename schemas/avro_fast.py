"""Avro through the compiled kernel where it is built, fastavro otherwise (issue 22).

fastavro's writer spent ~4.5 us on an 18-field ``CallRated``; writing outputs and states was
~17% of the batch path, reading CDRs ~8%. ``schemas/avro_kernel.pyx`` writes the same bytes in
~0.4 us, and reads, by walking a plan made here once per schema. The kernel handles only what it
is sure of; for anything else it gives up and fastavro writes or reads (or refuses) the record,
so what is valid Avro is still fastavro's decision, and the result is the same either way
(``tests/unit/test_avro_kernel.py`` proves it on generated records of every schema, and on
mutated bytes).

The kernel is built by ``pip install`` (``setup.py``; Cython and a C compiler). Where it could not
be built, ``COMPILED`` is False and everything goes through fastavro: slower, the same result.
"""

from __future__ import annotations

import io
from typing import Any, Callable

import fastavro

try:
    from schemas import avro_kernel
except ImportError:  # not built here (no compiler at install): fastavro writes everything
    avro_kernel = None

COMPILED = avro_kernel is not None
_PRIMITIVES = ("null", "boolean", "int", "long", "string", "bytes")


class Unsupported(Exception):
    """A schema with something the kernel does not write (a logical type, a wider union, a
    recursive type): its records all go through fastavro."""


def plan_of(schema: Any, named: dict[str, Any], expanding: tuple[str, ...] = ()) -> tuple:
    """The kernel's plan of a fastavro-parsed schema: nested (code, argument) tuples."""
    codes = avro_kernel.CODES if avro_kernel is not None else {}
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return codes.get(schema), None
        if schema not in named or schema in expanding:
            raise Unsupported(f"reference {schema}")
        return plan_of(named[schema], named, expanding + (schema,))
    if isinstance(schema, list):
        return _union_plan(schema, named, expanding, codes)
    if not isinstance(schema, dict) or "logicalType" in schema:
        raise Unsupported(repr(schema)[:80])
    kind = schema["type"]
    if kind in _PRIMITIVES:
        return codes.get(kind), None
    if kind == "record":
        name = schema.get("name", "")
        inner = expanding + (name,)
        return codes.get("record"), tuple((f["name"], plan_of(f["type"], named, inner)) for f in schema["fields"])
    if kind == "array":
        return codes.get("array"), plan_of(schema["items"], named, expanding)
    if kind == "map":
        return codes.get("map"), plan_of(schema["values"], named, expanding)
    if kind == "enum":
        symbols = tuple(schema["symbols"])
        return codes.get("enum"), ({symbol: i for i, symbol in enumerate(symbols)}, symbols)
    raise Unsupported(f"type {kind}")


def _union_plan(branches: list, named: dict[str, Any], expanding: tuple[str, ...], codes: dict) -> tuple:
    """Only ["null", T] (either order, T not null): fastavro picks null for None, T otherwise."""
    if len(branches) != 2 or branches.count("null") != 1:
        raise Unsupported(f"union {branches!r}"[:80])
    null_at = branches.index("null")
    other = plan_of(branches[1 - null_at], named, expanding)
    return codes.get("nullable"), (null_at, 1 - null_at, other)


class AvroKernel:
    """Writes and reads records of registered schemas; plans are made once per schema id."""

    def __init__(self, compiled: bool = COMPILED) -> None:
        self.compiled = compiled and COMPILED  # False: fastavro does everything
        self._plans: dict[int, tuple | None] = {}

    def plan(self, schema_id: int, parsed: Any) -> tuple | None:
        """The schema's plan, or None when the kernel is not built or cannot handle it."""
        if schema_id not in self._plans:
            try:
                self._plans[schema_id] = plan_of(parsed, parsed.get("__named_schemas", {})) if self.compiled else None
            except Unsupported:
                self._plans[schema_id] = None
        return self._plans[schema_id]

    def write(self, header: bytes, schema_id: int, parsed: Any, record: Any,
              as_dicts: Callable[[], Any] | None = None) -> bytes:
        """``header`` then the record, as fastavro writes it (or fastavro's error). A record that
        holds objects of ``attribute_records`` types comes with ``as_dicts``: the same record in
        dicts, for fastavro when the kernel gives up."""
        plan = self.plan(schema_id, parsed)
        if plan is not None:
            try:
                return avro_kernel.write(header, plan, record)
            except Exception:  # Unfit, or a value past 64 bits: fastavro writes it or says why not
                pass
        return fastavro_write(header, parsed, record if as_dicts is None else as_dicts())

    def read(self, value: bytes, start: int, schema_id: int, parsed: Any) -> tuple[Any, int]:
        """(the record at ``value[start:]`` written and read with this schema, the position after
        it), as fastavro reads it (or fastavro's error)."""
        plan = self.plan(schema_id, parsed)
        if plan is not None:
            try:
                return avro_kernel.read(value, start, plan)
            except Exception:  # Unfit: bytes from outside that fastavro reads or refuses
                pass
        return fastavro_read(value, start, parsed)


def attribute_records(types: tuple[type, ...]) -> None:
    """The kernel may write records of these types (frozen dataclasses whose attributes are, by
    name, the record's fields) straight from their attributes; callers pass ``as_dicts``."""
    if COMPILED:
        avro_kernel.attribute_records(types)


def write_state(header: bytes, state: Any, status: str, dedup_keys: bytes, call_charges: bytes) -> bytes | None:
    """An AccountState v10 record by the kernel's writer for it (``avro_kernel.write_state``);
    None when the kernel is not built or not sure of a value (then the caller writes the dict)."""
    if not COMPILED:
        return None
    try:
        return avro_kernel.write_state(header, state, status, dedup_keys, call_charges)
    except Exception:  # Unfit, or a value past 64 bits
        return None


def fastavro_read(value: bytes, start: int, parsed: Any, reader: Any = None) -> tuple[Any, int]:
    """The reference reader, also the one that resolves an older writer schema to ``reader``."""
    buf = io.BytesIO(value)
    buf.seek(start)
    return fastavro.schemaless_reader(buf, parsed, reader), buf.tell()


def fastavro_write(header: bytes, parsed: Any, record: Any) -> bytes:
    """The reference: what the codec wrote before the kernel, and writes when it gives up."""
    buf = io.BytesIO()
    buf.write(header)
    fastavro.schemaless_writer(buf, parsed, record)
    return buf.getvalue()

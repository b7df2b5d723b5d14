"""Canonical forms of projections, so two of them can be compared by one value (rebuild = live).

A state's dicts keep the order their keys were first written in, which differs between a worker
that folded in batches and a rebuild that folded in others; ``sorted_maps`` puts every dict in
key order, so two states equal field by field become equal byte for byte once encoded.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import TypeVar

T = TypeVar("T")


def sorted_maps(value: T) -> T:
    """``value`` with every dict in it, dataclass fields and tuples included, in key order."""
    if isinstance(value, dict):
        return {k: sorted_maps(value[k]) for k in sorted(value)}  # type: ignore[return-value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(sorted_maps(v) for v in value)  # type: ignore[return-value]
    if is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: sorted_maps(getattr(value, f.name)) for f in fields(value) if f.init}
        return replace(value, **changed)
    return value

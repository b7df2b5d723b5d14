"""Stable 64-bit identities: content fingerprints of events and the ids of dedup keys.

Python's ``hash`` is salted per process; these are stable across processes and releases, which
is what a state record kept in Kafka and a rebuild need.
"""

from __future__ import annotations

import hashlib

try:  # BLAKE2b in C (projections/blake2b_kernel.pyx, built by setup.py): ~1 us less a hash
    from projections.blake2b_kernel import hash64 as _compiled_hash64
except ImportError:  # an install without a C compiler: hashlib, the same numbers
    _compiled_hash64 = None


def hash64_reference(raw: bytes) -> int:
    """BLAKE2b cut to 64 bits, signed so it fits an Avro long: the reference the kernel is
    tested against (``tests/unit/test_blake2b_kernel.py``)."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


hash64 = _compiled_hash64 if _compiled_hash64 is not None else hash64_reference


def fingerprint(*parts: object) -> int:
    """A stable 64-bit content hash of ``parts`` (``str()`` of each, joined by 0x1f)."""
    return hash64("\x1f".join(str(p) for p in parts).encode())


def dedup_key_id(key: str) -> int:
    """A dedup key as the 64-bit id the state keeps: 24 bytes a key in the state record instead of
    ~49, which is most of what every batch writes per account. Two keys sharing an id would make
    the later event a conflict (dead-lettered, loud) unless its content fingerprint matched too,
    so a collision can refuse a call but never charge one twice; with 20,000 keys an account the
    chance of any is ~1e-11 per dedup window."""
    return hash64(key.encode())

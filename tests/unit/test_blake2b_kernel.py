"""The compiled BLAKE2b (``projections/blake2b_kernel.pyx``) against hashlib, its reference.

Dedup key ids and content fingerprints are kept in account states and compared on every
rebuild, so the kernel must give hashlib's numbers for every input: generated ones, and every
length around the 128-byte block, where the last block (final even when full) is handled."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections import blake2b_kernel as kernel  # built by `make` (setup.py), as the tests expect
from projections import identity


def test_kernel_is_built_and_is_what_hash64_uses():
    """`make` builds it (setup.py); a build without it would pass every other test, slower."""
    assert identity.hash64 is kernel.hash64


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_the_kernel_gives_hashlibs_numbers(raw):
    assert kernel.hash64(raw) == identity.hash64_reference(raw)


def test_every_length_around_the_block_and_the_known_vector():
    for n in range(0, 3 * 128 + 2):
        raw = bytes((i * 7 + n) % 256 for i in range(n))
        assert kernel.hash64(raw) == identity.hash64_reference(raw), n
    # RFC 7693's own input ("abc"), cut to 8 bytes by the parameter block, not by truncation.
    digest = hashlib.blake2b(b"abc", digest_size=8).digest()
    assert kernel.hash64(b"abc") == int.from_bytes(digest, "big", signed=True)
    assert digest != hashlib.blake2b(b"abc").digest()[:8]


def test_a_dedup_id_and_a_fingerprint_are_unchanged():
    """Numbers already in states on the log: the kernel must never move them."""
    assert identity.dedup_key_id("c:carrier-1/call-1") == -7330120237986913278  # as written by hashlib before
    assert identity.fingerprint("acct-1", 5_000_000, "USD", 1_764_547_200_000) == identity.hash64_reference(
        "acct-1\x1f5000000\x1fUSD\x1f1764547200000".encode())


def test_what_is_not_bytes_is_refused_as_hashlib_refuses_it():
    with pytest.raises(TypeError):
        kernel.hash64(None)
    with pytest.raises(TypeError):
        identity.hash64_reference("text")
    with pytest.raises(TypeError):
        kernel.hash64("text")

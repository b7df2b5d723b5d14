# cython: language_level=3, boundscheck=False, wraparound=False
"""BLAKE2b cut to 8 bytes (RFC 7693), in C: ``projections/identity.py: hash64`` without hashlib.

Why (issue 22): a CDR takes three of these hashes (its content fingerprint, its dedup key's id
and its parties' fingerprint), and through hashlib each cost ~1 us: a hash object made with a
keyword argument, a digest, and ``int.from_bytes`` with two more. The hash is fixed for good
(the ids and fingerprints are kept in account states and compared on every rebuild), so this
computes exactly BLAKE2b with an 8-byte digest, unkeyed, and returns what ``hash64`` returns:
the digest read as a big-endian signed 64-bit integer. hashlib stays the reference:
``tests/unit/test_blake2b_kernel.py`` holds the two equal on generated inputs of every length
around the 128-byte block. Built by setup.py, optional: without it ``hash64`` uses hashlib.
"""

from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy, memset

cdef uint64_t[8] _IV = [
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
]

# The message schedule of the ten distinct rounds; rounds 10 and 11 reuse rows 0 and 1 (RFC 7693).
cdef unsigned char[10][16] _SIGMA = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
]


cdef inline uint64_t _rotr(uint64_t x, int n) noexcept nogil:
    return (x >> n) | (x << (64 - n))


cdef inline uint64_t _load64(const unsigned char* p) noexcept nogil:
    """A little-endian word, whatever the machine's order."""
    cdef uint64_t w = 0
    cdef int i
    for i in range(7, -1, -1):
        w = (w << 8) | p[i]
    return w


ctypedef (uint64_t, uint64_t, uint64_t, uint64_t) _Quad


cdef inline _Quad _g(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t x, uint64_t y) noexcept nogil:
    """RFC 7693 section 3.1, G; on values, not on the array, so that the compiler keeps the
    sixteen words of the working vector in registers (~2x faster than through a pointer)."""
    a = a + b + x
    d = _rotr(d ^ a, 32)
    c = c + d
    b = _rotr(b ^ c, 24)
    a = a + b + y
    d = _rotr(d ^ a, 16)
    c = c + d
    b = _rotr(b ^ c, 63)
    return a, b, c, d


cdef void _compress(uint64_t* h, const unsigned char* block, uint64_t counted, bint last) noexcept nogil:
    """RFC 7693 section 3.2, F: one 128-byte block into the state ``h``; ``counted``: the bytes
    hashed so far, this block's included (inputs here are far below 2**64 bytes)."""
    cdef uint64_t m[16]
    cdef int i, r
    cdef const unsigned char* s
    for i in range(16):
        m[i] = _load64(block + 8 * i)
    cdef uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7]
    cdef uint64_t v8 = _IV[0], v9 = _IV[1], v10 = _IV[2], v11 = _IV[3]
    cdef uint64_t v12 = _IV[4] ^ counted, v13 = _IV[5], v14 = _IV[6], v15 = _IV[7]
    if last:
        v14 = ~v14
    for r in range(12):
        s = _SIGMA[r % 10]
        v0, v4, v8, v12 = _g(v0, v4, v8, v12, m[s[0]], m[s[1]])
        v1, v5, v9, v13 = _g(v1, v5, v9, v13, m[s[2]], m[s[3]])
        v2, v6, v10, v14 = _g(v2, v6, v10, v14, m[s[4]], m[s[5]])
        v3, v7, v11, v15 = _g(v3, v7, v11, v15, m[s[6]], m[s[7]])
        v0, v5, v10, v15 = _g(v0, v5, v10, v15, m[s[8]], m[s[9]])
        v1, v6, v11, v12 = _g(v1, v6, v11, v12, m[s[10]], m[s[11]])
        v2, v7, v8, v13 = _g(v2, v7, v8, v13, m[s[12]], m[s[13]])
        v3, v4, v9, v14 = _g(v3, v4, v9, v14, m[s[14]], m[s[15]])
    h[0] ^= v0 ^ v8
    h[1] ^= v1 ^ v9
    h[2] ^= v2 ^ v10
    h[3] ^= v3 ^ v11
    h[4] ^= v4 ^ v12
    h[5] ^= v5 ^ v13
    h[6] ^= v6 ^ v14
    h[7] ^= v7 ^ v15


cdef uint64_t _bswap(uint64_t x) noexcept nogil:
    cdef uint64_t out = 0
    cdef int i
    for i in range(8):
        out = (out << 8) | ((x >> (8 * i)) & 0xff)
    return out


def hash64(bytes raw not None):
    """BLAKE2b with an 8-byte digest, read as a big-endian signed integer (``hashlib``'s
    ``int.from_bytes(blake2b(raw, digest_size=8).digest(), "big", signed=True)``)."""
    cdef const unsigned char* data = raw
    cdef Py_ssize_t n = len(raw), done = 0
    cdef uint64_t h[8]
    cdef unsigned char last[128]
    cdef int i
    for i in range(8):
        h[i] = _IV[i]
    h[0] ^= 0x01010000ULL ^ 8  # parameter block: digest length 8, no key, fanout and depth 1
    while n - done > 128:  # every block but the last, which is final even when full
        _compress(h, data + done, <uint64_t>(done + 128), False)
        done += 128
    memset(last, 0, 128)
    memcpy(last, data + done, n - done)
    _compress(h, last, <uint64_t>n, True)
    # The digest is h[0]'s first 8 bytes in little-endian order; read big-endian, signed.
    return <int64_t>_bswap(h[0])

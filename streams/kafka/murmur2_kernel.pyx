# cython: language_level=3, boundscheck=False, wraparound=False
"""Kafka's murmur2 of a record key, in C: which partition an account's records go to.

``streams/kafka/partitioning.py`` places every account by Kafka's default partitioner, murmur2
of the key's bytes, as the Java client computes it (``org.apache.kafka.common.utils.Utils``).
aiokafka's pure-Python murmur2 costs ~2.6 us a key: the authorization process computed one per
mirrored account when the worker lost partitions (~0.7 s for 300k accounts, its loop stalled),
and the edge one per event it logs. This is the same function on unsigned 32-bit words; the
Python one stays the reference (``tests/unit/test_murmur2_kernel.py``). Built by setup.py,
optional: without it the Python one is used.
"""

from libc.stdint cimport uint32_t


def murmur2(bytes data):
    """Kafka's murmur2 of ``data``, an int in [0, 2**32)."""
    cdef const unsigned char* p = data
    cdef Py_ssize_t length = len(data), i, tail
    cdef uint32_t m = 0x5BD1E995, h, k
    h = <uint32_t>0x9747B28C ^ <uint32_t>length
    for i in range(0, length - length % 4, 4):
        k = p[i] | (<uint32_t>p[i + 1] << 8) | (<uint32_t>p[i + 2] << 16) | (<uint32_t>p[i + 3] << 24)
        k *= m
        k ^= k >> 24
        k *= m
        h *= m
        h ^= k
    tail = length & ~3
    if length % 4 >= 3:
        h ^= <uint32_t>p[tail + 2] << 16
    if length % 4 >= 2:
        h ^= <uint32_t>p[tail + 1] << 8
    if length % 4 >= 1:
        h ^= p[tail]
        h *= m
    h ^= h >> 13
    h *= m
    h ^= h >> 15
    return h

"""Kafka's murmur2 in C (``streams/kafka/murmur2_kernel.pyx``) against aiokafka's, its reference.

An account's partition must be the one Kafka's own clients give its key (producers of other
languages, the changelog, the events topic): one different number and an account's events and
state would live apart. So the kernel must give the reference's number for every key."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kafka import partitioning
from streams.kafka import murmur2_kernel as kernel  # built by `make` (setup.py), as the tests expect


def test_the_kernel_is_built_and_is_what_partitioning_uses():
    assert partitioning.murmur2 is kernel.murmur2


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_the_kernel_gives_the_references_numbers(key):
    assert kernel.murmur2(key) == partitioning.murmur2_reference(key)


def test_every_tail_length_and_the_java_clients_partitions():
    for n in range(0, 40):
        key = bytes((i * 37 + n) % 256 for i in range(n))
        assert kernel.murmur2(key) == partitioning.murmur2_reference(key), n
    # Kafka's Java murmur2 of these keys, as signed ints (the vectors of Akka's Murmur2Spec, taken
    # from Kafka's Utils.murmur2): one per tail length.
    java = {b"1": -1993445489, b"12": 126087238, b"123": -267702483, b"1234": -1614185708, b"12345": -1188365604}
    assert {key: kernel.murmur2(key) for key in java} == {key: n & 0xFFFFFFFF for key, n in java.items()}

"""Where an account lives: the partition of its events and of its state."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as murmur2_reference

try:  # the same murmur2 in C (streams/kafka/murmur2_kernel.pyx, built by setup.py): ~2.6 us less a key
    from streams.kafka.murmur2_kernel import murmur2
except ImportError:  # pragma: no cover - a build without the kernel: aiokafka's, in Python
    murmur2 = murmur2_reference


def partition_for(account_id: str, partitions: int) -> int:
    """The partition of an account: Kafka's default partitioner (murmur2 of the key bytes).

    Producers, the events topic and the accounts table changelog all use it, so an account's
    events and its state always live in the same partition number.
    """
    return (murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions

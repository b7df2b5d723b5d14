"""Kafka clients: topic administration, producers, readers, partitioning and security (R35)."""

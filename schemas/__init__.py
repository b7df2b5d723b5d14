"""Avro schemas of every event and the Confluent-framed codec."""

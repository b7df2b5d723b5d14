"""Avro schemas of every event and the Confluent-framed codec."""

from projections.compiled import install

install()  # a stale compiled build never runs: the source does (projections/compiled.py)

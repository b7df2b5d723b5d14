"""The stream layer: Faust app, Kafka and ClickHouse I/O, CLI."""

from projections.compiled import install

install()  # a stale compiled build never runs: the source does (projections/compiled.py)

"""The stream layer: Faust app, Kafka and ClickHouse I/O, CLI."""

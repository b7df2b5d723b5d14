"""What the workers show about themselves: Prometheus metrics and JSON logs."""

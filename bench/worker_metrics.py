"""A worker's /metrics as the benchmarks read it: every sample, by name with its labels."""

from __future__ import annotations

import urllib.request


def scrape(metrics_port: int) -> dict[str, float]:
    """The worker's /metrics: sample (name with labels) -> value."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}

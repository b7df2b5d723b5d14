"""The yardstick every benchmark prints beside its figures (issue 22): how fast this machine, today,
decodes the v1 ``CallDetailRecord`` with fastavro alone (schemaless, 200k records in a loop, one
core). Targets are ratios to it, so a figure means the same on a slow day and on a fast one.

    python bench/calibration.py      # prints it alone, as JSON
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import fastavro

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "avro" / "CallDetailRecord.v1.avsc"
RECORDS = 200_000


def _record(i: int) -> dict:
    start = 1_790_812_800_000 + i * 1_000
    return {"event_id": f"cdr-{i}", "carrier_id": "carrier-a", "call_id": f"call-{i}",
            "account_id": f"acct-{i % 5_000:06d}", "caller": "15550000001", "callee": f"1212555{i % 10_000:04d}",
            "start_at_ms": start, "answer_at_ms": start + 3_000, "end_at_ms": start + 93_000,
            "disposition": "ANSWERED", "direction": "OUTBOUND", "trunk": "trunk-1"}


def calibration(records: int = RECORDS) -> dict:
    """fastavro's schemaless decode rate of the v1 CDR on one core, best of three loops."""
    schema = fastavro.parse_schema(json.loads(SCHEMA.read_text()))
    encoded = []
    for i in range(1_000):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, schema, _record(i))
        encoded.append(buffer.getvalue())
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for i in range(records):
            fastavro.schemaless_reader(io.BytesIO(encoded[i % 1_000]), schema)
        best = min(best, time.perf_counter() - t)
    return {"what": "fastavro schemaless decode, v1 CallDetailRecord, one core", "records": records,
            "records_per_s": round(records / best)}


def ratio(rate: float, calibrated: dict) -> float:
    """A rate as a multiple of the calibration (the issue's targets are such ratios)."""
    return round(rate / calibrated["records_per_s"], 4)


if __name__ == "__main__":
    print(json.dumps(calibration()))

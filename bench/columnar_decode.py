"""Benchmark: what a columnar CDR envelope would save on decoding (issue 22's first lever); prints JSON.

Not the lever itself, a measurement for choosing it. The same CDRs (v1 fields, envelopes of
``--envelope``) are decoded by fastavro two ways:

- ``records``: today's envelope, an array of CDR records (``CallDetailRecordBatch``): one dict
  per CDR;
- ``columns``: a record of one array per field (the schema is written here, not registered):
  one list per field, no object per CDR;
- ``columns_to_tuples``: the same, then one tuple per CDR (``zip``), for a fold that still
  wants one object per call;
- ``packed``: one ``bytes`` field per column (integers as little-endian int64, a null as
  ``NULL``; enums as their index; strings joined by ``\x1f``) read into ``array``s and one
  string per column: no Python object per value, what a compiled fold over arrays would take;
- ``packed_to_tuples``: the same, then split and zipped into one tuple per CDR.

    python bench/columnar_decode.py [--cdrs 200000] [--envelope 200]
"""

from __future__ import annotations

import argparse
import io
from array import array
import json
import sys
import time
from pathlib import Path

import fastavro

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from streams.kafka.producer import ENVELOPE_CDRS_MAX as ENVELOPE_MAX  # noqa: E402
from bench.calibration import SCHEMA, _record, calibration, ratio  # noqa: E402

FIELDS = json.loads(SCHEMA.read_text())["fields"]


def _columns_schema() -> dict:
    """The v1 CDR's fields, each as an array (nullable and enum fields keep their types)."""
    return {"type": "record", "name": "CallDetailRecordColumns", "namespace": "bench",
            "fields": [{"name": f["name"], "type": {"type": "array", "items": f["type"]}} for f in FIELDS]}


def _records_schema() -> dict:
    return {"type": "record", "name": "CallDetailRecordBatch", "namespace": "bench",
            "fields": [{"name": "records", "type": {"type": "array", "items": json.loads(SCHEMA.read_text())}}]}


NULL = -(2**63)  # a packed null (answer_at_ms of an unanswered call)
SEP = "\x1f"


def _packed_schema() -> dict:
    return {"type": "record", "name": "CallDetailRecordPacked", "namespace": "bench",
            "fields": [{"name": f["name"], "type": "bytes"} for f in FIELDS]}


def _pack(cdrs: list[dict]) -> dict:
    out = {}
    for f in FIELDS:
        values = [c[f["name"]] for c in cdrs]
        if isinstance(f["type"], dict):  # an enum: its symbol's index
            symbols = f["type"]["symbols"]
            out[f["name"]] = array("q", [symbols.index(v) for v in values]).tobytes()
        elif f["type"] == "string":
            out[f["name"]] = SEP.join(values).encode()
        else:  # long, or [null, long]
            out[f["name"]] = array("q", [NULL if v is None else v for v in values]).tobytes()
    return out


def _encode(schema: dict, datum: dict) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, datum)
    return buffer.getvalue()


def _timed(decode, messages: list[bytes]) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for m in messages:
            decode(m)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cdrs", type=within(1), default=200_000)
    p.add_argument("--envelope", type=within(1, ENVELOPE_MAX), default=200)
    args = p.parse_args()
    records_schema = fastavro.parse_schema(_records_schema())
    columns_schema = fastavro.parse_schema(_columns_schema())
    packed_schema = fastavro.parse_schema(_packed_schema())
    names = [f["name"] for f in FIELDS]
    strings = {f["name"] for f in FIELDS if f["type"] == "string"}
    as_records, as_columns, as_packed = [], [], []
    for start in range(0, args.cdrs, args.envelope):
        cdrs = [_record(i) for i in range(start, min(args.cdrs, start + args.envelope))]
        as_records.append(_encode(records_schema, {"records": cdrs}))
        as_columns.append(_encode(columns_schema, {n: [c[n] for c in cdrs] for n in names}))
        as_packed.append(_encode(packed_schema, _pack(cdrs)))
    # The two encodings must hold the same CDRs, or the comparison means nothing.
    back = fastavro.schemaless_reader(io.BytesIO(as_columns[0]), columns_schema)
    assert [dict(zip(names, row)) for row in zip(*(back[n] for n in names))] == \
        fastavro.schemaless_reader(io.BytesIO(as_records[0]), records_schema)["records"]

    def records(m: bytes) -> object:
        return fastavro.schemaless_reader(io.BytesIO(m), records_schema)["records"]

    def columns(m: bytes) -> object:
        return fastavro.schemaless_reader(io.BytesIO(m), columns_schema)

    def columns_to_tuples(m: bytes) -> object:
        d = fastavro.schemaless_reader(io.BytesIO(m), columns_schema)
        return list(zip(*(d[n] for n in names)))

    def packed(m: bytes) -> object:
        d = fastavro.schemaless_reader(io.BytesIO(m), packed_schema)
        out = {}
        for n in names:
            if n in strings:
                out[n] = d[n].decode()
            else:
                a = out[n] = array("q")
                a.frombytes(d[n])
        return out

    def packed_to_tuples(m: bytes) -> object:
        d = packed(m)
        return list(zip(*(d[n].split(SEP) if n in strings else d[n] for n in names)))

    # ... and the packing holds the same CDRs as the records (enums as indexes, null as NULL).
    first = fastavro.schemaless_reader(io.BytesIO(as_records[0]), records_schema)["records"]
    assert [row[0] for row in packed_to_tuples(as_packed[0])] == [c["event_id"] for c in first]
    assert [row[7] for row in packed_to_tuples(as_packed[0])] == [
        NULL if c["answer_at_ms"] is None else c["answer_at_ms"] for c in first]

    calibrated = calibration()
    out = {"benchmark": "columnar_decode", "cdrs": args.cdrs, "envelope": args.envelope,
           "bytes_per_cdr": {"records": round(sum(map(len, as_records)) / args.cdrs, 1),
                             "columns": round(sum(map(len, as_columns)) / args.cdrs, 1),
                             "packed": round(sum(map(len, as_packed)) / args.cdrs, 1)},
           "calibration": calibrated}
    for name, decode, messages in (("records", records, as_records), ("columns", columns, as_columns),
                                   ("columns_to_tuples", columns_to_tuples, as_columns),
                                   ("packed", packed, as_packed), ("packed_to_tuples", packed_to_tuples, as_packed)):
        rate = args.cdrs / _timed(decode, messages)
        out[f"{name}_cdr_per_s"] = round(rate)
        out[f"{name}_to_calibration"] = ratio(rate, calibrated)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

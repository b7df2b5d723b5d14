"""Schemas evolve, never mutate.

- A committed ``.avsc`` file is never edited in place: its checksum is locked in
  ``schemas/avro/SHA256SUMS``. A change is a new version: a new file with a new id.
- Every older version of a subject stays readable by the newest (backward, transitively), by
  Avro's resolution rules, checked statically by ``schemas/compat.py``.
- That checker really fails on each kind of breaking change (so the check above can fail).
"""

from __future__ import annotations

import copy
import hashlib
from collections import defaultdict

import pytest

from schemas.codec import SCHEMA_DIR, committed_schemas
from schemas.compat import backward_problems

COMMITTED = committed_schemas()
LOCK = SCHEMA_DIR / "SHA256SUMS"


def _locked() -> dict[str, str]:
    out = {}
    for line in LOCK.read_text().splitlines():
        digest, name = line.split()
        out[name] = digest
    return out


def test_every_committed_schema_file_is_locked_and_unchanged():
    locked = _locked()
    for entry in COMMITTED:
        name = entry["file"]
        assert name in locked, f"{name} is not in SHA256SUMS: run `sha256sum *.avsc > SHA256SUMS` in schemas/avro when adding it"
        actual = hashlib.sha256((SCHEMA_DIR / name).read_bytes()).hexdigest()
        assert actual == locked[name], f"{name} was edited in place: add a new version (a new file and id) instead"


def test_every_schema_file_is_registered():
    files = {p.name for p in SCHEMA_DIR.glob("*.avsc")}
    assert files == {e["file"] for e in COMMITTED}


def _versions() -> dict[str, list[dict]]:
    by_subject: dict[str, list[dict]] = defaultdict(list)
    for entry in COMMITTED:
        by_subject[entry["subject"]].append(entry)
    return {s: sorted(v, key=lambda e: e["version"]) for s, v in by_subject.items()}


def test_versions_of_a_subject_are_numbered_one_up_with_matching_record_names():
    for subject, versions in _versions().items():
        assert [v["version"] for v in versions] == list(range(1, len(versions) + 1)), subject
        for v in versions:
            schema = v["schema"]
            assert f"{schema.get('namespace', '')}.{schema['name']}".lstrip(".") == subject
            assert v["file"] == f"{schema['name']}.v{v['version']}.avsc"


@pytest.mark.parametrize("subject", sorted(_versions()))
def test_every_older_version_is_readable_with_the_newest(subject):
    versions = _versions()[subject]
    newest = versions[-1]["schema"]
    for older in versions[:-1]:
        assert backward_problems(older["schema"], newest) == [], f"{subject} v{older['version']}"
    for a, b in zip(versions, versions[1:]):
        assert backward_problems(a["schema"], b["schema"]) == [], f"{subject} v{a['version']} -> v{b['version']}"


# --- the checker itself fails on breaking changes ----------------------------------------------

BASE = {
    "type": "record", "name": "Sample", "namespace": "voiceledger",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "amount_micros", "type": "long"},
        {"name": "count", "type": "int"},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["A", "B"]}},
        {"name": "answer_at_ms", "type": ["null", "long"], "default": None},
        {"name": "lines", "type": {"type": "array", "items": {
            "type": "record", "name": "Line", "fields": [{"name": "amount_micros", "type": "long"}]}}},
    ],
}


def _changed(edit) -> dict:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def _field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


GOOD_CHANGES = {
    "new field with a default": lambda s: s["fields"].append({"name": "trunk", "type": "string", "default": ""}),
    "field removed": lambda s: s["fields"].pop(1),
    "int promoted to long": lambda s: _field(s, "count").update(type="long"),
    "enum symbol added": lambda s: _field(s, "status")["type"]["symbols"].append("C"),
    "union widened": lambda s: _field(s, "answer_at_ms").update(type=["null", "long", "string"]),
    "nested field with a default": lambda s: _field(s, "lines")["type"]["items"]["fields"].append(
        {"name": "note", "type": "string", "default": ""}),
}

BREAKING_CHANGES = {
    "new field without a default": lambda s: s["fields"].append({"name": "trunk", "type": "string"}),
    "long narrowed to int": lambda s: _field(s, "amount_micros").update(type="int"),
    "string to long": lambda s: _field(s, "event_id").update(type="long"),
    "enum symbol removed": lambda s: _field(s, "status")["type"].update(symbols=["A"]),
    "union narrowed": lambda s: _field(s, "answer_at_ms").update(type="long"),
    "nested field without a default": lambda s: _field(s, "lines")["type"]["items"]["fields"].append(
        {"name": "note", "type": "string"}),
    "record renamed": lambda s: s.update(name="Other"),
}


@pytest.mark.parametrize("name", sorted(GOOD_CHANGES))
def test_checker_accepts_compatible_change(name):
    assert backward_problems(BASE, _changed(GOOD_CHANGES[name])) == []


@pytest.mark.parametrize("name", sorted(BREAKING_CHANGES))
def test_checker_rejects_breaking_change(name):
    assert backward_problems(BASE, _changed(BREAKING_CHANGES[name])) != []


def test_enum_with_a_reader_default_may_drop_symbols():
    reader = _changed(lambda s: _field(s, "status")["type"].update(symbols=["A", "UNKNOWN"], default="UNKNOWN"))
    assert backward_problems(BASE, reader) == []

"""Backward compatibility of Avro schemas: can a reader on the new schema read the old bytes?

Schemas evolve, never mutate: a new version is a new file with a new id, and every older version
of the same subject must stay readable with the newest one (Confluent's BACKWARD_TRANSITIVE).
This checks that statically, with Avro's schema-resolution rules, for the schema shapes
voiceledger uses (records, enums, arrays, maps, unions, primitives, named references):

- a reader field the writer lacks needs a default; a writer field the reader lacks is skipped;
- primitives match, or are promoted (int -> long/float/double, long -> float/double,
  float -> double, string <-> bytes);
- an enum keeps every writer symbol, unless the reader enum has a default symbol;
- every branch of a writer union must resolve to a branch of the reader.

``tests/unit/test_schema_evolution.py`` runs it over every committed version, and proves it
rejects each kind of breaking change.
"""

from __future__ import annotations

from typing import Any

PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "double": {"double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
    "boolean": {"boolean"},
    "null": {"null"},
}


def _collect_named(schema: Any, namespace: str, out: dict[str, dict]) -> None:
    """Index every named type (record, enum, fixed) by its full name and its short name."""
    if isinstance(schema, list):
        for branch in schema:
            _collect_named(branch, namespace, out)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            ns = schema.get("namespace", namespace)
            full = schema["name"] if "." in schema["name"] else f"{ns}.{schema['name']}"
            out[full] = schema
            out.setdefault(schema["name"], schema)
            for field in schema.get("fields", ()):
                _collect_named(field["type"], ns, out)
        elif kind == "array":
            _collect_named(schema["items"], namespace, out)
        elif kind == "map":
            _collect_named(schema["values"], namespace, out)


class _Checker:
    def __init__(self, writer: Any, reader: Any) -> None:
        self.writer_named: dict[str, dict] = {}
        self.reader_named: dict[str, dict] = {}
        _collect_named(writer, "", self.writer_named)
        _collect_named(reader, "", self.reader_named)
        self.problems: list[str] = []
        self._seen: set[tuple[str, str]] = set()

    def _deref(self, schema: Any, named: dict[str, dict]) -> Any:
        if isinstance(schema, str) and schema not in PROMOTIONS:
            return named.get(schema, schema)
        if isinstance(schema, dict) and schema.get("type") in PROMOTIONS and len(schema) == 1:
            return schema["type"]  # {"type": "long"} is just "long"
        return schema

    @staticmethod
    def _kind(schema: Any) -> str:
        if isinstance(schema, list):
            return "union"
        if isinstance(schema, str):
            return schema
        return schema["type"]

    def _resolves(self, writer: Any, reader: Any) -> bool:
        """Whether writer data resolves against reader, without recording problems."""
        probe = _Checker.__new__(_Checker)
        probe.writer_named, probe.reader_named = self.writer_named, self.reader_named
        probe.problems, probe._seen = [], set(self._seen)
        probe.check(writer, reader, "")
        return not probe.problems

    def check(self, writer: Any, reader: Any, path: str) -> None:
        writer = self._deref(writer, self.writer_named)
        reader = self._deref(reader, self.reader_named)
        wk, rk = self._kind(writer), self._kind(reader)
        if wk == "union":
            for branch in writer:
                self.check(branch, reader, path)
            return
        if rk == "union":
            if not any(self._resolves(writer, branch) for branch in reader):
                self.problems.append(f"{path or '<root>'}: writer type {wk} matches no branch of the reader union")
            return
        if wk in PROMOTIONS or rk in PROMOTIONS:
            if wk not in PROMOTIONS or rk not in PROMOTIONS[wk]:
                self.problems.append(f"{path or '<root>'}: type changed from {wk} to {rk}")
            return
        if wk != rk:
            self.problems.append(f"{path or '<root>'}: type changed from {wk} to {rk}")
            return
        if wk == "array":
            self.check(writer["items"], reader["items"], path + "[]")
        elif wk == "map":
            self.check(writer["values"], reader["values"], path + "{}")
        elif wk == "enum":
            missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if missing and "default" not in reader:
                self.problems.append(f"{path or '<root>'}: enum {reader['name']} lost symbols {missing}")
        elif wk == "fixed":
            if writer.get("size") != reader.get("size"):
                self.problems.append(f"{path or '<root>'}: fixed size changed")
        elif wk == "record":
            key = (writer["name"], reader["name"])
            if key in self._seen:  # a recursive type: already being checked
                return
            self._seen.add(key)
            if writer["name"].split(".")[-1] != reader["name"].split(".")[-1]:
                self.problems.append(f"{path or '<root>'}: record renamed from {writer['name']} to {reader['name']}")
            writer_fields = {f["name"]: f for f in writer["fields"]}
            for field in reader["fields"]:
                name = f"{path}.{field['name']}" if path else field["name"]
                old = writer_fields.get(field["name"])
                if old is None:
                    old = next((writer_fields[a] for a in field.get("aliases", ()) if a in writer_fields), None)
                if old is None:
                    if "default" not in field:
                        self.problems.append(f"{name}: new field without a default")
                    continue
                self.check(old["type"], field["type"], name)


def backward_problems(writer: Any, reader: Any) -> list[str]:
    """Why bytes written with ``writer`` cannot be read with ``reader``; empty when they can."""
    checker = _Checker(writer, reader)
    checker.check(writer, reader, "")
    return checker.problems

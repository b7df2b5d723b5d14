"""A Confluent-compatible Schema Registry, over its REST API, as the codec's registry.

Used when ``schema_registry_url`` is set; the file registry (``schemas/registry.json``) is the
default. Subjects follow Confluent's RecordNameStrategy: the subject of a schema is its record's
full name (``voiceledger.CallDetailRecord``), which is what lets one topic carry several event
types. On start, every committed schema version is registered under its subject, in version
order (registering an existing schema is idempotent and returns its id). The registry assigns
the ids, so bytes written with it carry the registry's ids, not the file registry's.

Endpoints used (Confluent Schema Registry API v1):

- ``POST /subjects/{subject}/versions`` with ``{"schema": "<json>"}`` -> ``{"id": N}``
- ``GET /schemas/ids/{id}`` -> ``{"schema": "<json>"}``: the writer schema of bytes we did not write.

A registry that cannot be reached, or refuses a schema (for example because its compatibility
rule forbids it), raises ``SchemaRegistryError`` naming the URL and the subject.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlparse

import fastavro

from schemas.codec import RegisteredSchema, committed_schemas

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
CACHED_IDS_MAX = 10_000  # writer schemas fetched by id: a limit, not a leak


class SchemaRegistryError(RuntimeError):
    """The Schema Registry could not be used; the message says which URL and what failed."""


PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


def inline_references(schema: Any, known: dict[str, Any], namespace: str = "voiceledger",
                      defined: set[str] | None = None) -> Any:
    """The schema made self-contained: a named type defined in an earlier file is written in place.

    The file registry parses files in id order and lets one refer to a type from another (the
    envelope ``CallDetailRecordBatch`` refers to ``voiceledger.CallDetailRecord``); a Schema
    Registry needs each schema whole. A type is written out at its first use, by name after.
    """
    defined = set() if defined is None else defined
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        full = schema if "." in schema else f"{namespace}.{schema}"
        if full in defined or full not in known:
            return schema
        return inline_references(known[full], known, namespace, defined)
    if isinstance(schema, list):
        return [inline_references(b, known, namespace, defined) for b in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    kind = schema.get("type")
    if kind in ("record", "enum", "fixed"):
        namespace = schema.get("namespace", namespace)
        defined.add(schema["name"] if "." in schema["name"] else f"{namespace}.{schema['name']}")
        if kind == "record":
            out["fields"] = [dict(f, type=inline_references(f["type"], known, namespace, defined))
                             for f in schema["fields"]]
    elif kind == "array":
        out["items"] = inline_references(schema["items"], known, namespace, defined)
    elif kind == "map":
        out["values"] = inline_references(schema["values"], known, namespace, defined)
    elif isinstance(kind, (dict, list, str)) and kind not in PRIMITIVES:
        out["type"] = inline_references(kind, known, namespace, defined)
    return out


def _full_name(schema: dict) -> str:
    ns = schema.get("namespace", "")
    return f"{ns}.{schema['name']}" if ns and "." not in schema["name"] else schema["name"]


class ConfluentSchemaRegistry:
    """The codec's registry, backed by a Schema Registry's REST API."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise SchemaRegistryError(f"schema_registry_url {url!r}: must be http(s)://host[:port]")
        self._auth = None
        if parsed.username:  # basic auth from the URL, kept out of every message (R35)
            token = f"{parsed.username}:{parsed.password or ''}".encode()
            self._auth = "Basic " + base64.b64encode(token).decode()
        netloc = parsed.hostname + (f":{parsed.port}" if parsed.port else "")
        self.base = f"{parsed.scheme}://{netloc}{parsed.path.rstrip('/')}"
        self.timeout_s = timeout_s
        self._by_id: dict[int, RegisteredSchema] = {}
        self._latest: dict[str, RegisteredSchema] = {}
        known: dict[str, Any] = {}  # full name -> the newest definition so far, in id order
        for entry in committed_schemas():  # id order in the manifest is version order per subject
            whole = inline_references(entry["schema"], known)
            known[entry["subject"]] = whole
            schema_id = self.register(entry["subject"], whole)
            reg = RegisteredSchema(schema_id, entry["subject"], entry["version"],
                                   fastavro.parse_schema(whole, named_schemas={}))
            self._by_id[schema_id] = reg
            self._latest[entry["subject"]] = reg

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE})
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise SchemaRegistryError(f"{self.base}{path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SchemaRegistryError(f"{self.base}: unreachable: {reason}") from None

    def register(self, subject: str, schema: dict) -> int:
        answer = self._call("POST", f"/subjects/{quote(subject, safe='')}/versions",
                            {"schema": json.dumps(schema, separators=(",", ":"))})
        return int(answer["id"])

    def writer(self, schema_id: int) -> RegisteredSchema | None:
        known = self._by_id.get(schema_id)
        if known is not None:
            return known
        try:
            answer = self._call("GET", f"/schemas/ids/{schema_id}")
        except SchemaRegistryError as exc:
            if "HTTP 404" in str(exc):
                return None  # the codec dead-letters it as unknown_schema_id
            raise
        schema = json.loads(answer["schema"])
        subject = _full_name(schema)
        if subject not in self._latest:
            return None  # a schema of something that is not ours
        if len(self._by_id) >= CACHED_IDS_MAX:
            self._by_id = {r.schema_id: r for r in self._latest.values()}
        reg = RegisteredSchema(schema_id, subject, 0, fastavro.parse_schema(schema, named_schemas={}))
        self._by_id[schema_id] = reg
        return reg

    def latest_of(self, subject: str) -> RegisteredSchema:
        return self._latest[subject]

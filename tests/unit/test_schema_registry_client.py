"""The Confluent Schema Registry client: the codec registers every committed schema under its
record-name subject, writes the registry's ids into the wire framing, reads bytes by those ids
(fetching writer schemas it did not register), and fails with a clear message when the registry
is unreachable or refuses a schema.

The registry here is a small HTTP server in the test that implements the three documented
endpoints the client uses (no Schema Registry server can be installed on these machines). It
numbers ids from 1000 so that a test passes only if the codec really uses the registry's ids.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from projections.events import CallDetailRecord, Disposition, PaymentReceived
from schemas.codec import EventCodec, committed_schemas, frame
from schemas.confluent import ConfluentSchemaRegistry, SchemaRegistryError
from streams.dev.embedded import free_port


class Registry:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # canonical schema text -> id
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.refuse: set[str] = set()
        self.auth: list[str | None] = []


def serve(registry: Registry) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            registry.auth.append(self.headers.get("Authorization"))
            parts = self.path.strip("/").split("/")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            subject = unquote(parts[1])
            if parts[0] != "subjects" or parts[2] != "versions":
                return self._answer(404, {"error_code": 404, "message": "not found"})
            if subject in registry.refuse:
                return self._answer(409, {"error_code": 409, "message": "incompatible schema"})
            text = json.dumps(json.loads(body["schema"]), sort_keys=True)
            if text not in registry.ids:
                registry.ids[text] = 1000 + len(registry.ids)
                registry.schemas[registry.ids[text]] = body["schema"]
            registry.subjects.setdefault(subject, []).append(registry.ids[text])
            self._answer(200, {"id": registry.ids[text]})

        def do_GET(self) -> None:  # noqa: N802
            parts = self.path.strip("/").split("/")
            if parts[:2] == ["schemas", "ids"] and int(parts[2]) in registry.schemas:
                return self._answer(200, {"schema": registry.schemas[int(parts[2])]})
            self._answer(404, {"error_code": 40403, "message": "Schema not found"})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def registry():
    reg = Registry()
    server = serve(reg)
    yield reg, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


CDR = CallDetailRecord("e-1", "carrier-a", "c-1", "acct-1", "15550000001", "+442071234567",
                       1_790_812_800_000, 1_790_812_805_000, 1_790_812_866_000, Disposition.ANSWERED)


def test_codec_writes_and_reads_with_the_registrys_ids(registry):
    reg, url = registry
    codec = EventCodec(ConfluentSchemaRegistry(url))
    assert "voiceledger.CallDetailRecord" in reg.subjects and "voiceledger.AccountOpened" in reg.subjects
    committed = [e for e in committed_schemas() if e["subject"] == "voiceledger.AccountOpened"]
    assert len(reg.subjects["voiceledger.AccountOpened"]) == len(committed) == 5, "every version is registered"
    value = codec.encode(CDR)
    schema_id = int.from_bytes(value[1:5], "big")
    assert schema_id == reg.subjects["voiceledger.CallDetailRecord"][-1] >= 1000
    assert codec.decode(value) == [CDR]


def test_bytes_written_by_another_producer_are_read_by_fetching_their_schema(registry):
    reg, url = registry
    writer = EventCodec(ConfluentSchemaRegistry(url))
    value = writer.encode(PaymentReceived("p-1", "acct-1", 1, 25_000_000, "USD"))
    reader_registry = ConfluentSchemaRegistry(url)
    reader_registry._by_id.clear()  # as if this process had never seen that id
    assert EventCodec(reader_registry).decode(value) == [PaymentReceived("p-1", "acct-1", 1, 25_000_000, "USD")]


def test_an_id_the_registry_does_not_know_is_a_decode_error(registry):
    _, url = registry
    codec = EventCodec(ConfluentSchemaRegistry(url))
    with pytest.raises(ValueError) as info:
        codec.decode(frame(999_999, b"\x00"))
    assert info.value.code == "unknown_schema_id"


def test_refused_schema_and_unreachable_registry_are_clear_errors(registry):
    reg, url = registry
    reg.refuse.add("voiceledger.PaymentReceived")
    with pytest.raises(SchemaRegistryError, match="voiceledger.PaymentReceived/versions: HTTP 409"):
        ConfluentSchemaRegistry(url)
    with pytest.raises(SchemaRegistryError, match="unreachable"):
        ConfluentSchemaRegistry(f"http://127.0.0.1:{free_port()}", timeout_s=2)


def test_basic_auth_from_the_url_is_sent_but_never_shown(registry):
    reg, url = registry
    secret_url = url.replace("http://", "http://ledger:s3cret@")
    client = ConfluentSchemaRegistry(secret_url)
    assert reg.auth[-1] == "Basic bGVkZ2VyOnMzY3JldA=="
    assert "s3cret" not in client.base

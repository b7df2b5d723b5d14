"""``voiceledger api`` (issue 19, first part) as a real process, on the real broker and the
ClickHouse server, beside the real worker:

- contract: schemathesis generates requests from the served OpenAPI document; no 5xx, every
  response matches its schema;
- end to end: an account opened and topped up through the API, its calls ingested, and the
  balance read back through the API equals a pure fold of the same events (R9); one
  ``Idempotency-Key`` sent twice gives one event;
- access: no token is a 401, a switch token cannot post a payment, a portal token cannot read
  another account; every error is ``application/problem+json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from streams.dev.embedded import free_port
from streams.worker.supervise import worker_env
from tests.integration.helpers import log_events, oracle, run_worker_to_end

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "cdr"
TOKENS = {"operator": "op-" + "a" * 20, "finance": "fin-" + "b" * 20, "switch": "sw-" + "c" * 20,
          "portal:acct-000001": "portal-" + "d" * 20}


@pytest.fixture
def clickhouse_url(clickhouse_server):
    """The server engine: the API and the worker are two processes reading and writing it."""
    return f"clickhouse://default@127.0.0.1:{clickhouse_server.tcp_port}/t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def api(settings, tmp_path):
    tokens = tmp_path / "api-tokens.txt"
    tokens.write_text("".join(f"{token} {scope}\n" for scope, token in TOKENS.items()))
    settings = replace(settings, api_tokens_file=str(tokens))
    port, log = free_port(), tmp_path / "api.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "streams.cli", "api", "--listen", f"127.0.0.1:{port}"],
                                   env=worker_env(settings), stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/v1/openapi.json", timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
    yield settings, base
    process.terminate()
    assert process.wait(30) == 0, log.read_text()[-2000:]


def call(base: str, method: str, path: str, body: dict | None = None, scope: str | None = "operator",
         key: str | None = None) -> tuple[int, dict, str]:
    headers = {"Content-Type": "application/json"}
    if scope:
        headers["Authorization"] = f"Bearer {TOKENS[scope]}"
    if key:
        headers["Idempotency-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("Content-Type", "")


OPENING = {"account_id": "acct-000001", "currency": "USD", "plan": "basic", "billing_mode": "prepaid",
           "numbers": ["+1 555 000 0001"], "country": "US", "opened_at": "2026-09-30T00:00:00Z"}


def test_access_is_by_scoped_token_and_every_error_is_a_problem(api):
    settings, base = api
    status, body, kind = call(base, "POST", "/v1/accounts", OPENING, scope=None, key="k-1")
    assert (status, body["type"], kind) == (401, "https://voiceledger.dev/problems/unauthorized",
                                            "application/problem+json")
    assert call(base, "POST", "/v1/accounts/acct-000001/payments", {"amount": "5.00", "currency": "USD"},
                scope="switch", key="k-2")[0] == 403
    assert call(base, "GET", "/v1/accounts/acct-000002/balance", scope="portal:acct-000001")[0] == 403
    status, body, _ = call(base, "POST", "/v1/accounts", {**OPENING, "currency": "GBP"}, key="k-3")
    assert status == 422 and body["detail"].startswith("body.currency") and body["errors"]
    status, body, _ = call(base, "POST", "/v1/accounts", {**OPENING, "time_zone": "Mars/Olympus"}, key="k-4")
    assert (status, body["type"]) == (422, "https://voiceledger.dev/problems/unknown-time-zone")
    assert call(base, "GET", "/v1/nowhere")[0] == 404
    assert call(base, "DELETE", "/v1/accounts")[0] == 405
    assert call(base, "POST", "/v1/accounts", OPENING)[0] == 422, "the Idempotency-Key header is required"


def test_R9_opened_and_topped_up_through_the_api_then_called_the_balance_read_back_is_the_pure_folds(api, tmp_path):
    settings, base = api
    first = call(base, "POST", "/v1/accounts", {**OPENING}, key="crm-open-1")
    again = call(base, "POST", "/v1/accounts", {**OPENING}, key="crm-open-1")
    assert first[0] == again[0] == 202 and again[1] == {**first[1], "replayed": True}
    assert call(base, "POST", "/v1/accounts", {**OPENING, "plan": "pro"}, key="crm-open-1")[0] == 409
    paid = call(base, "POST", "/v1/accounts/acct-000001/payments", {"amount": "25.00", "currency": "USD",
                                                                 "received_at": "2026-09-30T12:00:00Z"},
                key="crm-pay-1")
    assert paid[0] == 202
    credit = {"amount": "-1.50", "currency": "USD", "category": "goodwill", "reason": "outage, 3 Oct",
              "occurred_at": "2026-10-05T00:00:00Z"}
    assert call(base, "POST", "/v1/accounts/acct-000001/adjustments", credit, key="crm-adj-1")[0] == 202
    assert call(base, "POST", "/v1/accounts/acct-000001/adjustments", {**credit, "category": "bonus"},
                key="crm-adj-2")[0] == 422
    for n, action in enumerate(("hold", "release")):
        status, body, _ = call(base, "POST", "/v1/accounts/acct-000001/status", {"action": action, "case_ref": "c-9"},
                               key=f"crm-status-{n}")
        assert status == 202, body
    assert call(base, "POST", "/v1/accounts/acct-000001/status", {"action": "hold"}, key="crm-status-9")[0] == 422

    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "worker.log") == 0
    ingest = subprocess.run([sys.executable, "-m", "streams.cli", "ingest", "--format", "asterisk-csv", "--carrier",
                             "carrier-a", str(SAMPLES / "asterisk-no-accountcode-Master.csv")],
                            env=worker_env(settings), capture_output=True, text=True, timeout=120)
    assert "1 produced" in ingest.stdout, ingest.stdout + ingest.stderr
    events, offsets = log_events(settings)
    assert [type(e).__name__ for e in events].count("AccountOpened") == 1, "one key, one event"
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log") == 0
    expected = oracle(settings, events)["acct-000001"]
    status, balance, _ = call(base, "GET", "/v1/accounts/acct-000001/balance", scope="portal:acct-000001")
    assert status == 200 and balance["balance_micros"] == expected.balance_micros
    assert expected.calls_charged == 1 and expected.paid_micros == 25_000_000
    assert any(type(e).__name__ == "AdjustmentPosted" for e in events)
    # R33: the call records behind the charge, read by the customer's portal token, a page at a time.
    status, page, _ = call(base, "GET", "/v1/accounts/acct-000001/calls?limit=1", scope="portal:acct-000001")
    assert status == 200 and page["next_offset"] is None and len(page["calls"]) == 1
    (record,) = page["calls"]
    assert (record["call_key"], record["caller"], record["charge_micros"]) == (
        "carrier-a/1790874000.20", "+15550000001", expected.charged_micros + 1_500_000)
    assert call(base, "GET", "/v1/accounts/acct-000002/calls", scope="portal:acct-000001")[0] == 403


def test_the_served_openapi_document_holds_under_generated_requests(api):
    """schemathesis against the running process: no 5xx, every response as its schema says."""
    settings, base = api
    run = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", base + "/v1/openapi.json",
                          "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
                          "content_type_conformance", "--max-examples", "25",
                          "-H", f"Authorization: Bearer {TOKENS['operator']}", "-H", "Idempotency-Key: st-1"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]

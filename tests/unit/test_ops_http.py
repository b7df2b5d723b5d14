"""The operations endpoint (streams/http/ops.py): probes answer what their checks say."""

import json
import urllib.error
import urllib.request

import streams.observe.metrics  # noqa: F401 - registers the worker's metrics
from streams.dev.embedded import free_port
from streams.http.ops import OpsServer


def get(port: int, path: str) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            body = r.read().decode()
            return r.status, json.loads(body) if path != "/metrics" else body
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_probes_report_the_checks_and_metrics_are_served():
    state = {"ready": (False, "no partition assigned yet")}
    port = free_port()
    OpsServer(port, lambda: (True, "event loop alive"), lambda: state["ready"]).start()
    assert get(port, "/healthz") == (200, {"status": "ok", "reason": "event loop alive"})
    assert get(port, "/readyz") == (503, {"status": "unavailable", "reason": "no partition assigned yet"})
    state["ready"] = (True, "partitions assigned, tables recovered")
    assert get(port, "/readyz")[0] == 200
    status, text = get(port, "/metrics")
    assert status == 200 and "# TYPE voiceledger_events_consumed_total counter" in text


def test_R35_the_endpoints_listen_on_loopback_unless_told_otherwise():
    from streams.http.server import ThreadedHttpServer

    assert ThreadedHttpServer(0).bind_host == "127.0.0.1"
    loopback = OpsServer(free_port(), lambda: (True, "ok"), lambda: (True, "ok"))
    loopback.start()
    assert loopback.bound and {a[0] for a in loopback.bound} == {"127.0.0.1"}
    everywhere = OpsServer(free_port(), lambda: (True, "ok"), lambda: (True, "ok"), bind_host="0.0.0.0")
    everywhere.start()
    assert {a[0] for a in everywhere.bound} == {"0.0.0.0"}
    loopback.stop()
    everywhere.stop()

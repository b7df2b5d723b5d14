"""R32 with a review: a subscriber's erasure request waits for an operator, who erases or declines
it with a reason within 30 days (``portal_erasure = reviewed``; ``streams/ledger/erasure_queue.py``).

On the real broker and ClickHouse server, through ``voiceledger api`` and the CLI: the customer's
portal token asks (twice: one request), a finance token lists but cannot answer, refusals are
404, 409 and 422, a record on the topic that is not a request is left out, a decline is logged
with its reason, a request that came by mail is logged by the CLI and answered "erase": the
subscriber's key is gone and their call log anonymised, and the counts the alerts read are
written. Nothing is erased before an operator answers; an erasure run without a request answers
the account's request still open."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys


from projections.erasure_requests import DAY_MS
from streams.edge.sealing import SubscriberKeys
from streams.kafka.producer import produce_raw
from streams.worker.supervise import worker_env
from tests.integration.api_scenario import ACCOUNT, api_process, call, four_months
from tests.integration.helpers import ON_THE_SERVER


pytestmark = ON_THE_SERVER


def cli(settings, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001 - Settings
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=worker_env(settings), capture_output=True,
                          text=True, timeout=300)


def test_R32_an_erasure_request_waits_for_an_operator_who_declines_with_a_reason_or_erases(settings, tmp_path):
    with api_process(settings, tmp_path, portal_erasure="reviewed") as (settings, base):
        four_months(settings, base, tmp_path)
        calls_before = call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls")[1]["calls"]
        assert {c["caller"] for c in calls_before} == {"+15550000001"}
        first = _asked_by_the_customer(settings, base)
        _refusals(base, first["request_id"])
        status, declined, _ = call(base, "POST", f"/v1/erasure-requests/{first['request_id']}/answer",
                                   {"outcome": "DECLINED", "reason": "an open dispute (case 77): details kept until "
                                                                     "it is decided"})
        assert status == 200 and (declined["outcome"], declined["answered_by"]) == ("DECLINED", "api:operator")
        status, again, _ = call(base, "POST", f"/v1/erasure-requests/{first['request_id']}/answer",
                                {"outcome": "ERASED"})
        assert status == 409 and again["type"].endswith("already-answered"), again
        assert call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls")[1]["calls"] == calls_before, "declined: kept"
        assert SubscriberKeys(settings.subscriber_keys_dir).stamp(ACCOUNT) is not None
        _erased_from_the_cli(settings, base, calls_before, str(tmp_path / "erasure.prom"))
        # An erasure run without a request (the operator's at once) answers the one still open.
        status, third, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/erasure-requests", key="phone-3")
        assert status == 202 and third["outcome"] is None
        assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/erasure", key="ticket-3")[0] == 200
        assert call(base, "GET", "/v1/erasure-requests")[1] == [], "none left to go overdue"
        closed = call(base, "GET", "/v1/erasure-requests?state=all")[1][0]
        assert (closed["request_id"], closed["outcome"], closed["answered_by"]) == (
            third["request_id"], "ERASED", "api:operator")


def _asked_by_the_customer(settings, base: str) -> dict:  # noqa: ANN001 - Settings
    status, first, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/erasure-requests", scope=f"portal:{ACCOUNT}",
                            key="web-1")
    assert status == 202 and first["outcome"] is None and not first["overdue"], first
    assert _ms(first["due_at"]) - _ms(first["requested_at"]) == 30 * DAY_MS
    status, second, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/erasure-requests", scope=f"portal:{ACCOUNT}",
                             key="web-2")
    assert status == 202 and second["request_id"] == first["request_id"], "asked again while open: the same one"
    assert call(base, "POST", "/v1/accounts/acct-000002/erasure-requests", scope=f"portal:{ACCOUNT}",
                key="web-3")[0] == 403, "a customer asks for their own account only"
    # A record that is neither a request nor an answer is left out; the queue is still read.
    asyncio.run(produce_raw(settings, settings.erasure_requests_topic, [(0, b"junk", b"\x00\xff not avro")]))
    status, listed, _ = call(base, "GET", "/v1/erasure-requests", scope="finance")
    assert status == 200 and [r["request_id"] for r in listed] == [first["request_id"]]
    return first


def _refusals(base: str, request_id: str) -> None:
    answer = f"/v1/erasure-requests/{request_id}/answer"
    assert call(base, "POST", answer, {"outcome": "ERASED"}, scope="finance")[0] == 403, "finance only reads"
    status, found, _ = call(base, "POST", answer, {"outcome": "DECLINED", "reason": " "})
    assert status == 422 and "needs a reason" in found["detail"], found
    assert call(base, "POST", "/v1/erasure-requests/er-0000000000000000/answer", {"outcome": "ERASED"})[0] == 404
    assert call(base, "POST", "/v1/erasure-requests/er-XYZ/answer", {"outcome": "ERASED"})[0] == 422, "not an id"
    assert call(base, "POST", answer, {"outcome": "ERASED", "extra": 1})[0] == 422


def _erased_from_the_cli(settings, base: str, calls_before: list[dict], prom: str) -> None:  # noqa: ANN001
    asked = cli(settings, "subscriber", "ask", ACCOUNT, "--ref", "mail-2026-12-06")
    assert asked.returncode == 0, asked.stderr
    request = json.loads(asked.stdout)
    assert request["new"] and request["via"] == "cli", "the first one was answered: this one is new"
    listed = cli(settings, "subscriber", "requests", "--json", "--metrics-file", prom)
    assert listed.returncode == 0, listed.stderr
    assert [r["request_id"] for r in json.loads(listed.stdout)] == [request["request_id"]]
    counts = dict(line.split() for line in open(prom).read().splitlines() if not line.startswith("#"))
    assert (counts["voiceledger_erasure_requests_open"], counts["voiceledger_erasure_requests_overdue"]) == ("1", "0")
    assert call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls")[1]["calls"] == calls_before, "asked: nothing erased yet"
    done = cli(settings, "subscriber", "answer", request["request_id"], "--erase")
    assert done.returncode == 0, done.stderr
    erased = json.loads(done.stdout)
    assert erased["outcome"] == "ERASED" and erased["erasure"]["subscriber_key_deleted"]
    assert erased["erasure"]["call_log_rows_anonymised"] == len(calls_before)
    after = call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls")[1]["calls"]
    assert {c["caller"] for c in after} == {""} and [c["charge_micros"] for c in after] == [
        c["charge_micros"] for c in calls_before], "the numbers are gone, the amounts stay"
    assert SubscriberKeys(settings.subscriber_keys_dir).stamp(ACCOUNT) is None
    history = call(base, "GET", "/v1/erasure-requests?state=all")[1]
    assert [(r["reference"], r["outcome"]) for r in history] == [("mail-2026-12-06", "ERASED"), ("web-1", "DECLINED")]
    twice = cli(settings, "subscriber", "answer", request["request_id"], "--decline", "--reason", "late")
    assert twice.returncode == 2 and "already answered" in twice.stderr and "Traceback" not in twice.stderr


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)

"""What the API's tests share: ``voiceledger api`` as a real process, a JSON client, and an
account that has lived four months (R20's window), built through the API, ``ingest`` and ticks
and folded by a real worker.

The months are the current month in UTC and the three before it, from the wall clock, because
R20's "current month" and R19's "30 days" are the wall clock's at the edge. The account opens on
the 2nd of the oldest month, is topped up, and makes one call a month. The oldest month is
closed by a tick at the start of the next (its invoice is then more than 30 days old: R19
refuses a dispute of it); the other two by one tick an hour ago, or at the month's start in
its first hour (their invoices are fresh, whatever today's date is).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from projections.periods import period_of, period_start_ms, previous_period
from streams.config.settings import Settings
from streams.dev.embedded import free_port
from streams.kafka.producer import publish_tick
from streams.worker.supervise import worker_env
from tests.integration.helpers import log_events, run_worker_to_end

TOKENS = {"operator": "op-" + "a" * 20, "finance": "fin-" + "b" * 20, "switch": "sw-" + "c" * 20,
          "portal:acct-000001": "portal-" + "d" * 20}
ACCOUNT = "acct-000001"


@contextlib.contextmanager
def api_process(settings: Settings, tmp_path: Path, **more):
    """``voiceledger api`` on a free port, with the tokens above and a portal secret; yields
    (settings, base URL) and asserts that SIGTERM stops it with exit 0."""
    tokens, secret = tmp_path / "api-tokens.txt", tmp_path / "portal-secret"
    tokens.write_text("".join(f"{token} {scope}\n" for scope, token in TOKENS.items()))
    secret.write_text("s" * 48)
    port, log = free_port(), tmp_path / "api.log"
    settings = replace(settings, api_tokens_file=str(tokens), portal_secret_file=str(secret),
                       portal_base_url=f"http://127.0.0.1:{port}", **more)
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
    try:
        yield settings, base
    finally:
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
            raw, kind = response.read(), response.headers.get("Content-Type", "")
            return response.status, json.loads(raw) if "json" in kind else {"raw": raw}, kind
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("Content-Type", "")


def iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FourMonths:
    months: list[str]  # current first, as R20 lists them
    old_invoice_close_ms: int  # the tick that issued the invoice too old to dispute
    fresh_close_ms: int  # the tick that issued the fresh invoices


def months_now() -> list[str]:
    months = [period_of(int(time.time() * 1000), "UTC")]
    while len(months) < 4:
        months.append(previous_period(months[-1]))
    return months


def four_months(settings: Settings, base: str, tmp_path: Path) -> FourMonths:
    """The account's four months through the API, ``ingest`` and ticks, folded by a worker."""
    months = months_now()
    oldest = period_start_ms(months[3], "UTC")
    opened = oldest + 86_400_000
    opening = {"account_id": ACCOUNT, "currency": "USD", "plan": "basic", "billing_mode": "prepaid",
               "numbers": ["+1 555 000 0001"], "country": "US", "opened_at": iso(opened),
               "customer_name": "Zoë Łódź", "billing_address": "350 Fifth Avenue\nNew York, NY 10118"}
    assert call(base, "POST", "/v1/accounts", opening, key="crm-open-1")[0] == 202
    payment = {"amount": "50.00", "currency": "USD", "received_at": iso(opened + 3_600_000)}
    assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/payments", payment, key="crm-pay-1")[0] == 202
    cdrs = tmp_path / "calls.jsonl"
    with open(cdrs, "w") as out:
        for n, month in enumerate(reversed(months)):
            start = period_start_ms(month, "UTC") + 2 * 86_400_000 + 36_000_000  # the 3rd, 10:00
            start = min(start, int(time.time() * 1000) - 7_200_000)  # never in the future
            out.write(json.dumps({"call_id": f"m{n}", "account_id": ACCOUNT, "caller": "+15550000001",
                                  "callee": "+12125550100", "start_at": iso(start), "answer_at": iso(start + 5_000),
                                  "end_at": iso(start + 185_000)}) + "\n")
    ingest = subprocess.run([sys.executable, "-m", "streams.cli", "ingest", "--format", "plain-json", "--carrier",
                             "carrier-a", str(cdrs)], env=worker_env(settings), capture_output=True, text=True,
                            timeout=120)
    assert "4 produced" in ingest.stdout, ingest.stdout + ingest.stderr
    old_close = period_start_ms(months[2], "UTC")
    fresh_close = max(period_start_ms(months[0], "UTC"), int(time.time() * 1000) - 3_600_000)
    for at in (old_close, fresh_close):
        asyncio.run(publish_tick(settings, at))
    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "worker.log") == 0
    return FourMonths(months, old_close - old_close % 3_600_000, fresh_close - fresh_close % 3_600_000)


def wait_for(check, timeout_s: float = 30, what: str = ""):  # noqa: ANN001, ANN201 - a callable
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def days_between(earlier_ms: int, later_ms: int) -> float:
    return (later_ms - earlier_ms) / timedelta(days=1).total_seconds() / 1000

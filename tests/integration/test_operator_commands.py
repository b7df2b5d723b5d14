"""Operators' commands without Avro (issue 19, first part): ``voiceledger account open`` and
``voiceledger payment record`` on a real broker, then CDRs ingested for that account and the
real worker. The balance equals a pure fold of the same events (R9); the same command sent twice
with one idempotency key gives one event; a bad value is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from projections.events import AccountOpened, CallDetailRecord, PaymentReceived
from streams.worker.supervise import worker_env
from tests.integration.helpers import log_events, live_states, oracle, run_worker_to_end, state_differences

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "cdr"


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=worker_env(settings), capture_output=True,
                          text=True, timeout=120)


def test_R9_an_account_opened_and_topped_up_from_the_cli_then_called_from_folds_as_the_pure_fold(settings, tmp_path):
    opened = cli(settings, "account", "open", "acct-000001", "--currency", "USD", "--plan", "basic", "--mode",
                 "prepaid", "--number", "+1 555 000 0001", "--country", "US", "--at", "2026-09-30T00:00:00Z", "--json")
    assert opened.returncode == 0, opened.stderr
    pay = ("payment", "record", "acct-000001", "--amount", "25.00", "--currency", "USD", "--reference", "psp-1",
           "--at", "2026-09-30T12:00:00Z", "--idempotency-key", "crm-7781", "--json")
    first, again = cli(settings, *pay), cli(settings, *pay)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert json.loads(again.stdout) == {**json.loads(first.stdout), "replayed": True}
    reused = cli(settings, *pay[:4], "26.00", *pay[5:])
    assert reused.returncode == 2 and "idempotency_key_reused" in reused.stderr
    adjusted = cli(settings, "adjust", "acct-000001", "--amount", "-2.00", "--currency", "USD", "--category",
                   "goodwill", "--reason", "outage", "--at", "2026-10-02T00:00:00Z", "--json")
    assert adjusted.returncode == 0, adjusted.stderr
    held = cli(settings, "account", "hold", "acct-000001", "--case", "fraud-1")
    released = cli(settings, "account", "release", "acct-000001", "--case", "fraud-1")
    assert held.returncode == released.returncode == 0, held.stderr + released.stderr
    assert cli(settings, "account", "hold", "acct-000001").returncode == 2, "a hold names its case"
    bad = cli(settings, "payment", "record", "acct-000001", "--amount", "-5", "--currency", "USD")
    assert bad.returncode == 2 and "non_positive_amount" in bad.stderr and "Traceback" not in bad.stderr
    # A worker folds the opening (the directory is the log's), then the account's calls are ingested.

    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "worker.log") == 0
    ingested = cli(settings, "ingest", "--format", "asterisk-csv", "--carrier", "carrier-a",
                   str(SAMPLES / "asterisk-no-accountcode-Master.csv"))
    # The caller +1 555 000 0001 is the account's; the other two callers are nobody's.
    assert "1 produced, 2 rejected (unknown_number 2)" in ingested.stdout, ingested.stdout + ingested.stderr
    events, offsets = log_events(settings)
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("AccountOpened") == 1 and kinds.count("PaymentReceived") == 1, "one event per key"
    assert kinds.count("AdjustmentPosted") == kinds.count("FraudHoldPlaced") == kinds.count("FraudHoldReleased") == 1
    assert [e.account_id for e in events if isinstance(e, CallDetailRecord)] == ["acct-000001"]
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log") == 0
    live = live_states(settings)
    assert state_differences(live, oracle(settings, events)) == []
    payment = next(e for e in events if isinstance(e, PaymentReceived))
    assert live["acct-000001"].balance_micros == payment.amount_micros - live["acct-000001"].charged_micros > 0
    assert live["acct-000001"].lifecycle.status.value == "ACTIVE", "held, then released"
    assert next(e for e in events if isinstance(e, AccountOpened)).country == "US"

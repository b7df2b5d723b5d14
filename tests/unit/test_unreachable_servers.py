"""Every command that talks to a server, run against a closed port, says so in one line naming
the server and exits 2: no traceback, no client library's log first. (Exit 1 means 'differences
found' for verify, reconcile and rebuild, so a server that is not there must not look like it.)"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "127.0.0.1:1"  # nothing listens on port 1
CDRS = str(ROOT / "tests" / "fixtures" / "cdr" / "asterisk-Master.csv")
DECK = str(ROOT / "streams" / "data" / "standard-usd.csv")
COMMANDS = {
    "worker": ["worker"],
    "ingest": ["ingest", "--format", "asterisk-csv", "--carrier", "c", CDRS],
    "tick": ["tick", "--at", "2026-10-01T00:00:00Z"],
    "rates import": ["rates", "import", DECK, "--currency", "USD", "--valid-from", "2026-10-01"],
    "topics ensure": ["topics", "ensure"],
    "settings check": ["settings", "check"],
    "settings accept": ["settings", "accept", "--reason", "a fee set wrong"],
    "settings history": ["settings", "history"],
    "subscriber ask": ["subscriber", "ask", "acct-1", "--ref", "ticket-1"],
    "subscriber requests": ["subscriber", "requests"],
    "subscriber answer": ["subscriber", "answer", "er-0123456789abcdef", "--erase"],
    "balances": ["balances"],
    "invoices": ["invoices"],
    "statement": ["statement", "acct-1", "--as-of", "2026-10-10"],
    "verify": ["verify"],
    "rebuild": ["rebuild", "--app-id", "vl-rebuild", "--clickhouse-url", f"clickhouse://default@{CLOSED}/r"],
    "reconcile": ["reconcile", "--month", "2026-10"],
    "report": ["report", "carriers", "--from", "2026-10-01", "--to", "2026-10-02"],
    "carrier-reconcile": ["carrier-reconcile", "--carrier", "c", "--format", "asterisk-csv", "--from", "2026-10-01",
                          "--to", "2026-10-02", CDRS],
    "clickhouse migrate": ["clickhouse", "migrate"],
    "retention apply": ["retention", "apply", "--as-of", "2026-10-01"],
    "subscriber export": ["subscriber", "export", "acct-1", "--out", "EXPORT_DIR"],
    "subscriber erase": ["subscriber", "erase", "acct-1", "--yes"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unreachable")
    env = {**os.environ, "VOICELEDGER_BROKER": CLOSED, "VOICELEDGER_CLICKHOUSE_URL": f"clickhouse://default@{CLOSED}/x",
           "VOICELEDGER_SUBSCRIBER_KEYS_DIR": str(tmp / "keys")}

    def run(args: list[str]) -> subprocess.CompletedProcess:
        args = [str(tmp / "export") if a == "EXPORT_DIR" else a for a in args]
        return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=tmp)

    with ThreadPoolExecutor(max_workers=6) as pool:
        return dict(zip(COMMANDS, pool.map(run, COMMANDS.values())))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_server_that_is_not_there_is_one_line_and_exit_2(runs, name):
    run = runs[name]
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert lines[0].startswith("voiceledger: error: ") and ("127.0.0.1" in lines[0]), lines[0]

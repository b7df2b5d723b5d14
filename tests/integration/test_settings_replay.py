"""A rebuild after a change accepted in force equals live (``streams/config/settings_epochs.py``):
real workers, the real broker and ClickHouse server, the real CLI.

A worker folds the first half of a stream with the configured US card. The card's prices are
then doubled in place (a change in force: the worker refuses to start), and an operator accepts
it with the group stopped: ``settings accept`` records where the new version starts in each
partition. A worker folds the second half with the doubled prices. ``voiceledger rebuild`` then
folds the whole log again and equals live in every hash, although no single version of the
settings gives live's states: the first half was priced with the old card, read back from its
version on the settings topic."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path


from streams.dev.simulate import SimulationSpec, simulate
from streams.edge.publish import produce_events
from streams.worker import settings_log
from streams.worker.supervise import worker_env
from tests.integration.helpers import (
    ON_THE_SERVER, live_states, log_events, oracle, run_worker_to_end, without_positions,
)

STANDARD = Path(__file__).resolve().parents[2] / "streams" / "data" / "standard-usd.csv"


pytestmark = ON_THE_SERVER


def cli(settings, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001 - Settings
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=worker_env(settings), capture_output=True,
                          text=True, timeout=600)


def priced(card: Path, factor: int) -> None:
    rows = STANDARD.read_text().splitlines()
    card.write_text("\n".join([rows[0]] + [",".join([f[0], f[1], f"{Decimal(f[2]) * factor:.6f}", *f[3:]])
                                           for f in (row.split(",") for row in rows[1:])]) + "\n")


def test_a_rebuild_folds_what_was_folded_before_an_accepted_change_with_the_version_it_replaced(settings, tmp_path):
    card = tmp_path / "us.csv"
    priced(card, 1)
    settings = replace(settings, rate_cards=(f"{card}|USD|2020-01-01", settings.rate_cards[1]))
    events = [e for e in simulate(SimulationSpec(accounts=30, calls=1_200, days=2, seed=5, eur_ratio_percent=0))]
    half = len(events) // 2
    asyncio.run(produce_events(settings, events[:half]))
    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "first.log") == 0

    priced(card, 2)  # the same card, its prices doubled in place: a change in force
    refused = cli(settings, "worker")
    assert refused.returncode == 2 and "rate_cards" in refused.stderr, refused.stderr[-2000:]
    accepted = cli(settings, "settings", "accept", "--reason", "the US card was loaded at half its prices")
    assert accepted.returncode == 0, accepted.stderr
    _, starts = asyncio.run(settings_log.read_log(settings))
    committed = log_events(settings)[1]
    assert {s["partition"]: s["first_offset"] for s in starts} == {p: committed.get(p, 0)
                                                                   for p in range(settings.partitions)}

    asyncio.run(produce_events(settings, events[half:]))
    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "second.log") == 0
    live = without_positions(live_states(settings))
    assert live != without_positions(oracle(settings, events)), "no single version gives live's states"

    rebuilt_url = settings.clickhouse_url.rsplit("/", 1)[0] + f"/rebuilt_{uuid.uuid4().hex[:10]}"
    rb = cli(settings, "rebuild", "--app-id", settings.app_id + "-rebuild", "--clickhouse-url", rebuilt_url,
             "--log", str(tmp_path / "rebuild.log"))
    assert rb.returncode == 0, rb.stdout + rb.stderr
    hashes = dict(line.split("\t") for line in rb.stdout.splitlines() if "\t" in line)
    for part in ("state", "journal", "call_log", "invoices"):
        assert hashes[f"live_{part}"] == hashes[f"rebuilt_{part}"], (part, rb.stdout)
    assert "rebuild equals live state: yes" in rb.stdout

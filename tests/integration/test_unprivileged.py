"""The worker runs as an unprivileged user from a read-only install directory, as the image and
the systemd units run it: everything it writes goes under ``data_dir`` (Faust's data directory,
the embedded ClickHouse here), nothing into its working directory or the install.

The process gets the uid of ``nobody`` and keeps only the right to read files
(CAP_DAC_READ_SEARCH, for the Python interpreter of this machine, which lives under root's home);
it cannot write anywhere ``nobody`` cannot. Its working directory is the repository, which
``nobody`` cannot write: a worker that made its Faust data directory there, as it did before
``data_dir``, stops with PermissionError at start."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from projections.events import (
    AccountOpened,
    CallDetailRecord,
    Disposition,
    PaymentReceived,
)
from streams.edge.publish import produce_events
from streams.worker.supervise import stop_worker, wait_until_committed, worker_env
from tests.integration.helpers import (
    live_states,
    oracle,
    state_differences,
    wait_until_ready,
    without_positions,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["chdb"])
def clickhouse_url(request, tmp_path):  # replaced by a chDB path under data_dir: one run is enough
    return f"chdb://{tmp_path / 'chdb'}"
NOBODY = 65534
T0 = 1_790_812_800_000


def test_the_worker_runs_unprivileged_from_a_read_only_install_writing_only_its_data_dir(settings):
    data = Path(tempfile.mkdtemp(prefix="vl-unprivileged-"))
    try:
        data.chmod(0o755)
        os.chown(data, NOBODY, NOBODY)
        settings = replace(settings, data_dir=str(data), clickhouse_url=f"chdb://{data / 'chdb'}",
                           subscriber_keys_dir=str(data / "subscriber-keys"))
        acct = "acct-nobody"
        events = [AccountOpened("o", acct, T0, "USD", "basic", "prepaid", ("15550001",)),
                  PaymentReceived("p", acct, T0 + 1, 5_000_000, "USD")]
        events += [CallDetailRecord(f"e{n}", "carrier-a", f"c{n}", acct, "15550001", "12125550100",
                                    T0 + n * 60_000, T0 + n * 60_000 + 1_000, T0 + n * 60_000 + 61_000,
                                    Disposition.ANSWERED) for n in range(1, 6)]
        offsets = asyncio.run(produce_events(settings, events))
        log = data / "worker.log"
        with open(log, "wb") as out:
            worker = subprocess.Popen(
                ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
                 sys.executable, "-m", "streams.cli", "worker"],
                env={**worker_env(settings), "PYTHONDONTWRITEBYTECODE": "1"}, cwd=ROOT, stdout=out,
                stderr=subprocess.STDOUT)
        try:
            worker = wait_until_committed(settings, worker, 120, offsets, show_progress=False)
            wait_until_ready(log)
        finally:
            code = stop_worker(worker)
        text = log.read_text()
        assert code == 0 and "PermissionError" not in text, text[-3000:]
        assert (data / f"faust-{settings.app_id}").is_dir()  # Faust's files went under data_dir
        differences = state_differences(without_positions(live_states(settings)),
                                        without_positions(oracle(settings, events)))
        assert not differences, differences
    finally:
        shutil.rmtree(data, ignore_errors=True)

"""``bench/batch_stages.py`` times the worker's stages by wrapping its functions by name: a stage
renamed or no longer looked up at each call would silently time nothing. A small run must see
every stage called, and no stage's named parts may take longer than the stage itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_run_times_every_stage_and_parts_fit_inside_their_stage():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "batch_stages.py"), "--calls", "400",
                          "--accounts", "20", "--batch-messages", "5"], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    sys.path.insert(0, str(ROOT))
    from bench.batch_stages import NESTING

    stages = set(NESTING) | {part for parts in NESTING.values() for part in parts} | {"envelopes"}
    stages.discard("plain_events")  # the simulated stream has no operator events or ticks
    assert {stage for stage, n in out["calls"].items() if n > 0} >= stages
    assert out["calls"]["call"] <= out["cdrs"] and out["calls"]["route"] == out["messages"]
    for stage, rest in out["us_per_cdr_rest_of"].items():
        assert rest >= 0, (stage, rest)
    assert sum(out["us_per_cdr"][s] for s in ("unpack", "route", "fold_account", "collect")) <= out["us_per_cdr_whole"]

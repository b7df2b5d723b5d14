"""The benchmarks are commands too: a bad argument is one line and exit 2, never a traceback
(``bench/batch_path.py --batch-messages 0`` ended in a ZeroDivisionError deep in a run)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bench.arguments import seconds_within, within

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script, bad", [
    ("batch_path", ["--batch-messages", "0"]), ("pipeline", ["--workers", "0"]),
    ("authorization", ["--seconds", "nan"]), ("clickhouse", ["--rows", "-1"]),
    ("columnar_decode", ["--envelope", "20000"]), ("key_reload", ["--rounds", "0"]),
    ("rate_feed", ["--looks", "x"]), ("rating", ["--calls", "0"]), ("receiver", ["--concurrency", "0"]), ("receiver", ["--lines", "1001"]),
    ("batch_path", ["--key-ttl", "inf"]), ("batch_stages", ["--accounts", "0"]), ("revoke", ["--lost", "13"]),
])
def test_a_bad_benchmark_argument_is_one_line_and_exit_2(script, bad):
    run = subprocess.run([sys.executable, str(ROOT / "bench" / f"{script}.py"), *bad], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert f"argument {bad[0]}" in run.stderr.strip().splitlines()[-1]


def test_bounds_are_inclusive_and_refuse_what_is_not_a_number():
    assert within(1, 5)("1") == 1 and within(1, 5)("5") == 5
    assert seconds_within(0, 10)("0") == 0.0 and seconds_within(0, 10)("2.5") == 2.5
    for parse, text in [(within(1, 5), "0"), (within(1, 5), "6"), (within(1, 5), "1.5"),
                        (seconds_within(0, 10), "-1"), (seconds_within(0, 10), "nan"), (seconds_within(0, 10), "x")]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)

"""Scratch directories for benchmark runs: removed when the run ends well, kept when it fails.

Why: a run writes a subscriber key file per account (thousands of files) and, for some, a
ClickHouse server's data. Every run left them in /tmp, and on 2026-12-04 ~130 left-behind key
stores (millions of inodes) coincided with the batch path running at half its speed at an
unchanged calibration, with the kernel's inode and dentry lookups at ~15% of a profile.
A failed run keeps its directory, named on stderr, for its logs.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_made: list[Path] = []


def scratch_dir(prefix: str) -> Path:
    """A new temporary directory, removed by ``removed_after_success`` if the run ends well."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _made.append(path)
    return path


@contextmanager
def removed_after_success() -> Iterator[None]:
    try:
        yield
    except BaseException:
        for path in _made:
            print(f"kept for its logs: {path}", file=sys.stderr)
        raise
    for path in _made:
        shutil.rmtree(path, ignore_errors=True)

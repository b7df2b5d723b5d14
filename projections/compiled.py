"""Which modules run compiled, and the rule that keeps a stale build from running (issue 22).

The per-CDR path (the fold, rating, the codec, the batch processor) is plain Python. ``pip
install`` also compiles these very files with Cython (``setup.py``): the same source, the same
semantics, ~9% more CDRs a second on the batch path (docs/performance.md). Nothing is written twice, so the
plain source is the reference the compiled build is tested against
(``tests/unit/test_compiled_modules.py`` folds generated streams both ways and compares every
byte).

A compiled module sits next to its source (``account.cpython-311-x86_64-linux-gnu.so`` beside
``account.py``), and Python's import prefers it. So a source edited after the build would be
shadowed by the old build, silently. The build therefore records each source's SHA-256 in
``compiled_sources.json`` (next to this file), and the finder installed here lets a compiled
module load only while its source still has that hash; otherwise the source runs (slower, and
right). ``VOICELEDGER_PURE=1`` runs every module from source.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

# The modules compiled by setup.py: what a CDR passes through between the broker and the
# changelog. Others gain nothing worth a build (they run once per batch or per command).
MODULES = (
    "projections.account", "projections.rating", "projections.events", "projections.identity",
    "projections.validation", "projections.journal", "projections.periods", "projections.money",
    "projections.dialling", "projections.records", "projections.packed",
    "schemas.codec", "schemas.avro_fast",
    "streams.worker.processor", "streams.edge.sealing", "streams.clickhouse.call_log",
    "streams.clickhouse.journal", "streams.worker.state_cache",
)
MANIFEST = "compiled_sources.json"  # {module: sha256 of the source it was compiled from}
PURE_ENV = "VOICELEDGER_PURE"
ROOT = Path(__file__).resolve().parent.parent  # where the packages projections/, schemas/, streams/ are


def source_of(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _built(root: Path) -> dict[str, str]:
    try:
        manifest = json.loads((root / "projections" / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


class _SourceWhenStale:
    """A meta path finder: for a module of ``MODULES`` whose build is missing or stale, the
    spec of its source; for every other module, no opinion (the normal finders decide)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pure = os.environ.get(PURE_ENV, "") not in ("", "0")
        self.built = {} if self.pure else _built(root)
        self.loaded: dict[str, bool] = {}  # module -> whether it runs compiled

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201 - importlib's protocol
        if name not in MODULES:
            return None
        source = source_of(name, self.root)
        fresh = not self.pure and source.exists() and self.built.get(name) == digest(source)
        self.loaded[name] = fresh and _extension_of(source) is not None
        if self.loaded[name]:
            return None  # the extension module is found by the normal path finder, before the .py
        return importlib.util.spec_from_file_location(name, source)


def _extension_of(source: Path) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def install() -> _SourceWhenStale:
    """Put the finder first on ``sys.meta_path`` (once); called by each package's ``__init__``,
    before any of their modules is imported."""
    for finder in sys.meta_path:
        if isinstance(finder, _SourceWhenStale):
            return finder
    finder = _SourceWhenStale(ROOT)
    sys.meta_path.insert(0, finder)
    return finder


def status() -> dict[str, bool]:
    """Module -> whether it runs compiled, for the modules imported so far."""
    return dict(install().loaded)


def status_of_all() -> dict[str, bool]:
    """Each of ``MODULES`` -> whether it runs compiled (imports them all)."""
    for module in MODULES:
        importlib.import_module(module)
    loaded = install().loaded
    return {m: loaded.get(m, False) for m in MODULES}


def summary() -> str:
    """"16 of 16": how many of ``MODULES`` run compiled here (the benchmarks print it)."""
    return f"{sum(status_of_all().values())} of {len(MODULES)}"

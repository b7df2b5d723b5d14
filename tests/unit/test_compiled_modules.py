"""Issue 22: the per-CDR path's modules compiled by Cython give what their source gives, byte
for byte, and a stale build never runs (projections/compiled.py).

The source is the reference: a child process folds generated streams from source
(``VOICELEDGER_PURE=1``), another one compiled, under other string hash seeds, and every
state, output, row, dead letter and count must hash the same (``compiled_digest.py``).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from projections import compiled

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ("1", "2", "3", "4", "5", "6")


def digests(keys_dir: Path, pure: bool, hash_seed: str) -> dict:
    env = dict(os.environ, VOICELEDGER_PURE="1" if pure else "0", PYTHONHASHSEED=hash_seed)
    out = subprocess.run([sys.executable, "-m", "tests.unit.compiled_digest", str(keys_dir), *SEEDS], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300, check=True).stdout
    return json.loads(out)


def test_the_install_runs_every_listed_module_compiled():
    stale = sorted(m for m, built in compiled.status_of_all().items() if not built)
    assert not stale, f"not running compiled: {stale} (edited since the build? `make unit` builds again)"
    assert Path(sys.modules["projections.account"].__file__).suffix in importlib.machinery.EXTENSION_SUFFIXES


def test_compiled_and_source_give_the_same_bytes_on_generated_streams(tmp_path):
    source = digests(tmp_path, pure=True, hash_seed="1")
    built = digests(tmp_path, pure=False, hash_seed="2")
    assert set(source["compiled"].values()) == {False}
    assert set(built["compiled"]) == set(compiled.MODULES) and set(built["compiled"].values()) == {True}
    assert len(set(source["digests"].values())) == len(SEEDS)  # the streams differ, and so do their digests
    assert built["digests"] == source["digests"]


def _tree(root: Path, text: str, manifest: dict | None) -> Path:
    """A package tree with one listed module's source, an extension file beside it, and a manifest."""
    (root / "projections").mkdir(parents=True)
    source = root / "projections" / "identity.py"
    source.write_text(text)
    source.with_suffix(importlib.machinery.EXTENSION_SUFFIXES[0]).write_bytes(b"\x7fELF")
    if manifest is not None:
        (root / "projections" / compiled.MANIFEST).write_text(json.dumps(manifest))
    return source


def test_a_source_edited_after_the_build_runs_as_source(tmp_path, monkeypatch):
    monkeypatch.delenv(compiled.PURE_ENV, raising=False)
    source = _tree(tmp_path, "X = 1\n", None)
    built = {"projections.identity": compiled.digest(source)}
    (tmp_path / "projections" / compiled.MANIFEST).write_text(json.dumps(built))
    assert compiled._SourceWhenStale(tmp_path).find_spec("projections.identity") is None  # the build loads
    source.write_text("X = 2\n")  # edited after the build
    spec = compiled._SourceWhenStale(tmp_path).find_spec("projections.identity")
    assert spec is not None and spec.origin == str(source)
    assert compiled._SourceWhenStale(tmp_path).find_spec("projections.not_listed") is None  # not its business


def test_no_manifest_a_broken_one_or_VOICELEDGER_PURE_run_as_source(tmp_path, monkeypatch):
    source = _tree(tmp_path, "X = 1\n", None)
    for manifest in (None, "not json", "[1, 2]"):
        if manifest is not None:
            (tmp_path / "projections" / compiled.MANIFEST).write_text(manifest)
        assert compiled._SourceWhenStale(tmp_path).find_spec("projections.identity").origin == str(source)
    (tmp_path / "projections" / compiled.MANIFEST).write_text(json.dumps({"projections.identity":
                                                                          compiled.digest(source)}))
    monkeypatch.setenv(compiled.PURE_ENV, "1")
    assert compiled._SourceWhenStale(tmp_path).find_spec("projections.identity").origin == str(source)
    monkeypatch.setenv(compiled.PURE_ENV, "0")
    assert compiled._SourceWhenStale(tmp_path).find_spec("projections.identity") is None


def test_a_module_loaded_from_source_by_the_finder_is_the_source(tmp_path, monkeypatch):
    monkeypatch.delenv(compiled.PURE_ENV, raising=False)
    _tree(tmp_path, "WHERE = 'source'\n", {"projections.identity": "stale"})
    spec = compiled._SourceWhenStale(tmp_path).find_spec("projections.identity")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.WHERE == "source"

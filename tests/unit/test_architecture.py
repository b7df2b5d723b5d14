"""The layout holds: imports go down the layers and never round in a cycle, the pure core imports
nothing of the stream layer, every module says what it is for, and no function is longer than
70 lines (TigerBeetle's rule) but for the ones listed here with the reason.

Imports are read with ``ast``, function-level imports included, so a cycle cannot hide in a
function body.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("projections", "schemas", "streams")

# streams/ packages from the bottom up. A module may import from its own package and from the
# packages of a lower layer, never from a higher one. dev/ (demo, simulator, embedded servers) is
# below only the command line: no production module imports it.
LAYERS = {
    "streams.config": 0, "streams.observe": 0,
    "streams.documents": 1, "streams.runtime": 1,
    "streams.kafka": 2, "streams.clickhouse": 2,
    "streams.edge": 3, "streams.http": 3,
    "streams.authorization": 4,  # the worker starts and feeds it; it serves streams.http's endpoint
    "streams.worker": 5,
    "streams.ledger": 6,
    "streams.api": 7,  # above the ledger: it erases a subscriber as `voiceledger subscriber erase` does
    "streams.dev": 8,
    "streams.cli": 9,
}
FUNCTION_LINES_MAX = 70
# "path:function" -> why it may be longer. Empty today; an entry needs a comment in the code too.
LONG_FUNCTIONS: dict[str, str] = {}


def modules() -> dict[str, Path]:
    found = {}
    for top in SHIPPED:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports, anywhere in it."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(path, set(found)) - {name} for name, path in found.items()}


def layer(module: str) -> tuple[str, int] | None:
    for package, rank in LAYERS.items():
        if module == package or module.startswith(package + "."):
            return package, rank
    return None


def test_every_streams_package_has_a_layer():
    packages = {".".join(m.split(".")[:2]) for m in modules() if m.startswith("streams.") and m.count(".") >= 1}
    packages -= {"streams.data"}
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_imports_go_down_the_layers():
    upward = []
    for module, imported in graph().items():
        mine = layer(module)
        if mine is None:
            continue
        for other in imported:
            theirs = layer(other)
            if theirs is not None and theirs[0] != mine[0] and theirs[1] >= mine[1]:
                upward.append(f"{module} -> {other}")
    assert not upward, upward


def test_the_pure_core_imports_nothing_of_the_stream_layer():
    for module, imported in graph().items():
        if module.startswith("projections"):
            assert all(i.startswith("projections") for i in imported), (module, imported)
        if module.startswith("schemas"):
            assert not any(i.startswith("streams") for i in imported), (module, imported)


def test_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for other in sorted(edges.get(module, ())):
            if state.get(other) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(other):] + [other]))
            if other not in state:
                visit(other, path + [other])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def test_every_module_says_what_it_is_for():
    missing = [str(p.relative_to(ROOT)) for p in modules().values() if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not missing, missing


def test_no_function_is_longer_than_70_lines_but_the_listed_ones():
    long = {}
    for top in (*SHIPPED, "bench", "tests"):  # the tests are read as often as the code they prove
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > FUNCTION_LINES_MAX:
                        long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert set(long) <= set(LONG_FUNCTIONS), {k: v for k, v in long.items() if k not in LONG_FUNCTIONS}

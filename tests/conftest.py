"""The suite's order: the longest tests first.

``make test`` runs two pytest workers with work stealing. The longest tests (a few minutes
each: the crash tests, the end-to-end scenarios, the tests on the ClickHouse cluster) start
first, so that the many short ones fill the gaps at the end instead of two long ones
starting last and running on after everything else has finished. The order changes when tests
run, never what they assert: every test sets up its own topics, group and database.
"""

from __future__ import annotations

# Test files by how long they ran in CI (the slowest first); the rest keep their order after them.
LONGEST_FIRST = (
    "test_crash_recovery.py", "test_numbering_crash.py", "test_crypto_shredding.py", "test_rebuild_and_verify.py",
    "test_clickhouse_outage.py", "test_scale_out.py", "test_graceful_stop.py", "test_clickhouse_cluster.py",
    "test_api.py", "test_pipeline.py", "test_portal_browser.py",
)


def pytest_collection_modifyitems(items) -> None:  # noqa: ANN001 - pytest's hook
    def rank(item) -> int:  # noqa: ANN001
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)  # stable: within a rank, the collection order

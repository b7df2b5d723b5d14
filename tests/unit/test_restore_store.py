"""The bulk-restoring table store's bookkeeping (streams/worker/restore.py): which changelog
partitions it reads at a rebalance, and the offsets it hands to Faust's recovery, once. The
reading itself runs against the real broker in tests/integration/test_table_restore.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.types import TP

from streams.config.settings import Settings
from streams.worker import restore as restore_module
from streams.worker.restore import RestoringStore

CHANGELOG = "vl-accounts-changelog"


def _store(monkeypatch, answers: list) -> tuple[RestoringStore, list]:
    calls: list = []

    async def fake_restore(settings, tps, data, key_partition):
        calls.append(list(tps))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(restore_module, "restore", fake_restore)
    table = SimpleNamespace(name="accounts", changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG))
    store = RestoringStore("voiceledger-memory://tables", app=SimpleNamespace(), table=table,
                           options={"settings": Settings()})
    return store, calls


def test_reads_only_the_newly_assigned_changelog_partitions_and_hands_each_offset_over_once(monkeypatch):
    p0, p1, events0 = TP(CHANGELOG, 0), TP(CHANGELOG, 1), TP("vl.events", 0)
    store, calls = _store(monkeypatch, [({p0: 41, p1: 7}, 50), ({}, 0)])
    asyncio.run(store.on_rebalance({p0, p1, events0}, set(), {p0, p1, events0}))
    assert calls == [[p0, p1]]
    assert store.persisted_offset(p0) == 41 and store.persisted_offset(p1) == 7
    # Asked again (a later rebalance that keeps the partition): Faust remembers how far it read.
    assert store.persisted_offset(p0) is None
    # A rebalance that assigns nothing new reads nothing.
    asyncio.run(store.on_rebalance({p0, p1}, set(), set()))
    assert calls == [[p0, p1]]


def test_a_revoked_partition_offset_is_not_handed_over(monkeypatch):
    p0, p1 = TP(CHANGELOG, 0), TP(CHANGELOG, 1)
    store, _ = _store(monkeypatch, [({p0: 3, p1: 4}, 9)])
    asyncio.run(store.on_rebalance({p0, p1}, set(), {p0, p1}))
    # Revoked before Faust's recovery took it on (a superseded generation): Faust drops its keys.
    asyncio.run(store.on_rebalance({p0}, {p1}, set()))
    assert store.persisted_offset(p1) is None and store.persisted_offset(p0) == 3


@pytest.mark.parametrize("failure", [TimeoutError("no answer"), OSError("refused")])
def test_a_failed_bulk_read_leaves_the_partitions_to_faust(monkeypatch, failure):
    p0 = TP(CHANGELOG, 0)
    store, calls = _store(monkeypatch, [failure])
    asyncio.run(store.on_rebalance({p0}, set(), {p0}))
    assert calls == [[p0]] and store.persisted_offset(p0) is None


def test_the_states_held_gauge_follows_the_store_and_a_recovery_that_drops_a_revoked_partition(monkeypatch):
    from prometheus_client import REGISTRY

    def held() -> float | None:  # as a scrape reads it
        return REGISTRY.get_sample_value("voiceledger_table_states", {"table": "accounts"})

    store, _ = _store(monkeypatch, [])
    store.data.update({b"a": b"1", b"b": b"2", b"c": b"3"})
    store._key_partition.update({b"a": 0, b"b": 1, b"c": 1})
    assert held() == 3
    # Partition 1 revoked: Faust's recovery completion drops its keys, and the gauge says so.
    asyncio.run(store.on_recovery_completed({TP("vl.events", 0)}, set()))
    assert sorted(store.data) == [b"a"] and held() == 1

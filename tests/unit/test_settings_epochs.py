"""Which version of the fold's settings folds each event (``streams/config/settings_epochs.py``):
the rule a live worker and a rebuild share after changes accepted in force."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from projections.account import FoldSettings
from streams.config.settings_epochs import Epochs, epochs_of
from streams.config.settings_record import packed

V1 = FoldSettings(rate_cards=(), invoice_issuer="v1")
V2 = replace(V1, invoice_issuer="v2")


def start(partition: int, first: int, previous: str, digest: str) -> dict:
    return {"partition": partition, "first_offset": first, "previous_digest": previous, "digest": digest}


def m(partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(partition=partition, offset=offset)


VERSIONS = [{"digest": "d1", "fold_settings": packed(V1)}, {"digest": "d2", "fold_settings": packed(V2)},
            {"digest": "d3", "fold_settings": packed(replace(V1, invoice_issuer="v3"))}]
# Two accepted changes: d1 -> d2 from offsets 10 / 4, then d2 -> d3 from 20 / 9.
TWO = epochs_of(VERSIONS, [start(0, 10, "d1", "d2"), start(1, 4, "d1", "d2"), start(0, 20, "d2", "d3"),
                           start(1, 9, "d2", "d3")])


def test_each_event_is_folded_with_the_version_in_force_at_its_offset():
    assert [TWO.settings_at(0, o) for o in (0, 9, 10, 19)] == [V1, V1, V2, V2]
    assert TWO.settings_at(0, 20) is None and TWO.settings_at(0, 10**9) is None, "at hand after the last start"
    assert [TWO.settings_at(1, o) for o in (3, 4, 8, 9)] == [V1, V2, V2, None]
    assert TWO.settings_at(2, 0) is None, "a partition with no start: at hand"
    assert Epochs().runs([m(0, 1), m(1, 2)]) == [([m(0, 1), m(1, 2)], None)]


def test_runs_go_oldest_epoch_first_and_keep_each_partitions_order():
    messages = [m(0, 9), m(1, 3), m(0, 10), m(1, 4), m(1, 9), m(0, 25), m(1, 2)]
    runs = TWO.runs(messages)
    assert [(settings and settings.invoice_issuer, [(x.partition, x.offset) for x in run]) for run, settings in runs] == [
        ("v1", [(0, 9), (1, 3), (1, 2)]), ("v2", [(0, 10), (1, 4)]), (None, [(1, 9), (0, 25)])]


def test_a_version_not_kept_whole_is_folded_with_the_settings_at_hand_and_named():
    table = epochs_of([{"digest": "d1", "fold_settings": b""}, {"digest": "d1", "fold_settings": b"junk"}],
                      [start(0, 5, "d1", "d2")])
    assert table.settings_at(0, 0) is None and table.unknown == ("d1",)
    kept_later = epochs_of([{"digest": "d1", "fold_settings": b""}, {"digest": "d1", "fold_settings": packed(V1)}],
                           [start(0, 5, "d1", "d2")])
    assert kept_later.settings_at(0, 0) == V1 and kept_later.unknown == ()

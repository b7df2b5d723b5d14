"""streams/worker/faust_patches.py: Faust commits past repeated acked offsets in one step."""

from faust.utils.functional import consecutive_numbers

from streams.worker.faust_patches import consecutive_allowing_repeats


def test_without_repeats_the_runs_are_faust_own():
    for numbers in ([], [1], [1, 2, 3], [34, 35, 36, 40, 41, 42, 43, 44], [5, 7, 9]):
        assert list(consecutive_allowing_repeats(numbers)) == [list(r) for r in consecutive_numbers(numbers)]


def test_repeated_offsets_stay_in_their_run():
    acked = [5, 5, 6, 6, 7, 7, 9]
    assert next(consecutive_numbers(acked)) == [5]  # Faust: commit 6, one offset per commit
    assert list(consecutive_allowing_repeats(acked)) == [[5, 5, 6, 6, 7, 7], [9]]  # commit 8 at once


def test_the_consumer_uses_it_once_the_app_is_built():
    import faust.transport.consumer as faust_consumer

    from streams.worker.app import create_app
    from streams.config.settings import Settings

    create_app(Settings())
    assert faust_consumer.consecutive_numbers is consecutive_allowing_repeats


def test_faust_no_longer_commits_over_offsets_it_merely_skipped():
    import asyncio

    import faust.transport.consumer as faust_consumer
    from faust.types import TP

    from streams.worker.app import create_app
    from streams.config.settings import Settings
    from streams.worker.faust_patches import mark_empty

    app = create_app(Settings()).app
    consumer = app.consumer
    tp = TP("voiceledger.events", 0)
    consumer._committed_offset[tp] = 100
    for offset in (100, 101):  # processed and acked
        consumer._acked[tp].append(offset)
        consumer._acked_index[tp].add(offset)
    asyncio.run(consumer._add_gap(tp, 102, 110))  # Faust saw a jump: records dropped, maybe
    assert consumer._new_offset(tp) == 102, "only what was acked is committed"
    consumer._committed_offset[tp] = 102  # what the commit of 102 records
    mark_empty(consumer, tp, 102, 111)  # the broker showed 102..110 hold no records
    consumer._acked[tp].append(111)
    consumer._acked_index[tp].add(111)
    assert consumer._new_offset(tp) == 112
    assert faust_consumer.Consumer._add_gap.__name__ == "_no_blind_gap"


def test_the_data_dir_is_made_with_its_parents_and_faust_writes_under_it(tmp_path):
    """Faust creates its data directory but not the parents (a fresh volume, a fresh clone)."""
    from dataclasses import replace

    from streams.config.settings import Settings
    from streams.worker.app import faust_app

    data = tmp_path / "fresh" / "volume"
    app = faust_app(replace(Settings(), data_dir=str(data), app_id="vl-data"))
    assert data.is_dir() and str(app.conf.datadir) == f"{data}/faust-vl-data"
    app.conf.datadir.mkdir(exist_ok=True)  # what Faust does at start: it must now succeed

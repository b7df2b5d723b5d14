"""The stall watch behind the worker's watchdog (streams/worker/progress_watch.py)."""

from streams.worker.progress_watch import ProgressWatch


def test_a_partition_behind_its_log_end_that_does_not_move_is_stalled_after_the_wait():
    watch = ProgressWatch(stall_seconds=20)
    assert watch.observe(0, position=391, end=922, now=100.0) is None
    assert watch.observe(0, position=391, end=922, now=119.0) is None
    reason = watch.observe(0, position=391, end=922, now=120.0)
    assert reason is not None and "391..921" in reason


def test_a_moving_partition_restarts_its_clock():
    watch = ProgressWatch(stall_seconds=20)
    watch.observe(0, 10, 100, now=0.0)
    assert watch.observe(0, 11, 100, now=19.0) is None
    assert watch.observe(0, 11, 100, now=38.0) is None
    assert watch.observe(0, 11, 100, now=39.0) is not None


def test_a_caught_up_partition_is_never_stalled_however_long_it_idles():
    watch = ProgressWatch(stall_seconds=20)
    for now in (0.0, 50.0, 5000.0):
        assert watch.observe(1, 500, 500, now) is None


def test_records_arriving_after_a_quiet_time_start_a_fresh_clock():
    watch = ProgressWatch(stall_seconds=20)
    assert watch.observe(1, 500, 500, now=0.0) is None
    assert watch.observe(1, 500, 510, now=1000.0) is None  # new records: not stalled yet
    assert watch.observe(1, 500, 510, now=1020.0) is not None


def test_recovery_time_and_revoked_partitions_do_not_count():
    watch = ProgressWatch(stall_seconds=20)
    watch.observe(0, 5, 50, now=0.0)
    watch.observe(1, 5, 50, now=0.0)
    watch.restart_clocks()
    assert watch.observe(0, 5, 50, now=30.0) is None
    watch.forget({0})
    assert watch.observe(0, 5, 50, now=45.0) is None
    assert watch.observe(0, 5, 50, now=65.0) is not None
    # Partition 1 was not observed since the clocks restarted: it starts again too.
    assert watch.observe(1, 5, 50, now=65.0) is None


def test_a_committed_offset_that_creeps_but_never_reaches_what_was_processed_is_a_stall():
    from streams.worker.progress_watch import CommitWatch

    watch = CommitWatch(stall_seconds=20)
    assert watch.observe(0, committed=236, processed=922, now=0.0) is None
    for second in range(1, 20):  # one offset a second: it moves, but never reaches 922
        assert watch.observe(0, committed=236 + second, processed=922, now=float(second)) is None
    reason = watch.observe(0, committed=256, processed=922, now=20.0)
    assert reason is not None and "922" in reason


def test_a_committed_offset_that_keeps_up_under_load_is_never_a_stall():
    from streams.worker.progress_watch import CommitWatch

    watch = CommitWatch(stall_seconds=20)
    processed = 1000
    for second in range(0, 300):
        committed = processed  # the last commit covered everything processed a second ago
        processed += 500
        assert watch.observe(0, committed=committed, processed=processed, now=float(second)) is None
    assert watch.observe(0, committed=processed, processed=processed, now=400.0) is None

"""The in-order guard (``streams/worker/sequence.py``): a batch that leaves a gap in a partition's
offsets is found before anything is applied; redeliveries (records behind the expected offset)
are not gaps; a partition starts at the group's committed offset, and again after a rebalance."""

from streams.worker.sequence import Gap, PartitionSequence


def test_contiguous_batches_leave_no_gap():
    seq = PartitionSequence()
    seq.start(0, 100)
    batch = [(0, 100), (0, 101), (0, 102)]
    assert seq.gaps(batch) == []
    seq.advance(batch)
    assert seq.gaps([(0, 103)]) == []


def test_records_skipped_inside_a_batch_are_a_gap():
    # Seen in the SIGKILL test: a 40-record batch spanning offsets 1123-1317 of one partition.
    seq = PartitionSequence()
    seq.start(2, 1118)
    seq.advance([(2, o) for o in range(1118, 1123)])
    assert seq.gaps([(2, 1123), (2, 1124), (2, 1290), (2, 1291)]) == [Gap(2, 1125, 1290)]


def test_first_record_after_the_committed_offset_is_a_gap():
    seq = PartitionSequence()
    assert seq.unknown({0, 1}) == {0, 1}
    seq.start(0, 498)
    seq.start(1, None)  # no committed offset yet: nothing to compare with
    assert seq.unknown({0, 1}) == {1}
    assert seq.gaps([(0, 650)]) == [Gap(0, 498, 650)]
    assert seq.gaps([(1, 7)]) == []


def test_redelivery_behind_the_expected_offset_is_not_a_gap_and_moves_back():
    seq = PartitionSequence()
    seq.start(0, 10)
    seq.advance([(0, 10), (0, 11), (0, 12)])
    batch = [(0, 5), (0, 6)]
    assert seq.gaps(batch) == []
    seq.advance(batch)
    assert seq.expected[0] == 7
    assert seq.gaps([(0, 9)]) == [Gap(0, 7, 9)]


def test_gaps_does_not_advance_and_partitions_are_independent():
    seq = PartitionSequence()
    seq.start(0, 0)
    seq.start(1, 0)
    batch = [(0, 0), (1, 0), (0, 1), (1, 3)]
    assert seq.gaps(batch) == [Gap(1, 1, 3)]
    assert seq.expected == {0: 0, 1: 0}


def test_a_revoked_partition_starts_again_at_the_committed_offset():
    seq = PartitionSequence()
    seq.start(3, 100)
    seq.advance([(3, 100)])
    seq.forget({3})
    assert seq.unknown({3}) == {3}

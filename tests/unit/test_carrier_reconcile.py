"""Carrier reconciliation (streams/edge/carrier_reconcile.py): missing calls on either side and
differences beyond the tolerances, as evidence for a carrier dispute."""

from streams.edge.carrier_reconcile import CallSide, compare


def test_calls_missing_on_either_side_and_differences_beyond_tolerance_are_reported():
    theirs = [CallSide("c/1", 1000, 60), CallSide("c/2", 2000, 121), CallSide("c/3", 3000, 30),
              CallSide("c/4", 4000, 10), CallSide("c/4", 4000, 10)]
    ours = [CallSide("c/1", 1001, 61, 10_000), CallSide("c/2", 2000, 119, 20_000), CallSide("c/3", 3010, 30, 5_000),
            CallSide("c/5", 5000, 45, 8_000)]
    result = compare(theirs, ours, start_tolerance_s=2, duration_tolerance_s=1)
    assert result.matched == 1  # c/1: one second off on both, within the tolerances
    assert [(t.call_key, o.call_key) for t, o in result.differing] == [("c/2", "c/2"), ("c/3", "c/3")]
    assert [c.call_key for c in result.only_theirs] == ["c/4"]  # listed twice, counted once
    assert [c.call_key for c in result.only_ours] == ["c/5"]
    assert not result.clean
    text = "\n".join(result.lines())
    assert "only theirs\tc/4" in text and "charged 20000" in text


def test_identical_sides_are_clean():
    calls = [CallSide("c/1", 1000, 60, 10_000)]
    assert compare(calls, calls).clean

"""Legal invoice numbers (issue 6): gapless per issuer and year across partitions, the same
however the partitions' outputs interleave or repeat (projections/numbering.py)."""

from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from projections.events import InvoiceIssued, InvoiceKind
from projections.numbering import Draft, TickPassed, draft_of, number_all, watermark

H = 3_600_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00:00Z


def draft(ref: str, account: str, partition: int, offset: int, at_ms: int = T0, issuer: str = "VL",
          year: int = 2026) -> Draft:
    return Draft(ref, account, issuer, year, at_ms, partition, offset)


def numbers(out) -> dict[str, str]:
    return {n.reference: n.number for n in out}


def test_an_epoch_is_numbered_once_every_partition_passed_its_tick_in_canonical_order():
    items = [
        draft("VL-b-2026-0001", "b", 0, 5), draft("VL-a-2026-0001", "a", 0, 5), TickPassed(0, 5, T0),
        draft("VL-c-2026-0001", "c", 1, 9),
    ]
    state, out = number_all(2, items)
    assert out == [] and watermark(state) is None  # partition 1 has not passed the tick
    state, out = number_all(2, items + [TickPassed(1, 10, T0)])
    # One sequence over both partitions, by (issuer, year, issue time, account): a, b, c.
    assert [(n.reference, n.number, n.sequence) for n in out] == [
        ("VL-a-2026-0001", "VL-2026-000001", 1), ("VL-b-2026-0001", "VL-2026-000002", 2),
        ("VL-c-2026-0001", "VL-2026-000003", 3)]
    assert {n.epoch_ms for n in out} == {T0}


def test_a_draft_after_its_partitions_tick_waits_for_the_next_epoch():
    items = [TickPassed(0, 1, T0), TickPassed(1, 1, T0), draft("VL-a-2026-0002", "a", 0, 2, T0 + 60_000),
             TickPassed(1, 2, T0 + H)]
    _, out = number_all(2, items)
    assert out == []
    _, out = number_all(2, items + [TickPassed(0, 3, T0 + H)])
    assert numbers(out) == {"VL-a-2026-0002": "VL-2026-000001"} and out[0].epoch_ms == T0 + H


def test_sequences_are_per_issuer_and_per_year():
    items = [draft("VL-a-2026-0001", "a", 0, 1, T0), draft("VL-a-2027-0001", "a", 0, 2, T0, year=2027),
             draft("XY-b-2026-0001", "b", 0, 3, T0, issuer="XY"), draft("VL-c-2026-0001", "c", 0, 4, T0 + 1),
             TickPassed(0, 5, T0)]
    _, out = number_all(1, items)
    assert numbers(out) == {"VL-a-2026-0001": "VL-2026-000001", "VL-c-2026-0001": "VL-2026-000002",
                            "VL-a-2027-0001": "VL-2027-000001", "XY-b-2026-0001": "XY-2026-000001"}


def test_repeats_of_drafts_and_ticks_change_nothing():
    d = draft("VL-a-2026-0001", "a", 0, 3)
    items = [d, d, TickPassed(0, 4, T0), d, TickPassed(0, 4, T0), TickPassed(0, 9, T0)]  # a tick published twice
    state, out = number_all(1, items)
    assert numbers(out) == {"VL-a-2026-0001": "VL-2026-000001"}
    assert state.sealed == {} and state.pending == {} and state.last_sequence == {"VL|2026": 1}


def test_a_partition_that_missed_a_tick_holds_the_epoch_and_its_drafts_join_the_next():
    items = [draft("VL-a-2026-0001", "a", 0, 1), TickPassed(0, 2, T0),
             draft("VL-b-2026-0001", "b", 1, 1),  # partition 1 never got the T0 tick
             draft("VL-c-2026-0001", "c", 0, 3, T0 + 10), TickPassed(0, 4, T0 + H)]
    _, out = number_all(2, items)
    assert out == []
    _, out = number_all(2, items + [TickPassed(1, 2, T0 + H)])
    assert [(n.reference, n.epoch_ms) for n in out] == [
        ("VL-a-2026-0001", T0), ("VL-b-2026-0001", T0 + H), ("VL-c-2026-0001", T0 + H)]
    assert [n.sequence for n in out] == [1, 2, 3]


def test_the_draft_of_an_invoice_takes_issuer_and_year_from_its_reference():
    inv = InvoiceIssued("invoice:VL-acct-1-x-2026-0007", "acct-1-x", T0, "VL-acct-1-x-2026-0007",
                        InvoiceKind.REGULAR, "2026-10", "USD", (), 0)
    assert draft_of(inv, 3, 42) == Draft("VL-acct-1-x-2026-0007", "acct-1-x", "VL", 2026, T0, 3, 42)


# --- determinism: any interleaving, any replay --------------------------------------------------

@st.composite
def partition_logs(draw):
    """Per partition, its log of drafts and ticks (offsets rising, ticks hourly, some missed)."""
    partitions = draw(st.integers(1, 3))
    hours = draw(st.integers(1, 4))
    logs = []
    for p in range(partitions):
        log, offset, seq = [], 0, {}
        for h in range(hours):
            for _ in range(draw(st.integers(0, 3))):
                account = f"a{p}{draw(st.integers(0, 2))}"
                year = draw(st.sampled_from([2026, 2026, 2027]))
                seq[(account, year)] = seq.get((account, year), 0) + 1
                offset += draw(st.integers(0, 2))  # several drafts may share an event (a tick's close)
                log.append(draft(f"VL-{account}-{year}-{seq[(account, year)]:04d}", account, p, offset,
                                 T0 + h * H + draw(st.integers(0, H - 1)), year=year))
            offset += 1
            if h == hours - 1 or draw(st.booleans()) or draw(st.booleans()):  # now and then a tick is missed
                log.append(TickPassed(p, offset, T0 + (h + 1) * H))
        logs.append(log)
    return partitions, logs


def arrivals(logs: list[list], rng: random.Random) -> list:
    """One possible arrival order: partitions interleaved, each in its own order, with crash
    replays that send a partition's items again from an earlier point (a draft whose account
    state had landed is not sent again; ticks always are)."""
    cursors = [0] * len(logs)
    out = []
    while any(c < len(log) for c, log in zip(cursors, logs)):
        p = rng.choice([i for i, log in enumerate(logs) if cursors[i] < len(log)])
        step = rng.randint(1, 3)
        out.extend(logs[p][cursors[p]:cursors[p] + step])
        cursors[p] += step
        if rng.random() < 0.3:  # a crash: replay from an earlier point
            back = rng.randint(0, cursors[p])
            out.extend(it for it in logs[p][back:cursors[p]] if isinstance(it, TickPassed) or rng.random() < 0.5)
    return out


@settings(max_examples=200, deadline=None)
@given(partition_logs(), st.integers(0, 2**32))
def test_numbers_are_gapless_and_the_same_for_every_interleaving_and_replay(case, seed):
    partitions, logs = case
    in_order = [it for log in logs for it in log]  # partition by partition: one valid order
    _, expected = number_all(partitions, in_order)
    _, got = number_all(partitions, arrivals(logs, random.Random(seed)))
    assert numbers(got) == numbers(expected)
    assert len(got) == len(numbers(got))  # each invoice numbered once
    by_key: dict[tuple[str, int], list[int]] = {}
    for n in got:
        by_key.setdefault((n.issuer, n.year), []).append(n.sequence)
    for seqs in by_key.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1))  # gapless
    # Everything before each partition's last tick is numbered once all partitions passed it.
    drafts = {it.reference for log in logs for it in log if isinstance(it, Draft)}
    assert set(numbers(got)) <= drafts

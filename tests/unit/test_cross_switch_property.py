"""Property (issue 18): calls from several switches, with split legs, duplicates, corrections and
files in any order, are each billed exactly once at their latest revision (R1, R2, R9).

Each call is written as its switch writes it: Asterisk Master.csv rows (a forked Dial's NO ANSWER
attempts beside the answered one, under one uniqueid), a FreeSWITCH A leg and its B leg, or a
plain JSON CDR. Each revision of a call is a carrier's file (``ingest --revision N``); any file may
be sent twice, and the files arrive in any order. The files go through the edge (parsing, call
assembly) and then the fold, in batches of any size. The sum of what the account is charged must
equal a direct rating of each call's final revision.
"""

from __future__ import annotations

import json
import random
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.account import FoldSettings, Positioned, fold_batch
from projections.events import AccountOpened
from projections.rating import DestinationRate, RateCard
from streams.edge.source import Source, parse_lines

UTC = ZoneInfo("UTC")
CARD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000)})
FOLD = FoldSettings(rate_cards=(CARD,))
T0 = 1_790_812_800  # 2026-10-01T00:00:00Z, seconds
CARRIERS = {"asterisk-csv": "ast", "freeswitch-json": "fs", "plain-json": "pl"}


def _stamp(seconds: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _asterisk(n: int, start: int, talk: int, forks: int) -> str:
    """A channel's attempts under one uniqueid: ``forks`` unanswered ones, then the call itself."""
    rows = []
    for sequence in range(forks + 1):
        answered = talk > 0 and sequence == forks
        answer, end = (start + 5, start + 5 + talk) if answered else ("", start + 20)
        rows.append(f'"acct-1","15550000001","12125550100","from-internal","","SIP/1001-{n:08x}",'
                    f'"SIP/carrier-{n:08x}","Dial","","{_stamp(start)}","{_stamp(answer) if answer else ""}",'
                    f'"{_stamp(end)}",{end - start},{talk if answered else 0},'
                    f'"{"ANSWERED" if answered else "NO ANSWER"}","DOCUMENTATION","{T0}.{n}","","","{T0}.{n}",{sequence}\n')
    return "".join(rows)


def _freeswitch(n: int, start: int, talk: int) -> str:
    """The A leg, which bills the call, and its B leg, which names it."""
    def leg(uuid: str, extra: dict) -> str:
        v = {"uuid": uuid, "accountcode": "acct-1", "caller_id_number": "15550000001",
             "destination_number": "12125550100", "start_epoch": str(start), "billsec": str(talk),
             "answer_epoch": str(start + 5 if talk else 0), "end_epoch": str(start + 5 + talk if talk else start + 20),
             "hangup_cause": "NORMAL_CLEARING" if talk else "NO_ANSWER", **extra}
        return json.dumps({"variables": v}) + "\n"
    return leg(f"a-{n}", {}) + leg(f"b-{n}", {"originator": f"a-{n}"})


def _plain(n: int, start: int, talk: int) -> str:
    record = {"call_id": f"p-{n}", "account_id": "acct-1", "caller": "15550000001", "callee": "12125550100",
              "start_at": f"{_stamp(start)}Z".replace(" ", "T"), "end_at": f"{_stamp(start + 5 + talk)}Z".replace(" ", "T"),
              "answer_at": f"{_stamp(start + 5)}Z".replace(" ", "T") if talk else None}
    return json.dumps(record) + "\n"


@st.composite
def traffic(draw):
    """(files as (format, revision, text), the final talk seconds of every call)."""
    files, final = [], []
    for n in range(draw(st.integers(1, 6))):
        fmt = draw(st.sampled_from(sorted(CARRIERS)))
        start, forks = T0 + 3_600 + n * 600, draw(st.integers(0, 2))
        talks = draw(st.lists(st.integers(0, 400), min_size=1, max_size=3))
        for revision, talk in enumerate(talks):
            text = (_asterisk(n, start, talk, forks) if fmt == "asterisk-csv" else
                    _freeswitch(n, start, talk) if fmt == "freeswitch-json" else _plain(n, start, talk))
            files += [(fmt, revision, text)] * draw(st.integers(1, 2))  # a carrier may send a file twice
        final.append(talks[-1])
    order = draw(st.randoms(use_true_random=False))
    order.shuffle(files)
    return files, final


def _direct(talk: int) -> int:
    return -(-talk // 60) * 10_000  # R2 60/60 at 0.01 a minute


@settings(max_examples=200, deadline=None)
@given(traffic(), st.integers(1, 7))
def test_R1_R2_R9_every_call_from_every_switch_is_billed_once_at_its_latest_revision(stream, batch):
    files, final = stream
    events = [AccountOpened("open", "acct-1", T0 * 1000, "USD", "basic", "postpaid", ("15550000001",))]
    for fmt, revision, text in files:
        source = Source(fmt, CARRIERS[fmt], UTC, revision=revision)
        parsed = list(parse_lines(text.splitlines(keepends=True), source))
        assert all(p.cdr is not None for p in parsed), [p.rejected for p in parsed]
        events += [p.cdr for p in parsed]
    items = [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)]
    state = None
    for i in range(0, len(items), batch):
        state, _ = fold_batch(state, items[i:i + batch], FOLD)
    assert state.charged_micros == sum(_direct(t) for t in final) == -state.balance_micros
    assert state.calls_charged == sum(1 for t in final if t > 0)


def test_the_property_can_fail_when_a_b_leg_is_billed_too():
    """The generator writes B legs: billing them as calls of their own would double the charge."""
    text = _freeswitch(1, T0 + 3_600, 61)
    parsed = list(parse_lines(text.splitlines(keepends=True), Source("freeswitch-json", "fs", UTC)))
    assert [p.cdr.call_id for p in parsed] == ["a-1"] and parsed[0].legs == 2
    rows = _asterisk(2, T0 + 3_600, 61, forks=2)
    (call,) = parse_lines(rows.splitlines(keepends=True), Source("asterisk-csv", "ast", UTC))
    assert call.legs == 3 and call.cdr.end_at_ms - call.cdr.answer_at_ms == 61_000
    random.Random(0).shuffle(rows := rows.splitlines(keepends=True))
    (shuffled,) = parse_lines(rows, Source("asterisk-csv", "ast", UTC))
    assert shuffled.cdr == call.cdr, "the talk leg is billed whatever the order of the rows"

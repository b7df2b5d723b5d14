"""A realistic, seeded stream of account events for the demo, the tests and the benchmark.

Accounts open (USD or EUR, prepaid or postpaid), top up, and place calls: mostly domestic,
some to mobiles and abroad, some on-net, some unanswered or busy, with durations from a
long-tailed distribution. Carriers sometimes re-send a CDR (a duplicate). The same seed always
gives the same events, so a run can be checked against a pure fold of the same input.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from projections.events import (
    AccountEvent,
    AccountOpened,
    CallDetailRecord,
    Direction,
    Disposition,
    PaymentReceived,
)

START_MS = 1_790_812_800_000  # 2026-10-01T00:00:00Z, in the past so no event is "in the future"

USD_DESTINATIONS = [  # (weight, callee prefix, digits to add)
    (55, "1212", 7), (12, "1415", 7), (8, "1555", 7), (6, "447", 9), (4, "4930", 8),
    (3, "52155", 8), (3, "9198", 8), (2, "63917", 7), (1, "5352", 6), (1, "1900", 7),
    (1, "88213", 6),
]
EUR_DESTINATIONS = [
    (45, "322", 7), (15, "32478", 6), (10, "3278", 6), (10, "331", 8), (8, "336", 8),
    (6, "4930", 8), (4, "4420", 8), (2, "2126", 8),
]
CARRIERS = ["carrier-a", "carrier-b", "carrier-c"]


@dataclass(frozen=True)
class SimulationSpec:
    accounts: int = 2_000
    calls: int = 50_000
    days: int = 3
    seed: int = 7
    duplicate_ratio_percent: int = 2
    eur_ratio_percent: int = 30
    correction_ratio_percent: int = 1  # answered calls a carrier corrects later (revision 1, shorter)


def _pick(rng: random.Random, table: list[tuple[int, str, int]]) -> str:
    total = sum(w for w, _, _ in table)
    r = rng.randrange(total)
    for weight, prefix, digits in table:
        if r < weight:
            return prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        r -= weight
    raise AssertionError("unreachable")


def _duration_s(rng: random.Random) -> int:
    # Long-tailed: most calls are short, a few run long (log-normal-ish, capped at 2 h).
    return min(7_200, max(1, int(rng.lognormvariate(4.2, 1.1))))


def simulate(spec: SimulationSpec) -> list[AccountEvent]:
    rng = random.Random(spec.seed)
    window_ms = spec.days * 86_400_000
    timed: list[tuple[int, int, AccountEvent]] = []
    seq = 0
    accounts = []
    for i in range(spec.accounts):
        account_id = f"acct-{i:06d}"
        eur = rng.randrange(100) < spec.eur_ratio_percent
        currency = "EUR" if eur else "USD"
        number = ("3278" + f"{i:06d}") if eur else ("1555" + f"{i:07d}")
        opened = START_MS + rng.randrange(3_600_000)
        mode = "postpaid" if rng.randrange(10) == 0 else "prepaid"
        accounts.append((account_id, currency, number, opened))
        # The account's country decides its dialling plan and what is domestic (issue 18).
        timed.append((opened, seq, AccountOpened(f"open-{account_id}", account_id, opened, currency,
                                                 "residential-basic", mode, (number,), "UTC", "",
                                                 "BE" if eur else "US")))
        seq += 1
        # Top-ups: one at opening, more later (R9: funds are a prepayment).
        for k in range(1 + rng.randrange(3)):
            at = opened + 60_000 + (0 if k == 0 else rng.randrange(window_ms))
            amount = rng.choice([5, 10, 20, 25, 50]) * 1_000_000
            timed.append((at, seq, PaymentReceived(f"pay-{account_id}-{k}", account_id, at, amount,
                                                   currency, f"psp-{seq}")))
            seq += 1
    for n in range(spec.calls):
        account_id, currency, number, opened = accounts[rng.randrange(len(accounts))]
        start = opened + 120_000 + rng.randrange(window_ms)
        callee = _pick(rng, EUR_DESTINATIONS if currency == "EUR" else USD_DESTINATIONS)
        r = rng.randrange(100)
        disposition = (Disposition.ANSWERED if r < 74 else Disposition.NO_ANSWER if r < 88
                       else Disposition.BUSY if r < 96 else Disposition.FAILED)
        ring_ms = rng.randrange(2_000, 20_000)
        if disposition is Disposition.ANSWERED:
            answer = start + ring_ms
            end = answer + _duration_s(rng) * 1000
        else:
            answer, end = None, start + ring_ms
        carrier = CARRIERS[rng.randrange(len(CARRIERS))]
        cdr = CallDetailRecord(f"cdr-{n}", carrier, f"{carrier}-{n:09d}", account_id, number, callee,
                               start, answer, end, disposition, Direction.OUTBOUND,
                               f"trunk-{rng.randrange(4)}")
        timed.append((end, seq, cdr))
        seq += 1
        if rng.randrange(100) < spec.duplicate_ratio_percent:
            # A carrier re-sends the same call later, under a new ingest event id.
            resent = CallDetailRecord(f"cdr-{n}-resent", *[getattr(cdr, f) for f in (
                "carrier_id", "call_id", "account_id", "caller", "callee", "start_at_ms",
                "answer_at_ms", "end_at_ms", "disposition", "direction", "trunk")])
            timed.append((end + rng.randrange(1, 3_600_000), seq, resent))
            seq += 1
        if answer is not None and end - answer > 2_000 and rng.randrange(100) < spec.correction_ratio_percent:
            # The carrier's billsec was too long (a switch fault): its correction file, a day later.
            fixed = replace(cdr, event_id=f"cdr-{n}-r1", end_at_ms=answer + (end - answer) * rng.randrange(30, 90) // 100,
                            revision=1)
            timed.append((end + rng.randrange(3_600_000, 86_400_000), seq, fixed))
            seq += 1
    timed.sort(key=lambda t: (t[0], t[1]))
    return [event for _, _, event in timed]

"""The digest of everything the batch path gives for generated streams: run by
``test_compiled_modules.py`` once from source (``VOICELEDGER_PURE=1``) and once compiled.

    python -m tests.unit.compiled_digest KEYS_DIR SEED...

Prints JSON: which modules ran compiled, and per seed the SHA-256 of every batch's states,
outputs, rows, dead letters and counts. The streams mix in what the fast cases do not see:
duplicates, conflicts, corrections, refunds, chargebacks, adjustments, disputes, suspensions,
fraud holds, terminations, erasures, plan changes, month closes and junk bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from dataclasses import replace

from projections import compiled
from projections.events import (
    AccountResumed, AccountSuspended, AccountTerminated, AdjustmentPosted, CallDetailRecord, ChargebackReceived,
    DisputeOpened, DisputeResolved, DisputeOutcome, FraudHoldPlaced, FraudHoldReleased, PaymentReceived,
    PaymentRefunded, PeriodTicked, PlanChangeRequested, SubscriberErasureRequested, SuspensionReason,
    TerminationReason, TickKind,
)
from schemas.codec import EventCodec
from streams.config.settings import Settings
from streams.dev.simulate import SimulationSpec, simulate
from streams.edge.sealing import opener_for, sealer_for
from streams.kafka.producer import plan_messages
from streams.worker.fold_settings import fold_settings_from
from streams.worker.opening import OpeningProcess
from streams.worker.processor import BatchProcessor, InMessage

PARTITIONS = 3
NOVEMBER_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z: the tick that closes October


def rare_event(rng: random.Random, n: int, call: CallDetailRecord, payment: PaymentReceived):  # noqa: ANN201
    """One of the events the common case never sees, on ``call``'s account, at ``call``'s time."""
    acct, at, cur = call.account_id, call.end_at_ms + 1, payment.currency
    choices = [
        lambda: replace(call, event_id=f"x{n}", end_at_ms=call.end_at_ms + 7_000),  # a conflict
        lambda: PaymentRefunded(f"x{n}", acct, at, rng.randrange(1, 5_000_000), cur, payment.event_id, "r"),
        lambda: ChargebackReceived(f"x{n}", acct, at, rng.randrange(1, 5_000_000), cur, payment.event_id, "4837"),
        lambda: AdjustmentPosted(f"x{n}", acct, at, rng.choice([-1, 1]) * rng.randrange(1, 9_000_000), cur,
                                 rng.choice(["goodwill", "equipment", "activation"]), "r"),
        lambda: DisputeOpened(f"x{n}", acct, at, f"call:{call.call_id}", rng.randrange(1, 90_000), cur, "r"),
        lambda: DisputeResolved(f"x{n}", acct, at, f"x{n - 1}", rng.choice(list(DisputeOutcome)),
                                rng.randrange(0, 90_000), cur),
        lambda: AccountSuspended(f"x{n}", acct, at, rng.choice(list(SuspensionReason))),
        lambda: AccountResumed(f"x{n}", acct, at),
        lambda: FraudHoldPlaced(f"x{n}", acct, at, "case"),
        lambda: FraudHoldReleased(f"x{n}", acct, at, "case"),
        lambda: AccountTerminated(f"x{n}", acct, at, rng.choice(list(TerminationReason)), at),
        lambda: SubscriberErasureRequested(f"x{n}", acct, at, "gdpr"),
        lambda: PlanChangeRequested(f"x{n}", acct, at, rng.choice(["basic", "pro"])),
    ]
    return rng.choice(choices)()


def stream(seed: int) -> list:
    rng = random.Random(seed)
    events = simulate(SimulationSpec(accounts=40, calls=1_500, days=45, seed=seed, duplicate_ratio_percent=5,
                                     correction_ratio_percent=5))
    payments = {e.account_id: e for e in events if isinstance(e, PaymentReceived)}
    mixed = []
    for n, event in enumerate(events):
        mixed.append(event)
        if isinstance(event, CallDetailRecord) and event.account_id in payments and rng.random() < 0.08:
            mixed.append(rare_event(rng, n, event, payments[event.account_id]))
    return mixed


def messages(events: list, codec: EventCodec, rng: random.Random) -> list[InMessage]:
    """Envelopes as the ingest tool sends them, month-close and hourly ticks on every
    partition where their time comes, and junk bytes now and then."""
    offsets = [0] * PARTITIONS
    out = []

    def put(partition: int, value: bytes) -> None:
        out.append(InMessage("events", partition, offsets[partition], 2**62, value))
        offsets[partition] += 1

    closed = False
    for i in range(0, len(events), 50):
        chunk = events[i:i + 50]
        for partition, _key, value in plan_messages(chunk, codec, PARTITIONS, rng.choice([1, 7, 200])):
            put(partition, value)
        if not closed and getattr(chunk[-1], "start_at_ms", 0) >= NOVEMBER_MS:
            closed = True
            for partition in range(PARTITIONS):
                put(partition, codec.encode(PeriodTicked(f"close-{partition}", NOVEMBER_MS, TickKind.PERIOD_START,
                                                         "2026-11")))
        if rng.random() < 0.05:
            put(rng.randrange(PARTITIONS), rng.choice([b"\x00junk", b"", codec.encode(chunk[0])[:9]]))
    return out


def digest(seed: int, keys_dir: str, opening: OpeningProcess | None = None) -> str:
    """``opening``: sealed CDRs opened by that process (``test_opening.py``), else by the processor."""
    rng = random.Random(seed)
    settings = replace(Settings(), partitions=PARTITIONS, subscriber_keys_dir=keys_dir, seal_personal_data=True)
    codec = EventCodec()
    events = sealer_for(settings).seal_events(stream(seed))
    processor = BatchProcessor(codec, fold_settings_from(settings), PARTITIONS, opener_for(settings), opening=opening)
    states: dict = {}
    h = hashlib.sha256()
    todo = messages(events, codec, rng)
    while todo:
        size = rng.randrange(1, 400)
        batch, todo = todo[:size], todo[size:]
        result = processor.process(batch, states.get, lambda at_ms: sorted(states))
        result.encode_states(codec)
        for account_id in sorted(result.encoded_states):
            value, state = result.encoded_states[account_id]
            h.update(account_id.encode() + value)
            states[account_id] = state
        for name in ("call_rows", "journal_rows", "entries", "rated_calls", "status_changes", "invoices",
                     "invoice_rows", "invoice_line_rows", "numbering", "dead_letters", "dead_letter_rows",
                     "dispute_rows",
                     "calls_ended", "erased"):
            h.update(repr(getattr(result, name)).encode())
        h.update(repr(sorted(result.counts.items())).encode())
    return h.hexdigest()


def main() -> None:
    keys_dir, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
    digests = {seed: digest(seed, keys_dir) for seed in seeds}
    print(json.dumps({"compiled": compiled.status_of_all(), "digests": digests}))


if __name__ == "__main__":
    main()

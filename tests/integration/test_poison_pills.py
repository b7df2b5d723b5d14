"""Poison pills against a real worker: the hostile messages that used to make it exit 75 and replay
the same batch forever (a tombstone, times near 2^62, a time zone naming a directory or 300
characters long, a payment of 2^63-1, an adjustment of -2^63, a payment dated 1969, a tick far
in the future, an envelope over the bound, a 5,000-character call id) are put one at a time and
then all together between good events on one partition. Every hostile message is on the
dead-letter topic with its reason; every good event, before and after, is applied exactly as
the pure fold of the good events alone; the worker never stops itself for them."""

from __future__ import annotations

import asyncio
from dataclasses import replace


from projections.events import (AccountOpened, AdjustmentPosted, CallDetailRecord, Disposition, PaymentReceived,
                                PeriodTicked, TickKind)
from schemas.codec import EventCodec
from streams.kafka.topics import ensure_topics
from streams.kafka.partitioning import partition_for
from streams.kafka.producer import ENVELOPE_CDRS_MAX, produce_raw
from streams.kafka.reader import read_topic
from tests.integration.helpers import (
    ON_THE_SERVER, live_states, oracle, run_worker_to_end, state_differences, without_positions,
)

T0 = 1_790_812_800_000  # 2026-10-01
CODEC = EventCodec()


# The server: it is the engine that refused a 1969 date.
pytestmark = ON_THE_SERVER


def cdr(acct: str, n: int, call_id: str | None = None) -> CallDetailRecord:
    start = T0 + n * 60_000
    return CallDetailRecord(f"e-{acct}-{n}", "carrier-a", call_id or f"c-{acct}-{n}", acct, "15550001",
                            "12125550100", start, start + 2_000, start + 92_000, Disposition.ANSWERED)


def hostile(acct: str) -> list[tuple[str, bytes | None]]:
    """(the reason code it must get, the message value)."""
    opened = AccountOpened(f"o-{acct}", acct, T0, "USD", "basic", "prepaid", ())
    return [
        ("tombstone", None),
        ("time_out_of_range", CODEC.encode(replace(opened, event_id="o-late", occurred_at_ms=2**62))),
        ("unknown_time_zone", CODEC.encode(replace(opened, event_id="o-dir", time_zone="America"))),
        ("unknown_time_zone", CODEC.encode(replace(opened, event_id="o-long", time_zone="Z" * 300))),
        ("amount_out_of_range", CODEC.encode(PaymentReceived("p-max", acct, T0 + 5, 2**63 - 1, "USD"))),
        ("amount_out_of_range", CODEC.encode(AdjustmentPosted("a-min", acct, T0 + 6, -2**63, "USD", "goodwill"))),
        ("time_out_of_range", CODEC.encode(PaymentReceived("p-1969", acct, -86_400_000, 1_000_000, "USD"))),
        ("time_out_of_range", CODEC.encode(PeriodTicked("tick-far", 2**62, TickKind.HOUR, "2026-10", "UTC"))),
        ("field_too_long", CODEC.encode(cdr(acct, 99, call_id="x" * 5_000))),
        ("envelope_too_large", CODEC.encode_cdr_batch([cdr(acct, 1_000 + n) for n in range(ENVELOPE_CDRS_MAX + 1)])),
    ]


def test_R9_no_hostile_message_stops_a_partition_and_each_is_a_dead_letter(settings, tmp_path):
    settings = replace(settings, seal_personal_data=False, partitions=2)
    acct = "acct-poison"
    p = partition_for(acct, settings.partitions)
    good = [AccountOpened(f"o-{acct}", acct, T0, "USD", "basic", "prepaid", ()),
            PaymentReceived("p-1", acct, T0 + 1, 20_000_000, "USD")] + [cdr(acct, n) for n in range(1, 40)]
    pills = hostile(acct)
    # Good, one pill, good, the next pill, ... then every pill at once, then the last good ones.
    values: list[tuple[str | None, bytes | None]] = [(None, CODEC.encode(e)) for e in good[:2]]
    rest = iter(good[2:])
    for code, value in pills:
        values += [(code, value), (None, CODEC.encode(next(rest)))]
    values += [(code, value) for code, value in pills] + [(None, CODEC.encode(e)) for e in rest]
    asyncio.run(ensure_topics(settings))
    offsets = asyncio.run(produce_raw(settings, settings.events_topic, [(p, acct.encode(), v) for _, v in values]))

    log = tmp_path / "worker.log"
    assert run_worker_to_end(settings, offsets, log, timeout_s=240) == 0
    assert log.read_text().count("exiting without commit") == 0, "a hostile record stopped the worker"

    letters = {}
    for record in asyncio.run(read_topic(settings.broker, settings.dead_letter_topic)):
        letter = CODEC.decode_dead_letter(record.value)
        assert letter["reason"] and letter["source_partition"] == p
        letters[letter["source_offset"]] = letter["reason_code"]
    expected = {offset: code for offset, (code, _) in enumerate(values) if code is not None}
    assert letters == expected

    live = live_states(settings)
    differences = state_differences(without_positions(live), without_positions(oracle(settings, good)))
    assert not differences, differences
    assert live[acct].calls_charged == len(good) - 2

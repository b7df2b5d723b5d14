"""The rebuild's state comparison (``state_hash``) sees every field of ``AccountState`` and
nothing else: a change to any one field changes the hash, and the order in which a state's
maps were written (a live worker's batches against a rebuild's) does not."""

from __future__ import annotations

from dataclasses import fields, replace

from projections.account import AccountState
from projections.invoicing import Billing
from projections.lifecycle import AccountStatus, Lifecycle
from streams.ledger.selfcheck import state_hash

BASE = AccountState(
    account_id="acct-1", opened_event_id="o-1", currency="EUR", plan="basic", billing_mode="prepaid",
    numbers=("3221234567",), time_zone="Europe/Brussels", opened_at_ms=1_000, balance_micros=-5, charged_micros=15,
    paid_micros=10, calls_charged=2, newest_event_ms=9_000, positions={"events/0": (4, 0), "events/1": (7, 2)},
    recent_keys={11: (8_000, 3), -12: (9_000, 4)}, included_used_s={"2026-10": 60, "2026-11": 30},
    lifecycle=Lifecycle(AccountStatus.ACTIVE, "", 1_000, "2026-11"),
    billing=Billing(unbilled={"2026-11|usage": (2, 15)}, billed_through="2026-10", invoice_year=2026, invoice_seq=3,
                    recent_invoices={"VL-1": (5_000, 10, "2026-10", "REGULAR")},
                    open_disputes={"d-1": ("VL-1", "2026-10", 6_000, 4)}, payments_since=10),
    tax_jurisdiction="BE", pending_plan="pro", pending_plan_from="2026-12",
    call_charges={11: (20_000, 0, 0, 7), -12: (0, 0, 1, 8)}, country_code="32",
)

# One other value per field. The set of names is checked against the dataclass, so a new field
# cannot be added without showing here that the comparison sees it.
OTHER = {
    "account_id": "acct-2", "opened_event_id": "o-2", "currency": "USD", "plan": "pro", "billing_mode": "postpaid",
    "numbers": (), "time_zone": "UTC", "opened_at_ms": 1_001, "balance_micros": -6, "charged_micros": 16,
    "paid_micros": 11, "calls_charged": 3, "newest_event_ms": 9_001, "positions": {"events/0": (4, 1)},
    "recent_keys": {11: (8_000, 5)}, "included_used_s": {"2026-11": 30},
    "lifecycle": Lifecycle(AccountStatus.SUSPENDED, "unpaid", 1_000, "2026-11"),
    "billing": replace(BASE.billing, invoice_seq=4), "tax_jurisdiction": "US-NY", "pending_plan": "",
    "pending_plan_from": "", "call_charges": {11: (20_000, 0, 1, 7)}, "country_code": "1",
    "customer_name": "vlseal1:k:AAAA", "billing_address": "vlseal1:k:BBBB", "customer_tax_id": "vlseal1:k:CCCC",
    "card_override": "acme-deal-usd", "card_override_from_ms": 5, "earlier_deals": ((1, "acme-2025"),), "dedup_floor_ms": 7,
    "credit_limit_micros": 500_000_000, "locale": "nl_BE",
}


def test_every_field_is_in_the_hash():
    assert set(OTHER) == {f.name for f in fields(AccountState)}
    base = state_hash({"acct-1": BASE})
    for name, value in OTHER.items():
        assert state_hash({"acct-1": replace(BASE, **{name: value})}) != base, name


def test_the_order_maps_were_written_in_does_not_count():
    reordered = replace(BASE, positions=dict(reversed(BASE.positions.items())),
                        recent_keys=dict(reversed(BASE.recent_keys.items())),
                        call_charges=dict(reversed(BASE.call_charges.items())),
                        included_used_s=dict(reversed(BASE.included_used_s.items())))
    assert list(reordered.positions) != list(BASE.positions)
    assert state_hash({"acct-1": reordered}) == state_hash({"acct-1": BASE})


def test_R10_a_rebuild_answers_no_switch_and_writes_only_outputs_of_its_own():
    from streams.config.settings import Settings
    from streams.ledger.selfcheck import refold_settings

    live = replace(Settings(), authorization_port=8081, metrics_port=9464)
    fresh = refold_settings(live, "voiceledger-rebuild", "clickhouse://127.0.0.1:9000/rebuild")
    assert (fresh.authorization_port, fresh.metrics_port) == (0, 0), "no authorizations from states being rebuilt"
    assert live.publish_feeds and not fresh.publish_feeds, "no feed nothing reads"
    topics = [f.name for f in fields(Settings) if f.name.endswith("_topic") and f.name != "events_topic"]
    shared = [t for t in topics if getattr(fresh, t) == getattr(live, t)]
    assert shared == ["rates_topic", "settings_topic", "erasure_requests_topic"], \
        "every output topic its own; the events, rates, settings versions (and erasure requests, which no fold " \
        "reads or writes) are as live has them"


def test_a_changelogs_newest_values_hash_as_their_decoded_states_do_one_at_a_time():
    """``rebuild`` hashes the states as read (bytes per account), decoding one at a time: the
    same hash as ``state_hash`` of the decoded table, with a state's maps in any order."""
    from schemas.codec import EventCodec
    from streams.ledger.selfcheck import values_state_hash

    codec = EventCodec()
    other = replace(BASE, account_id="acct-10", positions=dict(reversed(BASE.positions.items())))
    states = {"acct-2": replace(BASE, account_id="acct-2"), "acct-10": other, "acct-1": BASE}
    latest = {k.encode(): codec.encode_state(v) for k, v in states.items()}
    assert values_state_hash(latest, codec) == state_hash(states, codec)
    assert values_state_hash({**latest, b"acct-2": codec.encode_state(replace(BASE, account_id="acct-2",
                                                                               calls_charged=9))}, codec) != \
        state_hash(states, codec)


def test_an_invoice_topics_hash_counts_each_distinct_record_once_in_any_order():
    from streams.ledger.selfcheck import _digest, _digests_hash

    records = [b"VL-1 2026-10", b"VL-2 2026-10", b"", b"VL-3"]
    once = _digests_hash({_digest(v) for v in records})
    assert once.startswith("4:") and once == _digests_hash({_digest(v) for v in records[::-1] + records[:2]})
    assert _digests_hash({_digest(v) for v in [b"VL-1 2026-11", *records[1:]]}) != once
    assert _digests_hash({_digest(v) for v in records[:3]}).startswith("3:")

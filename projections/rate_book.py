"""Published rate cards: the model card <-> its ``RateCardPublished`` parts, and the book of cards.

A rate deck travels on the rates topic as ``RateCardPublished`` parts (a 200k-prefix deck is
~8 MB of Avro, over Kafka's default 1 MB message limit). ``RateBook`` assembles the parts, in
log order, into ``RateCard``s the fold can use. Pure: the log time of each part is passed in.

When a published card takes effect (R5, and the determinism of rebuilds): at its
``valid_from``, but **never earlier than ``lead_ms`` after the log time of its last part**.
Why: a worker rates a call with the cards it has read, and it reads the rates topic to its end
before each batch. A call is accepted only if its start is at most ``max_clock_skew`` after its
own log time (``projections/account.py``), so when a lead of at least that skew has passed
since a card was logged, any call that card may price is logged after the card, and every
worker - live, restarted or rebuilding from offset 0 - has the card before it rates the call.
A card whose ``valid_from`` lies in the past (or within the lead) therefore starts at
publication + lead: published prices never apply retroactively; correcting the past is R6
re-rating, posted as an adjustment.

Cards are immutable: a card id, once complete, keeps its content. A part that would change a
complete card, or contradict the other parts of its card, is refused with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from projections.events import BandRate, RateBand, RateCardDestination, RateCardPublished, RateTier
from projections.rating import Band, DestinationRate, InvalidRateCard, RateCard, Tier

# ~50 bytes of Avro per destination: 10k destinations keep a part near 0.5 MB.
PART_DESTINATIONS_MAX = 10_000


def _wire_destination(d: DestinationRate) -> RateCardDestination:
    return RateCardDestination(
        d.prefix, d.name, d.rate_micros_per_minute, d.connect_fee_micros, d.initial_increment_s,
        d.subsequent_increment_s, d.minimum_billable_s,
        tuple(RateTier(t.from_s, t.rate_micros_per_minute, t.increment_s) for t in d.tiers) if d.tiers else (),
        tuple(BandRate(name, rate) for name, rate in d.band_rates) if d.band_rates else (), d.max_cost_micros,
    )


def _model_destination(w: RateCardDestination) -> DestinationRate:
    # Checked here, not only by DestinationRate's asserts: a foreign producer's card must be
    # refused with a reason even when Python runs with -O.
    prefix = w.prefix
    if not (prefix.isdigit() and len(prefix) <= 15) or min(w.rate_micros_per_minute, w.connect_fee_micros,
                                                          w.minimum_billable_s, w.max_cost_micros) < 0 \
            or w.initial_increment_s <= 0 or w.subsequent_increment_s <= 0:
        raise InvalidRateCard(f"destination {prefix!r}: the prefix must be 1-15 digits, rates, fee and minimum "
                              "at least 0, increments positive")
    return DestinationRate(
        prefix, w.name, w.rate_micros_per_minute, w.connect_fee_micros, w.initial_increment_s,
        w.subsequent_increment_s, w.minimum_billable_s,
        tuple(Tier(t.from_s, t.rate_micros_per_minute, t.increment_s) for t in w.tiers) if w.tiers else (),
        tuple((b.band, b.rate_micros_per_minute) for b in w.band_rates) if w.band_rates else (), w.max_cost_micros,
    )


def card_to_parts(card: RateCard, *, event_id: str, published_at_ms: int,
                  part_size: int = PART_DESTINATIONS_MAX) -> list[RateCardPublished]:
    """The ``RateCardPublished`` parts of ``card``, in prefix order (deterministic)."""
    assert part_size > 0
    wire = [_wire_destination(card.destinations[p]) for p in sorted(card.destinations)]
    bands = tuple(RateBand(b.name, tuple(sorted(b.weekdays)), b.start_minute, b.end_minute) for b in card.bands)
    chunks = [wire[i:i + part_size] for i in range(0, len(wire), part_size)] or [[]]
    return [
        RateCardPublished(f"{event_id}/{n}", published_at_ms, card.card_id, card.currency, card.valid_from_ms,
                          card.valid_to_ms, tuple(chunk), bands, n, len(chunks), card.split_at_bands)
        for n, chunk in enumerate(chunks)
    ]


def card_from_parts(parts: list[RateCardPublished]) -> RateCard:
    """Assemble a complete card. Raises ``InvalidRateCard`` if the parts do not make one."""
    first = parts[0]
    if sorted(p.part for p in parts) != list(range(first.parts)):
        raise InvalidRateCard(f"rate card {first.card_id}: parts {sorted(p.part for p in parts)} "
                              f"are not 0..{first.parts - 1}")
    head = (first.card_id, first.currency, first.valid_from_ms, first.valid_to_ms, first.bands, first.parts,
            first.split_at_bands)
    destinations: dict[str, DestinationRate] = {}
    for part in parts:
        if (part.card_id, part.currency, part.valid_from_ms, part.valid_to_ms, part.bands, part.parts,
                part.split_at_bands) != head:
            raise InvalidRateCard(f"rate card {first.card_id}: part {part.part} disagrees with part "
                                  f"{first.part} on currency, validity, bands or part count")
        for w in part.destinations:
            if w.prefix in destinations:
                raise InvalidRateCard(f"rate card {first.card_id}: prefix {w.prefix} appears twice")
            destinations[w.prefix] = _model_destination(w)
    bands = tuple(Band(b.name, frozenset(b.weekdays), b.start_minute, b.end_minute) for b in first.bands)
    return RateCard(card_id=first.card_id, currency=first.currency, valid_from_ms=first.valid_from_ms,
                    destinations=destinations, valid_to_ms=first.valid_to_ms, bands=bands,
                    split_at_bands=first.split_at_bands)


def effective_card(card: RateCard, published_at_ms: int, lead_ms: int) -> RateCard | None:
    """The card as the fold uses it: starting no earlier than publication + lead (see above).

    ``None`` when that start is at or after ``valid_to``: such a card can never price a call.
    """
    start = max(card.valid_from_ms, published_at_ms + lead_ms)
    if card.valid_to_ms is not None and start >= card.valid_to_ms:
        return None
    return card if start == card.valid_from_ms else replace(card, valid_from_ms=start)


def _content_hash(part: RateCardPublished) -> int:
    # In-process only (str hashes are salted per process): never stored.
    return hash((part.currency, part.valid_from_ms, part.valid_to_ms, part.bands, part.parts, part.destinations,
                 part.split_at_bands))


@dataclass
class RateBook:
    """The cards published so far, assembled from parts in log order."""

    lead_ms: int
    cards: dict[str, RateCard] = field(default_factory=dict)  # card id -> card as published
    effective: dict[str, RateCard] = field(default_factory=dict)  # card id -> card as the fold uses it
    version: int = 0  # moves each time ``effective`` changes: readers compare, not poll flags
    _pending: dict[str, list[tuple[RateCardPublished, int]]] = field(default_factory=dict)
    # card id -> {part number: content hash}: enough to tell a re-sent part from a changed one
    # without keeping a second copy of every destination.
    _complete_parts: dict[str, dict[int, int]] = field(default_factory=dict)

    def add(self, part: RateCardPublished, log_time_ms: int) -> tuple[RateCard | None, str | None]:
        """Take one part; returns (the card it completed, or None; a refusal reason, or None)."""
        done = self._complete_parts.get(part.card_id)
        if done is not None:
            same = done.get(part.part) == _content_hash(part)
            return None, None if same else (f"rate card {part.card_id} is already published; cards are "
                                            "immutable, publish a new card id")
        pending = self._pending.setdefault(part.card_id, [])
        if any(p.part == part.part for p, _ in pending):
            return None, None  # a re-sent part (the importer retried): nothing new
        pending.append((part, log_time_ms))
        if len(pending) < part.parts:
            return None, None
        del self._pending[part.card_id]
        parts = [p for p, _ in sorted(pending, key=lambda x: x[0].part)]
        try:
            card = card_from_parts(parts)
        except InvalidRateCard as exc:
            return None, str(exc)
        self._complete_parts[card.card_id] = {p.part: _content_hash(p) for p in parts}
        self.cards[card.card_id] = card
        published_at = max(t for _, t in pending)
        usable = effective_card(card, published_at, self.lead_ms)
        if usable is None:
            return card, (f"rate card {card.card_id} expires before it can take effect "
                          f"(published at {published_at} ms + lead)")
        self.effective[card.card_id] = usable
        self.version += 1
        return card, None

    def effective_cards(self) -> tuple[RateCard, ...]:
        return tuple(self.effective[k] for k in sorted(self.effective))

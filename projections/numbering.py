"""Legal invoice numbers: one gapless sequence per issuer and year across every partition (pure).

Accounts live in partitions and are folded in parallel, so an account can number its own
invoices (its *reference*, ``VL-<account>-<year>-<n>``, in ``projections/invoicing.py``) but not
a sequence shared by every account of an issuer. That needs one stage that sees every partition,
and a rule that gives the same numbers however the partitions' outputs interleave on the way to
it, live or on a rebuild. The rule is an epoch per tick:

- every partition of the events topic receives each hourly ``PeriodTicked``
  (``voiceledger tick``), at one place in its own order;
- an invoice drafted at log position ``(partition, offset)`` belongs to the epoch of the first
  tick of *its partition* at or after that offset (a month's close happens at the tick itself,
  so it belongs to that tick). That is a fact of the partition's log, the same on every replay;
- an epoch ``T`` is complete once every partition has passed a tick at or after ``T``: no draft
  of ``T`` can still come, because a partition's drafts reach the stage in its own log order
  (the worker sends a batch's outputs in offset order and waits for their acks before the next
  batch; ``streams/worker/app.py``);
- a complete epoch is numbered in a canonical order, by (issuer, year, issue time, account,
  reference), continuing each (issuer, year) sequence. Epochs are numbered in time order.

Replays are harmless by construction: a draft at or before its partition's last tick is a
repeat (its first copy came before that tick's marker) and is ignored, and so is a repeat of a
pending draft or of a tick. A partition that missed a tick (its ``tick`` call failed) holds
every epoch back until its next tick; its drafts then belong to that later epoch, which is
still a fact of its own log. Tick times must rise per partition; a tick no later than the
partition's last is a repeat and seals nothing.

Numbers are ``<issuer>-<year>-<nnnnnn>``; the invoice keeps its reference too (journal entry
ids, disputes and statements use the reference, which the account knows when it issues).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from projections.events import InvoiceIssued, InvoiceNumbered


@dataclass(frozen=True, slots=True)
class Draft:
    """An issued invoice or credit note waiting for its legal number."""

    reference: str  # the account's own invoice number (projections/invoicing.py)
    account_id: str
    issuer: str
    year: int  # the year of issue in the account's zone
    issued_at_ms: int
    source_partition: int
    source_offset: int  # of the event that issued it, in the events topic


def draft_of(invoice: InvoiceIssued, source_partition: int, source_offset: int) -> Draft:
    """The draft of an issued invoice. Issuer and year come from its reference
    (``<issuer>-<account>-<year>-<n>``; the issuer has no dash), so they are what it was issued with."""
    issuer = invoice.invoice_number.split("-", 1)[0]
    year = int(invoice.invoice_number.rsplit("-", 2)[1])
    return Draft(invoice.invoice_number, invoice.account_id, issuer, year, invoice.occurred_at_ms, source_partition,
                 source_offset)


@dataclass(frozen=True, slots=True)
class TickPassed:
    """A partition has folded the tick at ``source_offset``; every draft before it was sent."""

    source_partition: int
    source_offset: int
    tick_ms: int


@dataclass
class NumberingState:
    """What the stage keeps between batches (one record; ``streams/worker/numbering.py``)."""

    partitions: int
    next_offset: int = 0  # of the numbering topic: the first message not yet applied
    # per events partition: the offset and time of the last tick that sealed an epoch
    sealed_offset: dict[int, int] = field(default_factory=dict)
    sealed_tick_ms: dict[int, int] = field(default_factory=dict)
    pending: dict[int, dict[str, Draft]] = field(default_factory=dict)  # partition -> reference -> draft
    sealed: dict[int, list[Draft]] = field(default_factory=dict)  # epoch tick ms -> its drafts
    last_sequence: dict[str, int] = field(default_factory=dict)  # "issuer|year" -> last number given


PENDING = -1  # the epoch of a draft whose partition has passed no tick since it


def drafts_of(state: NumberingState) -> list[tuple[int, Draft]]:
    """Every draft the state holds, with its epoch (``PENDING`` while pending), for storing."""
    held = [(PENDING, d) for pending in state.pending.values() for d in pending.values()]
    return held + [(epoch, d) for epoch, drafts in state.sealed.items() for d in drafts]


def hold(state: NumberingState, epoch: int, draft: Draft) -> None:
    """Put back a draft ``drafts_of`` gave (loading a stored state)."""
    if epoch == PENDING:
        state.pending.setdefault(draft.source_partition, {})[draft.reference] = draft
    else:
        state.sealed.setdefault(epoch, []).append(draft)


def format_number(issuer: str, year: int, sequence: int) -> str:
    return f"{issuer}-{year}-{sequence:06d}"


def watermark(state: NumberingState) -> int | None:
    """The newest epoch every partition has passed, or None while some partition has none."""
    if len(state.sealed_tick_ms) < state.partitions:
        return None
    return min(state.sealed_tick_ms[p] for p in range(state.partitions))


def apply(state: NumberingState, item: Draft | TickPassed) -> list[InvoiceNumbered]:
    """Fold one item in (changing ``state``); returns the invoices numbered by it, in order."""
    p = item.source_partition
    if not 0 <= p < state.partitions:
        raise ValueError(f"partition {p} outside 0..{state.partitions - 1}")
    if item.source_offset <= state.sealed_offset.get(p, -1):
        return []  # a repeat: sealed already
    if isinstance(item, Draft):
        state.pending.setdefault(p, {}).setdefault(item.reference, item)
        return []
    if item.tick_ms <= state.sealed_tick_ms.get(p, -1):
        return []  # a tick repeated (tick called twice): drafts stay for the next one
    drafts = state.pending.pop(p, {})
    state.sealed.setdefault(item.tick_ms, []).extend(d for d in drafts.values() if d.source_offset <= item.source_offset)
    later = {r: d for r, d in drafts.items() if d.source_offset > item.source_offset}
    if later:  # cannot happen when the partition's items arrive in order; kept, not lost
        state.pending[p] = later
    state.sealed_offset[p] = item.source_offset
    state.sealed_tick_ms[p] = item.tick_ms
    return _number_complete_epochs(state)


def _number_complete_epochs(state: NumberingState) -> list[InvoiceNumbered]:
    mark = watermark(state)
    if mark is None:
        return []
    out = []
    for epoch in sorted(e for e in state.sealed if e <= mark):
        for d in sorted(state.sealed.pop(epoch), key=lambda d: (d.issuer, d.year, d.issued_at_ms, d.account_id,
                                                                  d.reference)):
            key = f"{d.issuer}|{d.year}"
            seq = state.last_sequence.get(key, 0) + 1
            state.last_sequence[key] = seq
            out.append(InvoiceNumbered(f"numbered:{d.reference}", d.reference, d.account_id, d.issuer, d.year, seq,
                                       format_number(d.issuer, d.year, seq), epoch, d.issued_at_ms))
    return out


def number_all(partitions: int, items: list[Draft | TickPassed]) -> tuple[NumberingState, list[InvoiceNumbered]]:
    """Fold a whole sequence from empty state (tests, rebuild checks)."""
    state = NumberingState(partitions)
    out: list[InvoiceNumbered] = []
    for item in items:
        out.extend(apply(state, item))
    return state, out

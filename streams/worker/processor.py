"""One batch of Kafka messages in, everything the worker must write out.

This is the stream layer's logic without Faust: decode, route-check, group by account, call
the pure fold, and collect what to write (account states, call-log rows, dead letters). The
fold stage (``streams/worker/fold_stage.py``) feeds it messages and writes what it returns through
``BatchCommit``, in the order that keeps the exactly-once effect.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable, Iterator

from streams.kafka.partitioning import partition_for
from streams.kafka.producer import ENVELOPE_CDRS_MAX
from streams.kafka.topics import RECORD_BYTES_MAX

from projections.account import (
    AccountState,
    Applied,
    Decided,
    Duplicate,
    FoldSettings,
    Outcome,
    Positioned,
    Redelivered,
    Rejected,
    fold_batch,
)
from projections.events import (AccountEvent, AccountOpened, AccountStatusChanged, CallDetailRecord, CallRated,
                                DisputeOpened, DisputeResolved, InterimInvoiceDue, InvoiceIssued, PeriodTicked,
                                SEALED_PREFIX, SubscriberErasureRequested, is_sealed)
from projections.journal import JournalEntry
from projections.numbering import Draft, TickPassed, draft_of
from projections.rating import call_rated
from projections.validation import InvalidEvent, check_bounds
from schemas.codec import DecodeError, EventCodec
from streams.clickhouse.invoices import invoice_rows
from streams.clickhouse.call_log import call_log_row
from streams.clickhouse.disputes import opened_row, resolved_row
from streams.clickhouse.journal import journal_rows
from streams.edge.sealing import Opener, SealError, anonymised_callee, sealed_length
from streams.observe import metrics
from streams.worker.opening import OpeningProcess


PARTITION_CACHE_MAX = 1_000_000  # accounts whose partition is remembered (~100 MB at most)
ENTRY_ENVELOPE_MAX = 5_000  # journal entries per ledger.entries message (~0.5 MB)
# What one events-topic message may hold: bigger ones are dead letters, so that one message can
# neither block the event loop past the session timeout nor make a batch part unbounded.
MESSAGE_BYTES_MAX = RECORD_BYTES_MAX  # the producers' max_request_size, what the topics take
ENVELOPE_RECORDS_MAX = ENVELOPE_CDRS_MAX
DEAD_LETTER_ORIGINAL_MAX = 512 * 1024  # a dead letter keeps at most this much of the original


@dataclass(frozen=True, slots=True)
class InMessage:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes | None  # None: a tombstone
    # The index of the message's first event in its envelope: one event of an envelope, taken
    # out of it to be folded alone (streams/worker/containment.py), keeps its log position.
    first_index: int = 0


@dataclass
class BatchResult:
    states: dict[str, AccountState] = field(default_factory=dict)
    call_rows: list[tuple] = field(default_factory=list)
    journal_rows: list[tuple] = field(default_factory=list)
    # ledger.entries: one envelope per partition per batch, as (partition, key, value)
    entries: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    # calls.rated: one CallRatedBatch envelope per partition per batch, as (partition, key, value)
    rated_calls: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    # account.status: every lifecycle transition, as (partition, key, value), keyed by account
    status_changes: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    # invoices: every InvoiceIssued, as (partition, key, value), keyed by account
    invoices: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    invoice_rows: list[tuple] = field(default_factory=list)  # ClickHouse invoices
    invoice_line_rows: list[tuple] = field(default_factory=list)  # ClickHouse invoice_lines
    # invoice-numbering: per events partition, its drafts and passed ticks in log order, as one
    # (key, value) envelope each (projections/numbering.py)
    numbering: list[tuple[bytes, bytes]] = field(default_factory=list)
    dead_letters: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value)
    dead_letter_rows: list[tuple] = field(default_factory=list)  # ClickHouse dead_letters (the console)
    dispute_rows: list[tuple] = field(default_factory=list)  # ClickHouse disputes (R19: the operators' queue)
    # (account, call key) of every CDR folded: its call is over, its authorization hold can go
    calls_ended: list[tuple[str, str]] = field(default_factory=list)
    # R32: accounts whose erasure was applied in this batch; their call-log rows are anonymised
    # again after this batch's inserts (a row opened just before the key went is caught too)
    erased: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


    # (account, (encoded state, state)) of every state to write, once encode_states has run
    encoded_states: dict[str, tuple[bytes, AccountState]] = field(default_factory=dict)

    def encode_states(self, codec: EventCodec) -> None:
        self.encoded_states = {a: (codec.encode_state(s), s) for a, s in self.states.items()}

    @staticmethod
    def merged(results: list[BatchResult]) -> BatchResult:
        """Consecutive parts' results as one, in log order: lists joined, later states win."""
        if len(results) == 1:
            return results[0]
        out = BatchResult()
        for r in results:
            for f in fields(BatchResult):
                mine, theirs = getattr(out, f.name), getattr(r, f.name)
                if isinstance(mine, list):
                    mine.extend(theirs)
                else:  # the dicts of states and the counts
                    mine.update(theirs)
        return out


@dataclass
class _BatchWork:
    """One batch while it is processed: its events by account, where each came from, and what
    it collects for envelopes and metrics (counted per batch, published once: labels() per
    event costs ~5 us)."""

    result: BatchResult = field(default_factory=lambda: BatchResult())
    by_account: dict[str, list[Positioned]] = field(default_factory=dict)
    origin: dict[int, tuple[InMessage, bool]] = field(default_factory=dict)  # id(Positioned) -> (message, enveloped)
    batch_accounts: dict[int, set[str]] = field(default_factory=dict)  # partition -> accounts seen so far
    numbering: dict[int, list[Draft | TickPassed]] = field(default_factory=dict)  # partition -> drafts and ticks
    parties: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # id(Positioned) -> opened numbers
    entries_by_partition: dict[int, list[JournalEntry]] = field(default_factory=dict)
    rated_by_partition: dict[int, list[CallRated]] = field(default_factory=dict)
    met: dict[str, None] = field(default_factory=dict)  # accounts in the order their first event came (ticks aside)
    ticked: dict[int, list[str]] = field(default_factory=dict)  # tick time -> the accounts it may change
    consumed: Counter = field(default_factory=Counter)
    applied: Counter = field(default_factory=Counter)
    duplicates: Counter = field(default_factory=Counter)
    redelivered: Counter = field(default_factory=Counter)

    def fold_order(self) -> list[str]:
        """The accounts in the order their first event came, then those only a tick reached, by
        id. What a batch writes comes in this order, so it must not depend on which accounts a
        tick reached: ``ticked_accounts`` leaves quiet ones out, and which those are depends on
        what this process has read."""
        met = self.met
        return [*met, *sorted(a for a in self.by_account if a not in met)]


class BatchProcessor:
    def __init__(self, codec: EventCodec, settings: FoldSettings, partitions: int,
                 opener: Opener | None = None, feeds: bool = True, opening: OpeningProcess | None = None) -> None:
        assert partitions > 0
        self.codec = codec
        # The ledger.entries and calls.rated feeds (setting publish_feeds): off in a rebuild,
        # whose feeds nothing reads; a CallRated record and two envelopes a call saved.
        self.feeds = feeds
        # Opens sealed caller and callee for the call log (R32 crypto-shredding); without one a
        # sealed CDR is dead-lettered, never written to ClickHouse as a token.
        self.opener = opener
        # Opens sealed CDRs in a process beside this one, while the batch decodes and is routed
        # (setting open_sealed_beside_fold); the opener above still opens the rare others.
        self.opening = opening
        assert opening is None or opener is not None, "it opens what the opening process has not yet"
        self.settings = settings
        self.partitions = partitions
        # murmur2 in pure Python costs ~3 us; accounts repeat, so remember each one's partition.
        self._partition_of: dict[str, int] = {}

    def rejected(self, msg: InMessage, index: int, code: str, reason: str, original: bytes) -> BatchResult:
        """A batch result that only dead-letters one message (or one event of an envelope)."""
        result = BatchResult()
        self._dead_letter(result, msg, index, code, reason, original)
        return result

    def partition_of(self, account_id: str) -> int:
        p = self._partition_of.get(account_id)
        if p is None:
            if len(self._partition_of) >= PARTITION_CACHE_MAX:
                self._partition_of.clear()
            p = self._partition_of[account_id] = partition_for(account_id, self.partitions)
        return p

    def _dead_letter(self, result: BatchResult, msg: InMessage, index: int, code: str,
                     reason: str, original: bytes, account_id: str = "") -> None:
        key = f"{msg.topic}/{msg.partition}/{msg.offset}/{index}".encode()
        if len(original) > DEAD_LETTER_ORIGINAL_MAX:  # a dead letter must itself fit a Kafka message
            reason = f"{reason} (original truncated from {len(original)} bytes)"
            original = original[:DEAD_LETTER_ORIGINAL_MAX]
        value = self.codec.encode_dead_letter(
            reason_code=code, reason=reason, source_topic=msg.topic, source_partition=msg.partition,
            source_offset=msg.offset, source_index=index, original=original,
        )
        result.dead_letters.append((key, value))
        result.dead_letter_rows.append((msg.topic, msg.partition, msg.offset, index, account_id, code, reason[:1000],
                                        msg.timestamp_ms // 1000))
        result.counts[f"rejected:{code}"] += 1
        metrics.EVENTS_REJECTED.labels(topic=msg.topic, reason=code).inc()

    def _open(self, event: AccountEvent) -> tuple[str, str | None] | None:
        """A sealed CDR's (caller, callee), callee None if the subscriber was erased; a dispute's
        (reason, None), the reason empty if they were; None for anything not sealed. Raises
        ``SealError`` for a sealed value this worker cannot open, which would otherwise reach
        ClickHouse as a token (a key store not shared with the edge)."""
        if isinstance(event, CallDetailRecord):
            if not event.callee.startswith(SEALED_PREFIX):  # is_sealed, inline: once per CDR
                return None
            if self.opener is None:
                raise SealError("sealed CDR, and this processor has no key store")
            caller = self.opener.open(event.account_id, event.caller)
            return caller or "", self.opener.open(event.account_id, event.callee)
        if isinstance(event, AccountOpened) and event.numbers and is_sealed(event.numbers[0]):
            if self.opener is None:
                raise SealError("sealed numbers, and this processor has no key store")
            for number in event.numbers:  # the status topic hands these to switches: they must open
                self.opener.open(event.account_id, number)
        if isinstance(event, DisputeOpened) and event.reason.startswith(SEALED_PREFIX):
            if self.opener is None:
                raise SealError("a sealed dispute reason, and this processor has no key store")
            # R32: the disputes table shows the customer's words; none once they were erased.
            return self.opener.open(event.account_id, event.reason) or "", None
        return None

    @staticmethod
    def _opened(opening: tuple[str, str | None] | str) -> tuple[str, str | None]:
        """What the opening process gave for a sealed CDR, as ``_open`` gives it."""
        if type(opening) is str:
            raise SealError(opening)
        return opening  # type: ignore[return-value]

    @staticmethod
    def _publish_metrics(result: BatchResult, consumed: Counter, applied: Counter,
                         duplicates: Counter, redelivered: Counter) -> None:
        for (topic, kind), n in consumed.items():
            metrics.EVENTS_CONSUMED.labels(topic=topic, type=kind).inc(n)
            result.counts["consumed"] += n
        for (topic, kind), n in applied.items():  # kind: the event's class
            metrics.EVENTS_APPLIED.labels(topic=topic, type=kind.__name__).inc(n)
            result.counts["applied"] += n
            if kind is CallDetailRecord:
                metrics.CALLS_RATED.labels(topic=topic).inc(n)
        for topic, n in duplicates.items():
            metrics.EVENTS_DEDUPLICATED.labels(topic=topic).inc(n)
        for topic, n in redelivered.items():
            metrics.EVENTS_REDELIVERED.labels(topic=topic).inc(n)

    def _notice(self, result: BatchResult, partition: int, offset: int,
                change: AccountStatusChanged | InterimInvoiceDue | InvoiceIssued,
                numbering: dict[int, list[Draft | TickPassed]]) -> None:
        """Route a notice of the fold: an invoice to the invoices topic, ClickHouse and the
        numbering stage; a status change or interim notice to the status topic."""
        if isinstance(change, InvoiceIssued):
            result.invoices.append((partition, change.account_id.encode(), self.codec.encode(change)))
            numbering.setdefault(partition, []).append(draft_of(change, partition, offset))
            head, lines = invoice_rows(change)
            result.invoice_rows.append(head)
            result.invoice_line_rows.extend(lines)
            metrics.INVOICES_ISSUED.labels(currency=change.currency).inc()
            return
        result.status_changes.append((partition, change.account_id.encode(), self.codec.encode(change)))
        if isinstance(change, AccountStatusChanged):
            metrics.STATUS_CHANGES.labels(status=change.new_status.value, reason=change.reason).inc()
        else:
            metrics.INTERIM_INVOICES_DUE.inc()

    def _fan_out(self, result: BatchResult, msg: InMessage, index: int, tick: PeriodTicked, source: str,
                 by_account: dict[str, list[Positioned]], origin: dict, enveloped: bool,
                 seen_in_batch: set[str], ticked: dict[int, list[str]],
                 ticked_accounts: Callable[[int], Iterable[str]], numbering: dict[int, list[Draft | TickPassed]],
                 ) -> None:
        """A tick goes to every account of its partition it may change (``ticked_accounts``:
        those in state, but those whose state is quiet until after it) and to those seen in this
        batch before it, at its place in each one's order. ``ticked``: what ``ticked_accounts``
        said in this batch, by tick time: every partition's tick of an hour asks it once."""
        skew_ms = self.settings.max_clock_skew_ms
        if tick.occurred_at_ms > msg.timestamp_ms + skew_ms:  # once here, not once per account
            self._dead_letter(result, msg, index, "event_time_in_future", f"tick {tick.event_id} is dated after "
                              "it was logged", self.codec.encode(tick) if enveloped else msg.value)
            return
        item = Positioned(source, msg.offset, index, msg.timestamp_ms, tick)
        origin[id(item)] = (msg, enveloped)
        at_ms = tick.occurred_at_ms
        candidates = ticked.get(at_ms)
        if candidates is None:  # nothing changes the states while a batch is processed: asked once
            candidates = ticked[at_ms] = list(ticked_accounts(at_ms))
        accounts = {a for a in candidates if self.partition_of(a) == msg.partition}
        # Sorted: a set's order follows the process's string hash seed, and the accounts' order
        # here is the order of the batch's outputs (call-log rows, envelopes, invoices).
        for account_id in sorted(accounts | seen_in_batch):
            by_account.setdefault(account_id, []).append(item)
        # Sent on a replay too: the numbering stage ignores a tick it has seen (by offset).
        numbering.setdefault(msg.partition, []).append(TickPassed(msg.partition, msg.offset, tick.occurred_at_ms))
        result.counts["ticks"] += 1

    def process(self, messages: list[InMessage],
                load_state: Callable[[str], AccountState | None],
                ticked_accounts: Callable[[int], Iterable[str]] = lambda at_ms: ()) -> BatchResult:
        """``ticked_accounts(at_ms)``: the accounts in state that a tick dated ``at_ms`` may
        change, of any partition (a tick reaches those of its own, and each account first seen
        earlier in this batch). Leaving out one whose ``tick_quiet_until`` is later changes no
        output: the tick would have changed nothing for it."""
        work = _BatchWork()
        if self.opener is not None:
            self.opener.refresh()  # cached keys expire (an erasure folded below drops its key at once)
        unpacked, openings = self._unpacked(messages)
        for msg, got in zip(messages, unpacked):
            self._route(work, msg, got, ticked_accounts, openings)
        for account_id in work.fold_order():
            items = work.by_account[account_id]
            state = load_state(account_id)
            new_state, outcomes = fold_batch(state, items, self.settings)
            for outcome in outcomes:
                self._collect(work, account_id, outcome)
            if new_state is not None and new_state is not state:
                work.result.states[account_id] = new_state
                if new_state.dedup_floor_ms > (state.dedup_floor_ms if state is not None else 0):
                    work.result.counts["dedup_floor_raised"] += 1
                    metrics.DEDUP_FLOOR_RAISED.inc()
        self._publish_metrics(work.result, work.consumed, work.applied, work.duplicates, work.redelivered)
        self._envelopes(work)
        return work.result

    def _unpack(self, msg: InMessage) -> tuple[list[AccountEvent], bool] | tuple[str, str]:
        """A message's (events, whether it is an envelope); (code, reason) for one that is not a
        bounded voiceledger event, which ``_route`` dead-letters in its place among the others."""
        if msg.value is None:
            return "tombstone", "a message with no value (a tombstone)"
        if len(msg.value) > MESSAGE_BYTES_MAX:  # refused before it is decoded: decoding blocks the loop
            return "message_too_large", f"{len(msg.value)} bytes, at most {MESSAGE_BYTES_MAX}"
        try:
            events, enveloped = self.codec.decode_message(msg.value)
        except DecodeError as exc:
            return exc.code, str(exc)
        if len(events) > ENVELOPE_RECORDS_MAX:
            return "envelope_too_large", f"{len(events)} records, at most {ENVELOPE_RECORDS_MAX}"
        return events, enveloped

    def _unpacked(self, messages: list[InMessage]) -> tuple[list, Iterator | None]:
        """Each message unpacked, and the openings of their sealed CDRs in order: from the
        opening process, which opens each chunk while the next messages decode and the batch is
        routed (``streams/worker/opening.py``); None when this processor opens them all itself."""
        if self.opening is None:
            return [self._unpack(msg) for msg in messages], None
        unpacked: list = []

        def events() -> Iterator[list[AccountEvent]]:
            for msg in messages:
                unpacked.append(got := self._unpack(msg))
                if type(got[0]) is list:
                    yield got[0]
        openings = self.opening.open_calls(events())
        return unpacked, openings

    def _route(self, work: _BatchWork, msg: InMessage, unpacked: tuple, ticked_accounts: Callable[[int], Iterable[str]],
               openings: Iterator | None) -> None:
        """Put each event of one unpacked message in its account's list (a tick in every
        account's of its partition); what cannot be routed is dead-lettered. ``openings``: the
        sealed CDRs' openings in order, each taken whether or not its CDR is routed."""
        result = work.result
        events, enveloped = unpacked
        if type(events) is not list:  # (code, reason): not a bounded voiceledger event
            self._dead_letter(result, msg, 0, events, enveloped, msg.value or b"")
            return
        source = f"{msg.topic}/{msg.partition}"
        for kind, n in Counter(map(type, events)).items():  # counted per message: an envelope is one kind
            work.consumed[(msg.topic, kind.__name__)] += n
        origin = (msg, enveloped)  # the same for each of its events
        seen = work.batch_accounts.setdefault(msg.partition, set())
        # Bound once per message, not per event: each costs a look-up in compiled code too.
        by_account, origins, parties, met = work.by_account, work.origin, work.parties, work.met
        offset, log_time_ms = msg.offset, msg.timestamp_ms
        for index, event in enumerate(events, start=msg.first_index):
            # None: not a sealed CDR (the test of _open and of the opening process), or its chunk
            # is not back from the opening process yet, or the process could not open it
            opening = (next(openings) if openings is not None and isinstance(event, CallDetailRecord)
                       and event.callee.startswith(SEALED_PREFIX) else None)
            try:
                check_bounds(event)
            except InvalidEvent as exc:
                self._dead_letter(result, msg, index, exc.code, str(exc),
                                  self.codec.encode(event) if enveloped else msg.value,
                                  getattr(event, "account_id", ""))
                continue
            if isinstance(event, PeriodTicked):
                self._fan_out(result, msg, index, event, source, by_account, origins, enveloped,
                              seen, work.ticked, ticked_accounts, work.numbering)
                continue
            account_id = event.account_id
            if self.partition_of(account_id) != msg.partition:
                self._dead_letter(result, msg, index, "misrouted", f"account {account_id} belongs to partition "
                                  f"{self.partition_of(account_id)}, not {msg.partition}",
                                  self.codec.encode(event) if enveloped else msg.value, account_id)
                continue
            try:
                opened = self._open(event) if opening is None else self._opened(opening)
            except SealError as exc:
                self._dead_letter(result, msg, index, "sealed_unreadable", str(exc),
                                  self.codec.encode(event) if enveloped else msg.value, account_id)
                continue
            item = Positioned(source, offset, index, log_time_ms, event)
            origins[id(item)] = origin
            if opened is not None:
                parties[id(item)] = opened
            items = by_account.get(account_id)
            if items is None:  # not setdefault: it would make a list per event
                items = by_account[account_id] = []
            items.append(item)
            met[account_id] = None
            seen.add(account_id)

    def _collect(self, work: _BatchWork, account_id: str, outcome: Outcome) -> None:
        """What one outcome of the fold writes: rows, outputs, dead letters, counts."""
        item = outcome.item
        event = item.event
        msg, enveloped = work.origin[id(item)]
        if isinstance(event, CallDetailRecord):
            work.result.calls_ended.append((account_id, event.call_key))
        if isinstance(outcome, Applied):
            work.applied[(msg.topic, type(event))] += 1  # named once per batch (_publish_metrics)
            self._applied(work, account_id, outcome, msg)
        elif isinstance(outcome, Decided):
            work.result.counts["lifecycle"] += 1
            self._lifecycle_effects(work, outcome, msg.partition, msg.offset)
        elif isinstance(outcome, Duplicate):
            work.result.counts["duplicate"] += 1
            work.duplicates[msg.topic] += 1
        elif isinstance(outcome, Redelivered):
            work.result.counts["redelivered"] += 1
            work.redelivered[msg.topic] += 1
        elif isinstance(outcome, Rejected):
            original = self.codec.encode(event) if enveloped else msg.value
            self._dead_letter(work.result, msg, item.index, outcome.code, outcome.reason, original, account_id)

    def _applied(self, work: _BatchWork, account_id: str, outcome: Applied, msg: InMessage) -> None:
        item, result = outcome.item, work.result
        event, rated = item.event, outcome.rated
        if rated is not None:  # a call (most outcomes)
            assert isinstance(event, CallDetailRecord)
            opened = work.parties.get(id(item))
            if opened is not None and opened[1] is None:  # erased: as subscriber erase leaves it
                opened = (opened[0], anonymised_callee(rated.destination_prefix, sealed_length(event.callee)))
            result.call_rows.append(call_log_row(event, rated, msg.partition, msg.offset, item.index, opened))
            if self.feeds:
                work.rated_by_partition.setdefault(msg.partition, []).append(call_rated(event, rated))
        elif isinstance(event, SubscriberErasureRequested):
            result.erased.append(account_id)
            if self.opener is not None:
                self.opener.forget(account_id)
            if self.opening is not None:
                self.opening.forget(account_id)
        elif isinstance(event, DisputeOpened):
            opened = work.parties.get(id(item))
            result.dispute_rows.append(opened_row(event, event.reason if opened is None else opened[0]))
        elif isinstance(event, DisputeResolved):
            result.dispute_rows.append(resolved_row(event))
        if outcome.entry is not None:
            result.journal_rows.extend(journal_rows(outcome.entry))
            if self.feeds:
                work.entries_by_partition.setdefault(msg.partition, []).append(outcome.entry)
        if outcome.derived or outcome.notices:  # rare for a call or a payment: no call for nothing
            self._lifecycle_effects(work, outcome, msg.partition, msg.offset)

    def _lifecycle_effects(self, work: _BatchWork, outcome: Applied | Decided, partition: int, offset: int) -> None:
        for entry in outcome.derived:
            work.result.journal_rows.extend(journal_rows(entry))
            if self.feeds:
                work.entries_by_partition.setdefault(partition, []).append(entry)
        for change in outcome.notices:
            self._notice(work.result, partition, offset, change, work.numbering)

    def _envelopes(self, work: _BatchWork) -> None:
        """Envelopes cut Kafka's per-message cost; each stays in its accounts' partition number."""
        result = work.result
        for partition, entries in sorted(work.entries_by_partition.items()):
            for i in range(0, len(entries), ENTRY_ENVELOPE_MAX):
                result.entries.append((partition, f"entries/{partition}".encode(),
                                       self.codec.encode_journal_batch(entries[i:i + ENTRY_ENVELOPE_MAX])))
        for partition, rated in sorted(work.rated_by_partition.items()):
            for i in range(0, len(rated), ENTRY_ENVELOPE_MAX):
                result.rated_calls.append((partition, f"rated/{partition}".encode(),
                                           self.codec.encode_call_rated_batch(rated[i:i + ENTRY_ENVELOPE_MAX])))
        # One envelope per partition, in log order: drafts of an offset before a tick at it (a
        # month's close is drafted by its tick and belongs to that tick's epoch).
        for partition, items in sorted(work.numbering.items()):
            items.sort(key=lambda it: (it.source_offset, isinstance(it, TickPassed)))
            result.numbering.append((f"numbering/{partition}".encode(),
                                     self.codec.encode_numbering_batch(partition, items)))

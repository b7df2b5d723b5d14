"""The events agent's work per batch: check the order, fold, commit, then settle and advance.

Per batch part, in this order:

0. check that no record of a partition was skipped before it, and fold any that were first,
   read from the broker (``streams/worker/in_order.py``);
1. make sure cards logged before these calls are known (``streams/worker/rate_feed.py``);
2. decode and fold it in memory (``BatchProcessor``, the pure core underneath), from the states
   the batch's earlier parts left; a record whose fold fails is isolated and dead-lettered
   (``streams/worker/containment.py``);
3. write its outputs and rows through ``BatchCommit`` (``streams/worker/commit.py``: outputs,
   ClickHouse, each step acknowledged before the next), and advance the in-order guard.

Then, once per batch, after every part's outputs are acknowledged:

4. write each account's state once, the last one the batch left (``BatchCommit``'s steps 4 and
   5), as Kafka Streams' record cache writes a key once per commit. An account is touched by
   most parts of a batch; its whole state (dedup keys included) was written once per part;
5. hand the new states, and the calls whose holds they settle, to the authorization process
   (``streams/authorization/process.py``), and let Faust commit over the offsets the guard
   filled. Faust acks the batch's records only when this returns: a worker killed before
   step 4 ends replays the whole batch, from the states of the batch before.

A batch is folded and written in parts of at most ``batch_bytes_max`` message bytes: the fold
runs on the event loop, and while it runs no heartbeat reaches the broker. Envelopes of 200
CDRs make 2,000 messages up to 400k CDRs (~40 s here), far past the session timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Callable

from projections.account import AccountState, FoldSettings
from streams.config.settings_epochs import Epochs
from schemas.codec import EventCodec
from streams.clickhouse.accounts import ACCOUNT_COLUMNS, DEAD_LETTER_COLUMNS, account_row
from streams.clickhouse.disputes import DISPUTE_COLUMNS
from streams.clickhouse.call_log import CALL_LOG_COLUMNS, latest_rows
from streams.clickhouse.invoices import INVOICE_COLUMNS, INVOICE_LINE_COLUMNS
from streams.clickhouse.journal import JOURNAL_COLUMNS
from streams.clickhouse.privacy import anonymise_mutations
from streams.config.settings import Settings
from streams.authorization.process import AuthorizationProcess
from streams.observe import metrics
from streams.worker.commit import BatchCommit, CommitPlan, OutMessage
from streams.worker.containment import fold_contained
from streams.worker.in_order import InOrderGuard
from streams.worker.processor import BatchProcessor, BatchResult, InMessage
from streams.worker.rate_feed import RateFeed, Refusal
from streams.worker import settings_log
from streams.worker.state_cache import AccountStates

log = logging.getLogger("voiceledger.worker")


def chunks_by_bytes(events: list, limit: int) -> list[list]:
    """Consecutive runs of ``events`` whose message values hold at most ``limit`` bytes (a
    larger message alone in its run), in order."""
    parts: list[list] = []
    size = 0
    for event in events:
        n = len(event.message.value or b"")
        if not parts or size + n > limit:
            parts.append([])
            size = 0
        parts[-1].append(event)
        size += n
    return parts


def plan_for(result: BatchResult, settings: Settings) -> CommitPlan:
    """What ``BatchCommit`` writes for one folded part: every output message, every row."""
    s = settings
    messages = [OutMessage(s.ledger_entries_topic, k, v, p) for p, k, v in result.entries]
    messages += [OutMessage(s.calls_rated_topic, k, v, p) for p, k, v in result.rated_calls]
    messages += [OutMessage(s.account_status_topic, k, v, p) for p, k, v in result.status_changes]
    messages += [OutMessage(s.invoices_topic, k, v, p) for p, k, v in result.invoices]
    messages += [OutMessage(s.dead_letter_topic, k, v) for k, v in result.dead_letters]
    # Drafts and ticks, one envelope per events partition, in log order, to the one partition.
    messages += [OutMessage(s.invoice_numbering_topic, k, v, 0) for k, v in result.numbering]
    return CommitPlan(
        messages=messages,
        inserts=[("call_log", CALL_LOG_COLUMNS, latest_rows(result.call_rows)), ("journal", JOURNAL_COLUMNS, result.journal_rows),
                 ("invoices", INVOICE_COLUMNS, result.invoice_rows),
                 ("invoice_lines", INVOICE_LINE_COLUMNS, result.invoice_line_rows),
                 ("dead_letters", DEAD_LETTER_COLUMNS, result.dead_letter_rows),
                 ("disputes", DISPUTE_COLUMNS, result.dispute_rows),
                 # the operators' read model: each touched account's state as written below
                 ("accounts", ACCOUNT_COLUMNS, [account_row(s) for _, s in result.encoded_states.values()])],
        # R32: an erasure folded here anonymises the subscriber's rows once more, after every
        # row of theirs this part inserted (one opened in the moment the key went).
        mutations=tuple(m for a in result.erased for m in anonymise_mutations(a, disputes=_may_hold_words(result, a))),
        states=[(account_id.encode(), raw) for account_id, (raw, _) in result.encoded_states.items()],
    )


def _may_hold_words(result: BatchResult, account_id: str) -> bool:
    """Whether the disputes table may hold an erased account's words that the erasure command's
    own mutation missed: a dispute of theirs this part wrote, or one still open, opened with a
    key cached in the moments before it went. Else no mutation is sent (anonymise_mutations)."""
    if any(row[0] == account_id for row in result.dispute_rows):
        return True
    encoded = result.encoded_states.get(account_id)
    return encoded is not None and bool(encoded[1].billing.open_disputes)


def refusal_dead_letter(settings: Settings, codec: EventCodec, refusal: Refusal) -> tuple[bytes, bytes]:
    """A rates-topic record the rate book refused, as a dead letter (key, value)."""
    key = f"{settings.rates_topic}/0/{refusal.offset}/0".encode()
    return key, codec.encode_dead_letter(reason_code=refusal.code, reason=refusal.reason,
                                         source_topic=settings.rates_topic, source_partition=0,
                                         source_offset=refusal.offset, source_index=0, original=refusal.value)


class _Pending:
    """The states a batch's parts have folded and not yet written, each account's last: what the
    next part folds from, and what ``write_states`` writes once at the batch's end."""

    def __init__(self, states: AccountStates) -> None:
        self.states = states
        self.encoded: dict[str, tuple[bytes, AccountState]] = {}
        self.quiet: dict[str, int] = {}  # account -> its encoded state's quiet_until
        self.calls_ended: list[tuple[str, str]] = []
        self.since = time.monotonic()  # when the oldest state here was folded (or this began)

    def load(self, account_id: str) -> AccountState | None:
        kept = self.encoded.get(account_id)
        return self.states.load(account_id) if kept is None else kept[1]

    def ticked_accounts(self, at_ms: int) -> list[str]:
        """Those a tick dated ``at_ms`` may change: folded by an earlier part of the batch and not
        quiet then, or in the table, not quiet, and not folded since (the table's is older)."""
        encoded, quiet = self.encoded, self.quiet
        return [*(a for a in self.states.ticked_accounts(at_ms) if a not in encoded),
                *(a for a in encoded if at_ms >= quiet[a])]

    def forget_quiet(self) -> None:
        """Quiet times asked with other settings: every account here is ticked until asked again."""
        self.quiet = dict.fromkeys(self.quiet, 0)

    def keep(self, result: BatchResult) -> None:
        if not self.encoded:
            self.since = time.monotonic()
        self.encoded.update(result.encoded_states)
        for account_id, (_, state) in result.encoded_states.items():
            self.quiet[account_id] = self.states.quiet_until(state)
        self.calls_ended.extend(result.calls_ended)


class FoldStage:
    def __init__(self, settings: Settings, codec: EventCodec, processor: BatchProcessor, rate_feed: RateFeed,
                 states: AccountStates, commit: BatchCommit, guard: InOrderGuard,
                 authorization: AuthorizationProcess | None, highwater: Callable[[int], int | None],
                 epochs: Epochs | None = None) -> None:
        self.settings = settings
        self.codec = codec
        self.processor = processor
        self.base_settings: FoldSettings = processor.settings  # the configured cards, before published ones
        self.rate_feed = rate_feed
        self.states = states
        self.commit = commit
        self.guard = guard
        self.authorization = authorization  # None: no authorization endpoint (authorization_port 0)
        self.highwater = highwater  # partition -> the log end the consumer last saw (lag metric)
        self.cards_version = 0  # the rate book's version the processor's settings were built from
        self.current: FoldSettings = processor.settings  # the settings at hand, published cards added
        # Which settings fold each event: as the worker's start read them, else read at the first batch.
        self.epochs: Epochs | None = epochs
        self._epoch: int | None = None  # id of the older settings installed, None: those at hand
        self._older: dict[tuple[int, int], FoldSettings] = {}  # (id, cards version) -> with the cards
        self.busy_since: float | None = None  # monotonic start of the part being written (the watchdog)

    async def process_batch(self, events: list) -> None:  # Faust's events
        pending = _Pending(self.states)
        try:
            for part in chunks_by_bytes(events, self.settings.batch_bytes_max):
                self.busy_since = time.monotonic()
                await self.fold_and_write(part, pending)
                if time.monotonic() - pending.since >= self.settings.state_write_seconds:
                    await self.write_states(pending)  # a long batch: not all its states at its end
                    pending = _Pending(self.states)
            self.busy_since = time.monotonic()
            await self.write_states(pending)
        finally:
            self.busy_since = None

    async def write_states(self, pending: _Pending) -> None:
        """Steps 4 and 5: the batch's states, each account's last, once every part's outputs are
        acknowledged; then the authorization process, then Faust may commit over filled offsets."""
        t0 = time.monotonic()
        if pending.encoded:
            await self.commit.commit(CommitPlan(states=[(a.encode(), raw) for a, (raw, _) in pending.encoded.items()]))
        for account_id, (raw, state) in pending.encoded.items():
            self.states.remember(account_id, raw, state, pending.quiet[account_id])
        if self.authorization is not None:  # after the table: the process may ask it for a state
            self.authorization.publish(pending.encoded, pending.calls_ended, self.current)
        self.guard.release()  # only now may Faust commit over the filled offsets
        log.info("states accounts=%d seconds=%.3f", len(pending.encoded), time.monotonic() - t0)

    async def fold_and_write(self, events: list, pending: _Pending) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        messages = [InMessage(e.message.topic, e.message.partition, e.message.offset,
                              int(round(e.message.timestamp * 1000)), e.message.value) for e in events]
        records = [(m.partition, m.offset) for m in messages]
        fills = await self.guard.check(records)
        if fills:  # records Faust skipped, read from the broker: folded in log order with the rest
            # A stable sort: each partition's records in offset order (a batch may skip more than
            # once), anything delivered twice still in delivery order.
            messages = sorted(fills + messages, key=lambda m: (m.partition, m.offset))
            records = [(m.partition, m.offset) for m in messages]
        await self._refresh_cards()
        if self.epochs is None:
            self.epochs = await settings_log.epochs(self.settings)
        for run, older in self.epochs.runs(messages):  # one run, at hand, but around an accepted change
            self._use(older, pending)
            await self._fold_run(run, pending, t0)
            t0 = loop.time()
        self.guard.advance(records)
        self._observe_lag(records)

    async def _fold_run(self, messages: list[InMessage], pending: _Pending, t0: float) -> None:
        loop = asyncio.get_running_loop()
        t_fold = loop.time()
        result = fold_contained(self.processor, self.codec, messages, pending.load, pending.ticked_accounts)
        result.dead_letters.extend(refusal_dead_letter(self.settings, self.codec, r)
                                   for r in self.rate_feed.take_refusals())
        t_commit = loop.time()
        plan = plan_for(result, self.settings)
        plan.states = []  # written once per batch, by write_states
        await self.commit.commit(plan)
        pending.keep(result)
        self._observe(result, len(messages), (t0, t_fold, t_commit, loop.time()))

    def _use(self, older: FoldSettings | None, pending: _Pending) -> None:
        """Fold with ``older`` (an epoch before a change accepted in force, the published cards
        added as to those at hand) or, ``None``, with the settings at hand. Ticks' quiet times
        were asked with the settings before: on a switch they are forgotten, and every account
        is ticked until asked again, so none is left out that these settings would change."""
        epoch = None if older is None else id(older)
        if older is None:
            wanted = self.current
        else:
            key = (id(older), self.cards_version)
            if key not in self._older:
                self._older = {key: replace(older, rate_cards=older.rate_cards + self.rate_feed.book.effective_cards())}
            wanted = self._older[key]
        self.processor.settings = wanted
        if epoch != self._epoch:
            self._epoch = epoch
            self.states.forget_quiet()
            pending.forget_quiet()

    async def _refresh_cards(self) -> None:
        """Cards logged before these calls must be known before they are rated (rate_feed.py)."""
        if self.rate_feed.due():
            await self.rate_feed.catch_up()
        book = self.rate_feed.book
        if book.version != self.cards_version:
            self.cards_version = book.version
            self.current = replace(self.base_settings, rate_cards=self.base_settings.rate_cards + book.effective_cards())
            self.processor.settings = self.current

    def _observe(self, result: BatchResult, n_messages: int, times: tuple[float, float, float, float]) -> None:
        t0, t_fold, t_commit, t_end = times
        metrics.BATCH_SIZE.observe(result.counts["consumed"])
        metrics.BATCH_LATENCY.observe(t_end - t0)
        metrics.ACCOUNTS_IN_STATE.set(len(result.states))
        if t_end - t0 > self.settings.session_timeout_seconds / 2:
            log.warning("a batch part took %.1f s, over half of session_timeout_seconds (%.0f s): the broker may "
                        "take this worker for dead; lower batch_bytes_max", t_end - t0,
                        self.settings.session_timeout_seconds)
        c = result.counts
        log.info("batch messages=%d events=%d applied=%d duplicate=%d redelivered=%d rejected=%d accounts=%d "
                 "call_rows=%d seconds=%.3f (check %.3f fold %.3f commit %.3f)", n_messages, c["consumed"],
                 c["applied"], c["duplicate"], c["redelivered"], len(result.dead_letters), len(result.states),
                 len(result.call_rows), t_end - t0, t_fold - t0, t_commit - t_fold, t_end - t_commit)

    def _observe_lag(self, records: list[tuple[int, int]]) -> None:
        last: dict[int, int] = {}
        for partition, offset in records:
            last[partition] = max(offset, last.get(partition, offset))
        for partition, offset in last.items():
            highwater = self.highwater(partition)
            if highwater is not None:  # known once the partition has been fetched
                metrics.CONSUMER_LAG.labels(topic=self.settings.events_topic, partition=str(partition)).set(
                    max(0, highwater - (offset + 1)))

"""Crypto-shredding (R31, R32, R35; issue 7): personal fields sealed with the subscriber's own
key at the edge, opened by the worker for the call log, unreadable for ever once the key is
erased; rating and deduplication work on the sealed event alone, so a rebuild after an erasure
folds exactly as the live worker did."""

from __future__ import annotations

from dataclasses import replace

import pytest

from projections.account import Duplicate, FoldSettings, Positioned, fold_batch
from projections.events import AccountOpened, CallDetailRecord, Disposition, is_sealed
from projections.rating import DestinationRate, RateCard, rate_call
from schemas.codec import EventCodec
from streams.clickhouse.call_log import CALL_LOG_COLUMNS
from streams.worker.processor import BatchProcessor, InMessage
from streams.kafka.partitioning import partition_for
from streams.edge.sealing import (Opener, SealError, Sealer, SubscriberKeys, anonymised_callee, route_of,
                             sealed_length)

T0 = 1_790_812_800_000
ACCT = "acct-7"
codec = EventCodec()
CARD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000),
                                  "44": DestinationRate("44", "UK", 20_000),
                                  "447": DestinationRate("447", "UK mobile", 80_000)})
CALL = CallDetailRecord("e1", "carrier-a", "k1", ACCT, "+15550001234", "+447700900123", T0, T0 + 1_000,
                        T0 + 61_000, Disposition.ANSWERED)


@pytest.fixture
def keys(tmp_path):
    return SubscriberKeys(tmp_path / "keys")


def test_R32_sealed_numbers_are_not_in_the_event_and_open_with_the_key(keys):
    sealer = Sealer(keys, 6)
    sealed = sealer.seal_event(CALL)
    assert is_sealed(sealed.caller) and is_sealed(sealed.callee)
    encoded = codec.encode(sealed)
    for number in ("15550001234", "447700900123", "7700900123"):
        assert number.encode() not in encoded
    assert sealed.callee_route == "+447700" and sealed.dialled == "+447700"
    opener = Opener(keys)
    assert (opener.open(ACCT, sealed.caller), opener.open(ACCT, sealed.callee)) == (CALL.caller, CALL.callee)
    assert sealed_length(sealed.callee) == len(CALL.callee)


def test_sealing_is_deterministic_per_account_so_a_resent_cdr_is_a_duplicate(keys):
    """The fold's fingerprint reads the tokens: the same call sealed again must give the same ones,
    from another ingest process too (a second store object on the same directory)."""
    one, two = Sealer(keys, 6), Sealer(SubscriberKeys(keys.directory), 6)
    assert one.seal_event(CALL) == two.seal_event(CALL)
    assert one.seal(ACCT, "15550001234") != one.seal("acct-8", "15550001234")  # per subscriber
    assert one.seal_event(one.seal_event(CALL)) == one.seal_event(CALL)  # sealed once only
    events = [AccountOpened("o", ACCT, T0 - 1, "USD", "basic", "prepaid", ()), one.seal_event(CALL),
              two.seal_event(replace(CALL, event_id="e1-resent"))]
    items = [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)]
    _, outcomes = fold_batch(None, items, FoldSettings(rate_cards=(CARD,)))
    assert isinstance(outcomes[-1], Duplicate) and not isinstance(outcomes[-2], Duplicate)


def test_a_token_copied_into_another_account_or_altered_does_not_open(keys):
    sealer, opener = Sealer(keys, 6), Opener(keys)
    token = sealer.seal(ACCT, "15550001234")
    Sealer(keys, 6).seal("acct-8", "1")  # acct-8 has a key of its own
    with pytest.raises(SealError):
        opener.open("acct-8", token)
    body = token[-6:]
    flipped = token[:-6] + ("A" if body[0] != "A" else "B") + body[1:]
    with pytest.raises(SealError):
        opener.open(ACCT, flipped)


def test_R32_erasure_deletes_the_key_and_a_store_without_the_key_is_not_taken_for_an_erasure(keys, tmp_path):
    sealer = Sealer(keys, 6)
    token = sealer.seal(ACCT, "15550001234")
    # Another store (a worker not given the edge's directory): unreadable, not "erased".
    with pytest.raises(SealError, match="subscriber_keys_dir"):
        Opener(SubscriberKeys(tmp_path / "elsewhere")).open(ACCT, token)
    assert keys.erase(ACCT, "ticket-1") is True and keys.erase(ACCT) is False  # idempotent
    assert Opener(keys).open(ACCT, token) is None
    # Later events are sealed under a new key; the old tokens stay unreadable.
    fresh = Sealer(keys, 6).seal(ACCT, "15550001234")
    assert fresh != token and Opener(keys).open(ACCT, fresh) == "15550001234"
    assert Opener(keys).open(ACCT, token) is None


def test_R32_an_erasure_by_another_process_reaches_a_long_lived_opener_within_its_ttl(keys):
    """`subscriber erase` deletes the key in its own process; a worker's Opener, which keeps keys
    and opened values, must stop opening once its cache expires (the worker refreshes per batch)."""
    token = Sealer(keys, 6).seal(ACCT, "15550001234")
    opener = Opener(keys, ttl_s=0)
    assert opener.open(ACCT, token) == "15550001234"
    assert keys.erase(ACCT, "ticket-1") is True
    opener.refresh()
    assert opener.open(ACCT, token) is None


def test_an_opener_takes_back_an_unchanged_key_after_its_ttl_without_reading_it_again(keys, monkeypatch):
    """Issue 22: most subscribers call less often than every ttl_s, so each of their calls found
    the key expired and paid ~20 us to read, derive and set it up again. A key whose file a stat
    shows unchanged is taken back instead; it still opens what it opened."""
    from streams.edge import sealing

    token = Sealer(keys, 6).seal(ACCT, "15550001234", "202610")
    opener = Opener(keys, ttl_s=0)
    assert opener.open(ACCT, token) == "15550001234"
    reads = []
    real_read = sealing._read  # every file read of the key store goes through it
    monkeypatch.setattr(sealing, "_read", lambda path, stamped: reads.append(path) or real_read(path, stamped))
    for _ in range(3):
        opener.refresh()
        assert opener.open(ACCT, token) == "15550001234"
    assert [r for r in reads if r.endswith(sealing.KEY_FILE)] == []  # the month's secret is read again, once a refresh
    opener.forget(ACCT)  # an erasure folded: nothing of the subscriber is kept
    assert opener.open(ACCT, token) == "15550001234" and len([r for r in reads if r.endswith(sealing.KEY_FILE)]) == 1


def _held(opener: Opener) -> tuple[int, int, int]:
    """(ciphers, opened values, kept keys) an opener holds, each checked against its count."""
    caches = (opener._ciphers, opener._opened, opener._kept)
    held = tuple(sum(map(len, cache.of.values())) for cache in caches)
    assert held == tuple(cache.n for cache in caches)
    return held


def test_R32_an_erasure_folded_drops_that_subscribers_entries_and_no_others(keys, monkeypatch):
    """``forget`` once scanned every cached entry (~28 ms an erasure with 100k subscribers held),
    so a bulk erasure stalled the worker's partition. It drops the one account's keys, opened
    values and kept keys; the other subscribers' stay, and open without a read."""
    from streams.edge import sealing

    sealer, opener = Sealer(keys, 6), Opener(keys)
    tokens = {a: [sealer.seal(a, n, "202610") for n in ("15550001234", "15550009876")] for a in ("a1", "a2", "a3")}
    for account_id, pair in tokens.items():
        assert [opener.open(account_id, t) for t in pair] == ["15550001234", "15550009876"]
    assert _held(opener) == (3, 6, 3)
    keys.erase("a2")  # `subscriber erase`, then its event folded
    opener.forget("a2")
    assert _held(opener) == (2, 4, 2)
    reads = []
    real_read = sealing._read
    monkeypatch.setattr(sealing, "_read", lambda path, stamped: reads.append(path) or real_read(path, stamped))
    assert opener.open("a2", tokens["a2"][0]) is None  # read again at once, not after ttl_s
    assert [opener.open(a, tokens[a][1]) for a in ("a1", "a3")] == ["15550009876"] * 2
    assert [r for r in reads if "a1" in r or "a3" in r] == []
    opener.forget()
    assert _held(opener) == (0, 0, 0)


def test_an_openers_caches_stay_bounded_within_its_ttl(keys, monkeypatch):
    """A busy worker meets more subscribers in one ttl_s than it may hold ciphers of (~2.9 KB
    each): past the bound the caches start again empty, and every value still opens."""
    from streams.edge import sealing

    monkeypatch.setattr(sealing, "KEYS_CACHED_MAX", 3)
    monkeypatch.setattr(sealing, "OPENED_MAX", 4)
    sealer, opener = Sealer(keys, 6), Opener(keys)
    tokens = [(f"a{i}", sealer.seal(f"a{i}", "15550001234", "202610")) for i in range(10)]
    for _ in range(2):
        for account_id, token in tokens:
            assert opener.open(account_id, token) == "15550001234"
            ciphers, opened, kept = _held(opener)
            assert 1 <= ciphers <= 3 and 1 <= opened <= 4 and 1 <= kept <= 3


def test_R32_a_kept_key_is_dropped_when_its_file_is_erased_replaced_or_restored_over(keys):
    """What the stat must see, each within the opener's ttl, as a full reload did: an erasure, an
    erasure and a new key (the old tokens stay shut), and another key written over the file in
    place with its old modification time (a careless restore; the change time still moves)."""
    import os
    import time

    from streams.edge import sealing

    sealer = Sealer(keys, 6)
    opener = Opener(keys, ttl_s=0)
    token = sealer.seal(ACCT, "15550001234", "202610")
    assert opener.open(ACCT, token) == "15550001234"
    keys.erase(ACCT)
    opener.refresh()
    assert opener.open(ACCT, token) is None
    fresh = Sealer(keys, 6).seal(ACCT, "15550001234", "202610")  # a new key after the erasure
    opener.refresh()
    assert opener.open(ACCT, token) is None and opener.open(ACCT, fresh) == "15550001234"
    path = keys.directory / sealing._dir_name(ACCT) / sealing.KEY_FILE
    key_id, _ = sealing.SubscriberKeys._parse(path.read_text())
    before = os.stat(path)
    time.sleep(0.02)  # past the file system's clock tick (jiffies): the change time must be able to move
    path.write_text(f"{key_id} {sealing.base64.b64encode(bytes(32)).decode()}\n")  # same id and size, in place
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    opener.refresh()
    with pytest.raises(SealError, match="does not open"):
        opener.open(ACCT, fresh)


def test_R32_an_erasure_reaches_a_long_running_sealer_within_its_ttl_and_its_cache_is_bounded(keys, monkeypatch):
    """The receiver and `ingest --follow` seal for months with one Sealer: it kept every key it
    had read for ever, so after an erasure it sealed new calls with the deleted key (the worker
    then logged them anonymised) and its cache grew with every account and month."""
    from streams.edge import sealing

    now = [1_000.0]
    monkeypatch.setattr(sealing.time, "monotonic", lambda: now[0])
    sealer = Sealer(keys, 6, ttl_s=30)
    before = sealer.seal(ACCT, "15550001234")
    assert keys.erase(ACCT, "ticket-1") is True
    now[0] += 29
    assert sealer.seal(ACCT, "15550001234") == before  # within the ttl: the cached key
    now[0] += 1
    after = sealer.seal(ACCT, "15550001234")
    assert after != before and Opener(keys).open(ACCT, after) == "15550001234"  # a new key, which opens
    assert Opener(keys).open(ACCT, before) is None  # the erased one does not
    monkeypatch.setattr(sealing, "KEYS_CACHED_MAX", 3)
    for n in range(10):
        sealer.seal(f"acct-{n}", "15550001234", "202610")
        assert len(sealer._cache) <= 3


@pytest.mark.parametrize("number,digits,route", [
    ("+447700900123", 6, "+447700"), ("00447700900123", 4, "004477"), ("02071234567", 6, "0207123"),
    ("12125550100", 6, "121255"), ("123", 6, "123"), (" +3247 ", 2, "+32"),
])
def test_route_keeps_the_mark_and_the_leading_digits(number, digits, route):
    assert route_of(number, digits) == route


def test_rating_a_sealed_call_reads_the_route_and_equals_the_clear_rating_when_prefixes_fit(keys):
    """Card prefixes no longer than route_digits: the route rates exactly as the full number."""
    sealed = Sealer(keys, 6).seal_event(CALL)
    assert rate_call(sealed, CARD) == rate_call(CALL, CARD)
    assert rate_call(sealed, CARD).destination_prefix == "447"


def _process(processor: BatchProcessor, events: list, states: dict) -> object:
    p = partition_for(ACCT, 4)
    messages = [InMessage("events", p, i, 2**62, codec.encode(e)) for i, e in enumerate(events)]
    result = processor.process(messages, states.get)
    states.update(result.states)
    return result


def test_R32_the_worker_opens_for_the_call_log_and_after_erasure_writes_what_subscriber_erase_leaves(keys):
    sealer = Sealer(keys, 6)
    opened = AccountOpened("o", ACCT, T0 - 1, "USD", "basic", "prepaid", ("+15550001234",))
    events = sealer.seal_events([opened, CALL])
    assert is_sealed(events[0].numbers[0])
    processor = BatchProcessor(codec, FoldSettings(rate_cards=(CARD,)), 4, Opener(keys))
    live = _process(processor, events, {})
    row = dict(zip(CALL_LOG_COLUMNS, live.call_rows[0]))
    assert (row["caller"], row["callee"]) == ("+15550001234", "+447700900123")
    assert live.states[ACCT].numbers == events[0].numbers  # state keeps them sealed

    keys.erase(ACCT)
    # A rebuild: a fresh worker replays the same events without the key.
    rebuilt = _process(BatchProcessor(codec, FoldSettings(rate_cards=(CARD,)), 4, Opener(keys)), events, {})
    after = dict(zip(CALL_LOG_COLUMNS, rebuilt.call_rows[0]))
    # The SQL of streams/clickhouse/privacy.py: concat(prefix, stars for the rest of the number).
    assert (after["caller"], after["callee"]) == ("", "447" + "*" * 10)
    assert after["callee"] == anonymised_callee("447", len("+447700900123"))
    assert {k: v for k, v in after.items() if k not in ("caller", "callee")} == \
        {k: v for k, v in row.items() if k not in ("caller", "callee")}
    assert rebuilt.states[ACCT] == live.states[ACCT]
    assert rebuilt.dead_letters == []


def test_a_sealed_cdr_this_worker_cannot_open_is_dead_lettered_not_logged_as_a_token(keys, tmp_path):
    events = Sealer(keys, 6).seal_events([AccountOpened("o", ACCT, T0 - 1, "USD", "basic", "prepaid", ()), CALL])
    processor = BatchProcessor(codec, FoldSettings(rate_cards=(CARD,)), 4, Opener(SubscriberKeys(tmp_path / "x")))
    result = _process(processor, events, {})
    assert result.call_rows == []
    (letter,) = [codec.decode_dead_letter(v) for _, v in result.dead_letters]
    assert letter["reason_code"] == "sealed_unreadable" and "subscriber_keys_dir" in letter["reason"]
    assert codec.decode(letter["original"]) == [events[1]]  # kept whole, to re-submit


def test_R32_a_folded_erasure_asks_for_the_call_log_to_be_anonymised_once_more_and_a_replay_does_not(keys):
    from projections.events import SubscriberErasureRequested
    from streams.clickhouse.privacy import anonymise_mutations

    events = [AccountOpened("o", ACCT, T0 - 1, "USD", "basic", "prepaid", ("+15550001234",)), CALL,
              SubscriberErasureRequested("erase:1", ACCT, T0 + 90_000, "dsar-1")]
    processor = BatchProcessor(codec, FoldSettings(rate_cards=(CARD,)), 4, Opener(keys))
    states: dict = {}
    sealed = Sealer(keys, 6).seal_events(events)
    first = _process(processor, sealed, states)
    assert first.erased == [ACCT] and states[ACCT].numbers == ()
    # The folded erasure drops the subscriber's cached key at once (not after the cache's TTL).
    keys.erase(ACCT)
    assert processor.opener.open(ACCT, sealed[1].callee) is None
    assert _process(processor, sealed, states).erased == []  # redelivered
    assert all(clause.endswith("WHERE account_id = 'o\\'brien'") for _, clause in anonymise_mutations("o'brien"))
    # No dispute of theirs: no mutation of the disputes table (one over nothing can stay pending).
    from streams.config.settings import Settings
    from streams.worker.fold_stage import plan_for
    assert [t for t, _ in plan_for(first, Settings()).mutations] == ["call_log"]
    assert anonymise_mutations("a", calls=False, disputes=False) == ()


def test_R32_a_disputes_reason_is_sealed_on_the_log_opened_for_the_queue_and_empty_after_erasure(keys):
    """The customer's words are personal (R32): the log keeps them sealed, the worker writes them
    opened to the disputes table, and a rebuild after the erasure writes them empty, as
    ``subscriber erase`` leaves the table; the dispute, its amount and its invoice stay."""
    from projections.events import DisputeOpened, PeriodTicked, SubscriberErasureRequested, TickKind
    from streams.clickhouse.disputes import DISPUTE_COLUMNS
    from streams.config.settings import Settings
    from streams.worker.fold_stage import plan_for
    from streams.clickhouse.privacy import anonymise_mutations

    sealer, settings = Sealer(keys, 6), FoldSettings(rate_cards=(CARD,))
    november = T0 + 31 * 86_400_000  # the tick that closes October: the call's invoice
    first = sealer.seal_events([AccountOpened("o", ACCT, T0 - 1, "USD", "basic", "postpaid", ()), CALL,
                                PeriodTicked("close", november, TickKind.HOUR, "2026-11")])
    states: dict = {}
    (invoice, *_), = _process(BatchProcessor(codec, settings, 4, Opener(keys)), first, states).invoice_rows
    words = "Jan Smit at +31 20 555 0101 never made that call"
    dispute = sealer.seal_event(DisputeOpened("d1", ACCT, november + 1, invoice, 10_000, "USD", words))
    assert is_sealed(dispute.reason) and b"Smit" not in codec.encode(dispute)
    live = _process(BatchProcessor(codec, settings, 4, Opener(keys)), first + [dispute], {}).dispute_rows
    assert [dict(zip(DISPUTE_COLUMNS, r))["reason"] for r in live] == [words]
    # Its erasure folded: the worker empties the words once more (its dispute is open).
    erasure = SubscriberErasureRequested("erase:1", ACCT, november + 2, "dsar-1")
    folded = _process(BatchProcessor(codec, settings, 4, Opener(keys)), first + [dispute, erasure], {})
    assert [t for t, _ in plan_for(folded, Settings()).mutations] == ["call_log", "disputes"]
    keys.erase(ACCT)
    rebuilt = _process(BatchProcessor(codec, settings, 4, Opener(keys)), first + [dispute], {}).dispute_rows
    assert [dict(zip(DISPUTE_COLUMNS, r)) for r in rebuilt] == [{**dict(zip(DISPUTE_COLUMNS, live[0])), "reason": ""}]
    assert ("disputes", f"UPDATE reason = '' WHERE account_id = '{ACCT}'") in anonymise_mutations(ACCT)


def test_R32_a_disputes_reason_is_bounded_at_the_edge_so_that_sealed_it_fits_an_event(keys):
    from projections.validation import check_bounds
    from streams.edge.commands import DISPUTE_REASON_BYTES_MAX, CommandRefused, dispute

    longest = dispute(ACCT, "inv-1", 10_000, "usd", "é" * (DISPUTE_REASON_BYTES_MAX // 2), "k")
    check_bounds(Sealer(keys, 6).seal_event(longest))  # the worker takes it: not field_too_long
    for words in ("é" * (DISPUTE_REASON_BYTES_MAX // 2 + 1), "a\x1b[31m red"):
        with pytest.raises(CommandRefused, match="reason: at most 600 bytes"):
            dispute(ACCT, "inv-1", 10_000, "usd", words, "k")
    assert dispute(ACCT, "inv-1", 10_000, "usd", "line one\nline two", "k").reason.count("\n") == 1


def test_R31_a_cdr_is_sealed_with_its_months_key_and_expiring_the_month_leaves_it_sealed_for_good(tmp_path):
    """The month secret is destroyed by retention: the month's CDRs no longer open (reported as
    gone, like an erasure, not as a store that was not shared), later months and the account's
    own numbers still do, and a CDR of an expired month is refused at the edge."""
    from projections.events import AccountOpened
    from streams.edge.sealing import Opener, Sealer, SubscriberKeys, epoch_of

    keys = SubscriberKeys(tmp_path / "keys")
    sealer = Sealer(keys, 6)
    old_start, new_start = 1_633_046_400_000, 1_790_812_800_000  # 2021-10-01 and 2026-10-01
    old = sealer.seal_event(CallDetailRecord("e1", "c", "k1", "a1", "15550001", "12125550100", old_start, None,
                                             old_start, Disposition.NO_ANSWER))
    new = sealer.seal_event(CallDetailRecord("e2", "c", "k2", "a1", "15550001", "12125550100", new_start, None,
                                             new_start, Disposition.NO_ANSWER))
    opened = sealer.seal_event(AccountOpened("o", "a1", old_start, "USD", "basic", "prepaid", ("15550001",)))
    assert old.callee.split(":")[1].endswith(".202110") and new.callee.split(":")[1].endswith(".202610")
    assert old.callee != new.callee  # one number, two months: two tokens
    assert Opener(keys).open("a1", old.callee) == "12125550100"

    assert keys.expire_before(epoch_of(new_start - 365 * 86_400_000)) == ["202110"]
    fresh = Opener(keys)
    assert fresh.open("a1", old.callee) is None and fresh.open("a1", old.caller) is None
    assert fresh.open("a1", new.callee) == "12125550100"
    assert fresh.open("a1", opened.numbers[0]) == "15550001"  # the account's numbers live with the account
    assert Sealer(keys, 6).past_retention(old) and not Sealer(keys, 6).past_retention(new)
    with pytest.raises(SealError):
        Sealer(keys, 6).seal("a1", "12125550100", "202109")


def test_R31_an_opener_reads_a_months_secret_once_and_sees_it_destroyed_within_its_ttl(tmp_path):
    """A batch loads thousands of subscribers' keys of one month: the month's secret is read
    once and kept with the keys. Destroyed by retention in another process, it stops opening
    at the opener's next refresh, as an erased subscriber's key does."""
    from streams.edge.sealing import Opener, Sealer, SubscriberKeys

    keys = SubscriberKeys(tmp_path / "keys")
    sealer = Sealer(keys, 6)
    tokens = {a: sealer.seal(a, "12125550100", "202610") for a in ("a1", "a2", "a3")}
    opener = Opener(keys, ttl_s=0)
    assert opener.open("a1", tokens["a1"]) == "12125550100"
    assert keys.expire_before("202611") == ["202610"]  # `retention apply`, elsewhere
    assert opener.open("a2", tokens["a2"]) == "12125550100"  # a2's key, from the month secret read for a1
    opener.refresh()
    assert opener.open("a3", tokens["a3"]) is None  # gone for good, not an error
    assert opener.open("a1", tokens["a1"]) is None  # a key kept from before the refresh too


def test_R31_a_sealer_reads_a_months_secret_once_and_sees_it_destroyed_after_its_ttl(tmp_path, monkeypatch):
    """The receiver loads every calling subscriber's key again each ttl_s: the month's secret
    and the retention mark were read again for each of them (two file reads of three). They are
    read once per sealer's ttl now, and a month destroyed by retention elsewhere still stops
    being sealed once the ttl has passed, as an erased key does."""
    from streams.edge import sealing
    from streams.edge.sealing import Sealer, SealError, SubscriberKeys

    now = [1_000.0]
    monkeypatch.setattr(sealing.time, "monotonic", lambda: now[0])
    keys = SubscriberKeys(tmp_path / "keys")
    Sealer(keys, 6).seal("a0", "12125550100", "202610")  # the month's secret exists
    reads = []
    real_read = sealing._read  # every file read of the key store goes through it
    monkeypatch.setattr(sealing, "_read", lambda path, stamped: reads.append(path) or real_read(path, stamped))
    sealer = Sealer(keys, 6, ttl_s=30)
    for account in ("a1", "a2", "a3"):
        sealer.seal(account, "12125550100", "202610")
    assert len([r for r in reads if r.endswith("202610")]) == 1
    assert keys.expire_before("202611") == ["202610"]  # `retention apply`, elsewhere
    now[0] += 30
    with pytest.raises(SealError, match="past retention"):
        sealer.seal("a4", "12125550100", "202610")


@pytest.mark.parametrize("month", ["../../x", "/etc/hostname", "9" * 5000, "2026١٠", "20261", "2026100"])
def test_R31_a_tokens_month_that_is_not_yyyymm_is_refused_never_read_as_a_path(tmp_path, month):
    """The month of a token names a file of the key store, and tokens come off the log: a
    traversal or an overlong name is a malformed value (a dead letter), never a file read."""
    from streams.edge.sealing import Opener, Sealer, SubscriberKeys

    keys = SubscriberKeys(tmp_path / "keys")
    token = Sealer(keys, 6).seal("a1", "12125550100", "202610")
    key_id = token.split(":")[1]
    hostile = token.replace(key_id, key_id.split(".")[0] + "." + month)
    with pytest.raises(SealError, match="malformed month"):
        Opener(keys).open("a1", hostile)


def test_a_cdr_with_a_hostile_month_in_its_token_is_a_dead_letter_and_the_batch_goes_on(keys):
    opened, call = Sealer(keys, 6).seal_events([AccountOpened("o", ACCT, T0 - 1, "USD", "basic", "prepaid", ()), CALL])
    key_id = call.callee.split(":")[1]
    hostile = replace(call, event_id="e-hostile", call_id="k-hostile",
                      callee=call.callee.replace(key_id, key_id.split(".")[0] + "." + "9" * 900))
    processor = BatchProcessor(codec, FoldSettings(rate_cards=(CARD,)), 4, Opener(keys))
    result = _process(processor, [opened, hostile, call], {})
    (letter,) = [codec.decode_dead_letter(v) for _, v in result.dead_letters]
    assert letter["reason_code"] == "sealed_unreadable" and "malformed month" in letter["reason"]
    assert [row[0] for row in result.call_rows] == [CALL.call_key]  # the next call is logged, opened


def test_R31_a_month_secret_that_is_missing_without_being_destroyed_is_an_error_not_an_erasure(tmp_path):
    from streams.edge.sealing import Opener, Sealer, SubscriberKeys

    keys = SubscriberKeys(tmp_path / "keys")
    token = Sealer(keys, 6).seal("a1", "12125550100", "202610")
    (tmp_path / "keys" / "epochs" / "202610").unlink()  # lost, not expired
    with pytest.raises(SealError, match="no secret for month 202610"):
        Opener(keys).open("a1", token)


def test_R32_an_erasure_closes_every_months_tokens(tmp_path):
    from streams.edge.sealing import Opener, Sealer, SubscriberKeys

    keys = SubscriberKeys(tmp_path / "keys")
    tokens = [Sealer(keys, 6).seal("a1", "12125550100", month) for month in ("202609", "202610")]
    keys.erase("a1")
    assert [Opener(keys).open("a1", t) for t in tokens] == [None, None]


def test_R32_who_is_invoiced_is_sealed_like_the_numbers_and_goes_with_the_key(keys):
    """AccountOpened v4 and AccountDetailsChanged: name, address and tax id are personal."""
    from projections.events import AccountDetailsChanged

    sealer, opener = Sealer(keys, 6), Opener(keys)
    opened = AccountOpened("o", ACCT, T0, "EUR", "business", "postpaid", ("3225000001",), "Europe/Brussels", "BE", "BE",
                           "Łódź Trading SPRL", "Rue de la Loi 16\n1000 Bruxelles", "BE0123456789")
    changed = AccountDetailsChanged("d", ACCT, T0, "Łódź Trading SPRL", "Avenue Louise 54\n1050 Ixelles", "")
    for event in (sealer.seal_event(opened), sealer.seal_event(changed)):
        encoded = codec.encode(event)
        assert "Łódź".encode() not in encoded and b"Bruxelles" not in encoded and b"Louise" not in encoded
        assert is_sealed(event.customer_name) and opener.open(ACCT, event.customer_name) == "Łódź Trading SPRL"
    assert sealer.seal_event(changed).customer_tax_id == "", "an empty field stays empty"
    assert sealer.seal_event(sealer.seal_event(opened)) == sealer.seal_event(opened), "sealed once"
    keys.erase(ACCT, "gdpr-1")
    assert Opener(keys).open(ACCT, sealer.seal_event(changed).billing_address) is None


@pytest.mark.parametrize("corrupt", [b"", b"cafe1234 not-base64!", b"cafe1234 " + b"QUJD" * 4, b"\xff\xfe\x00 x",
                                     b"A" * 10_000_000])
def test_a_corrupt_key_file_dead_letters_the_accounts_sealed_calls_and_the_batch_goes_on(keys, corrupt):
    """A key file cut short, overwritten or grown (disk, hand edit) raised binascii or Unicode
    errors out of the batch, and a worker that fails a batch replays it for ever. It is read no
    further than 4 KiB, and what is not a key is a sealed value that does not open."""
    other = next(a for a in (f"acct-{n}" for n in range(8, 99)) if partition_for(a, 4) == partition_for(ACCT, 4))
    events = Sealer(keys, 6).seal_events([
        AccountOpened("o", ACCT, T0 - 1, "USD", "basic", "prepaid", ()), CALL,
        AccountOpened("o2", other, T0 - 1, "USD", "basic", "prepaid", ()), replace(CALL, call_id="k2",
                                                                               account_id=other)])
    (keys._dir(ACCT) / "current").write_bytes(corrupt)
    opener = Opener(SubscriberKeys(keys.directory))
    with pytest.raises(SealError, match="not a key"):
        opener.open(ACCT, events[1].callee)
    result = _process(BatchProcessor(codec, FoldSettings(rate_cards=(CARD,)), 4, opener), events, {})
    letters = [codec.decode_dead_letter(v) for _, v in result.dead_letters]
    assert [(d["reason_code"], codec.decode(d["original"])) for d in letters] == [("sealed_unreadable", [events[1]])]
    assert [dict(zip(CALL_LOG_COLUMNS, r))["account_id"] for r in result.call_rows] == [other]

"""Per-subscriber keys and sealed personal fields: erasure in the Kafka log by crypto-shredding
(R31, R32, R35).

Why: the event log is append-only and kept for rebuilds, so a subscriber's erasure cannot
rewrite it. Instead the personal fields of events (a CDR's caller and callee, the numbers of
``AccountOpened``, who is invoiced, a dispute's reason in the customer's words) are sealed at
the edge (``voiceledger ingest``, ``produce_events``) with a key of the subscriber's own, and
erasure deletes the key: every copy in the events topic, in the accounts changelog, on the
status topic and in dead letters becomes unreadable at once.

A sealed value is the text ``vlseal1:<key id>:<base64(ciphertext | tag)>``, AES-256-GCM-SIV
(RFC 8452) with the account id as associated data (a token copied into another account's
event does not open). Sealing is deterministic: every value of a key is sealed with the same
nonce, so one number under one key always gives the same token. That is what lets the fold
tell a re-sent CDR (same tokens: a duplicate) from a conflicting one without opening anything,
and keeps an account's state identical on every rebuild. GCM-SIV is built for exactly this:
its IV is synthesised from the key, the nonce, the associated data and the text, so a
repeated nonce reveals that two sealed values of one account are equal, nothing more. (No
nonce in the token keeps a CDR small: the pipeline pays for every byte on the broker.)

Rating never needs the key: a sealed CDR carries the first ``route_digits`` digits of the
called number in clear (``callee_route``), and the fold rates on that (``CallDetailRecord.dialled``).
Only the call-log row in ClickHouse opens caller and callee. After an erasure the worker writes
that row anonymised, in exactly the form ``subscriber erase`` gives existing rows, so a rebuild
still equals the live state.

Key store: a directory (setting ``subscriber_keys_dir``) with one sub-directory per account,
named by a hash of the account id. ``current`` holds the key id and 32 random bytes (the
AES-256 key), created atomically (two ingest processes agree on one key). Erasure deletes it and
leaves ``ERASED``. An opener that finds ``ERASED`` and not the token's key reports the value
erased; one that finds neither reports it unreadable, so a store that was not shared with the
worker shows up as dead letters, never as silently anonymised call logs. In production the
store is a KMS or Vault holding the same keys; this class is the only thing that changes.
Deleting a file does not scrub the disk under it: put the directory on encrypted storage.

Epochs (R31: after five years a CDR's numbers must be gone from the log too). A CDR's caller
and callee are sealed with a key derived from the subscriber's key and the secret of the UTC
month the call started in (HKDF-SHA256): the token's key id is ``<subscriber key id>.<YYYYMM>``.
The month secrets live once for the whole store, in ``epochs/``. ``retention apply`` destroys
the secrets of the months it drops from ClickHouse and records the first month kept in
``EXPIRED_BEFORE``: every older CDR in Kafka then stays sealed for good, whoever holds the
subscriber's key. An opener reports such a value as gone (like an erasure: the call-log row is
written anonymised, the charge stays), not as unreadable. An account's own numbers
(``AccountOpened``) are sealed with the subscriber's key alone: they live as long as the account.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from projections.dialling import mark_of
from projections.events import (SEALED_PREFIX, AccountDetailsChanged, AccountOpened, CallDetailRecord, DisputeOpened,
                                is_sealed)

NONCE = bytes(12)  # one nonce for every value: deterministic on purpose (see above)
TAG_BYTES = 16
OPENED_MAX = 100_000  # opened values an Opener keeps (a few MB), see Opener._opened
KEYS_CACHED_MAX = 100_000  # (account, month) keys a Sealer keeps (~40 MB at most)
KEY_FILE = "current"
ERASED_MARK = "ERASED"
EPOCHS_DIR = "epochs"  # one secret per UTC month of call start, shared by every subscriber
EXPIRED_MARK = "EXPIRED_BEFORE"  # YYYYMM: the secrets of the months before it were destroyed
MAX_ROUTE_DIGITS = 6  # more would keep a number-like run in clear (the erasure check looks for 7)


class SealError(ValueError):
    """A sealed value that cannot be opened although its subscriber was never erased: a key
    store not shared with the sealing side, or a corrupt or tampered token."""


class SubscriberKeys:
    """The key store: one key per subscriber (account), created on first use, deleted on erasure."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        # The store's path as text: a worker checks an active subscriber's key file once per
        # Opener.ttl_s, and os.path.join of a Path cost ~1 us of the ~5 us a check takes.
        self._root = os.fspath(self.directory)

    def _key_directory(self, account_id: str) -> str:
        return f"{self._root}/{_dir_name(account_id)}"

    def _dir(self, account_id: str) -> Path:
        # A hash, not the id: account ids are not file names, and the tree lists no customers.
        return self.directory / _dir_name(account_id)

    @staticmethod
    def _parse(text: str) -> tuple[str, bytes]:
        """(id, 32 bytes) of a key file's text. A file that is not one (cut short, overwritten)
        is a ``SealError``: the values it seals are dead-lettered, never a worker stopped."""
        key_id, _, material = text.strip().partition(" ")
        try:
            key = base64.b64decode(material, validate=True)
        except (ValueError, binascii.Error):
            key = b""
        if not key_id or len(key) != 32:
            raise SealError(f"a key file in the key store is not a key ({len(text)} characters): restore it "
                            "from the store's backup")
        return key_id, key

    @classmethod
    def _created_once(cls, path: Path) -> tuple[str, bytes]:
        """The (id, 32 bytes) in ``path``, created with fresh ones if there is none: atomically,
        so two processes sealing at once agree on one."""
        text = _read_small(str(path))
        if text is not None:
            return cls._parse(text)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_id = secrets.token_hex(4)
        tmp = path.parent / f".{path.name}.{key_id}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{key_id} {base64.b64encode(secrets.token_bytes(32)).decode()}\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic, and refuses if another process made one first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return cls._parse(_read_small(str(path)) or "")

    def current(self, account_id: str) -> tuple[str, bytes]:
        """The subscriber's key (id, 32 bytes), created if there is none (a new one after an
        erasure: later events are sealed again, old tokens stay unreadable)."""
        return self._created_once(self._dir(account_id) / KEY_FILE)

    def for_month(self, account_id: str, epoch: str, epochs: dict[str, bytes] | None = None) -> tuple[str, bytes]:
        """The key a CDR of UTC month ``epoch`` (YYYYMM) is sealed with: (id, 32 bytes).
        ``epochs``: the caller's cache of month secrets, emptied as it empties its keys."""
        key_id, master = self.current(account_id)
        return f"{key_id}.{epoch}", _derive(master, self._sealing_secret(epoch, epochs), epoch)

    def _sealing_secret(self, epoch: str, epochs: dict[str, bytes] | None) -> bytes:
        """The secret of month ``epoch``, made if there is none; ``SealError`` past retention.
        Read once per cache, not once per subscriber (the receiver loads every calling
        subscriber's key again each ``Sealer.ttl_s``: two file reads of the three were these)."""
        if epochs is not None and epoch in epochs:
            return epochs[epoch]
        if epoch < self.expired_before():
            raise SealError(f"month {epoch} is past retention: its secret was destroyed, nothing is sealed with it")
        _, secret = self._created_once(self.directory / EPOCHS_DIR / epoch)
        if epochs is not None:
            epochs[epoch] = secret
        return secret

    def expired_before(self) -> str:
        try:
            return (self.directory / EXPIRED_MARK).read_text().strip()
        except FileNotFoundError:
            return ""

    def expire_before(self, epoch: str) -> list[str]:
        """R31: destroy the secrets of the months before ``epoch`` (YYYYMM); returns them. The
        mark first: an opener that misses a secret must know it was destroyed, not lost."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if epoch > self.expired_before():
            (self.directory / EXPIRED_MARK).write_text(epoch + "\n")
        destroyed = []
        for path in sorted((self.directory / EPOCHS_DIR).glob("[0-9]" * 6)):
            if path.name < epoch:
                path.unlink()
                destroyed.append(path.name)
        return destroyed

    def key(self, account_id: str, key_id: str, epochs: dict[str, bytes | None] | None = None) -> bytes | None:
        """The key a token names; None when the subscriber was erased or the token's month is
        past retention. Raises ``SealError`` when the key is not here otherwise. ``epochs``: the
        caller's cache of month secrets (None: past retention), which it empties as it empties
        its keys (``Opener.refresh``)."""
        return self.key_stamped(account_id, key_id, epochs)[0]

    def key_stamped(self, account_id: str, key_id: str,
                    epochs: dict[str, bytes | None] | None = None) -> tuple[bytes | None, tuple[int, ...] | None]:
        """``key``, and the ``stamp`` of the very key file it was read from (None: none was)."""
        epoch = _month_of(account_id, key_id)
        master, stamp = self._master(account_id, key_id.partition(".")[0])
        if master is None or not epoch:
            return master, stamp
        secret = self._epoch_secret(epoch, epochs)
        return (None if secret is None else _derive(master, secret, epoch)), stamp

    def month_secret(self, account_id: str, key_id: str, epochs: dict[str, bytes | None] | None = None) -> bytes | None:
        """The secret of the month a key id names (``<id>.<YYYYMM>``): None past retention, and
        ``b""`` for a key of the subscriber alone (no month)."""
        epoch = _month_of(account_id, key_id)
        return self._epoch_secret(epoch, epochs) if epoch else b""

    def stamp(self, account_id: str) -> tuple[int, ...] | None:
        """What changes when the subscriber's key file does: (device, inode, size, modified and
        changed times in ns); None when there is none (erased, or never made). A new key is a new
        file (``os.link`` above), so its inode differs even where its times would not; a file
        restored over it changes its change time, which no one can set. A stat costs ~2 us;
        reading the key, deriving its month's key and setting up the cipher ~20."""
        try:
            return _stamp_of(os.stat(f"{self._key_directory(account_id)}/{KEY_FILE}"))
        except FileNotFoundError:
            return None

    def _epoch_secret(self, epoch: str, epochs: dict[str, bytes | None] | None) -> bytes | None:
        """The secret of month ``epoch``; None past retention (remembered in ``epochs`` if given:
        the same for every subscriber, read once instead of once per subscriber)."""
        if epochs is not None and epoch in epochs:
            return epochs[epoch]
        if epoch < self.expired_before():
            secret = None
        else:
            text = _read_small(os.path.join(self.directory, EPOCHS_DIR, epoch))
            if text is None:
                raise SealError(f"no secret for month {epoch} in {self.directory} (is subscriber_keys_dir the store "
                                "the sealing side used?)")
            _, secret = self._parse(text)
        if epochs is not None:
            epochs[epoch] = secret
        return secret

    def _master(self, account_id: str, key_id: str) -> tuple[bytes | None, tuple[int, ...] | None]:
        """The subscriber's key of id ``key_id`` (None: erased) and its file's stamp."""
        # os.open, not pathlib: a worker reads every active subscriber's key once per Opener.ttl_s,
        # and pathlib costs a third of a cold open (26 us with it, 17 without).
        directory = self._key_directory(account_id)
        text, stamp = _read_stamped(f"{directory}/{KEY_FILE}")
        current_id, material = self._parse(text) if text is not None else ("", b"")
        if current_id == key_id:
            return material, stamp
        if os.path.exists(f"{directory}/{ERASED_MARK}"):
            return None, None
        raise SealError(f"no key {key_id} for account {account_id} in {self.directory} "
                        "(is subscriber_keys_dir the store the sealing side used?)")

    def erase(self, account_id: str, reference: str = "") -> bool:
        """Crypto-shred the subscriber: mark them erased, then delete their key. Returns whether
        a key was deleted. Idempotent."""
        directory = self._dir(account_id)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The mark first: a worker that misses the key must find it (else: dead letters).
        (directory / ERASED_MARK).write_text(reference + "\n")
        try:
            (directory / KEY_FILE).unlink()
            return True
        except FileNotFoundError:
            return False


def _month_of(account_id: str, key_id: str) -> str:
    """The month (YYYYMM) a key id names, "" for none. Raises ``SealError`` for one that is not
    YYYYMM: the month names a file under epochs/, and comes from a token off the log."""
    epoch = key_id.partition(".")[2]
    if epoch and not (len(epoch) == 6 and epoch.isascii() and epoch.isdigit()):
        raise SealError(f"malformed month {epoch[:20]!r} in a sealed value of account {account_id}")
    return epoch


def _dir_name(account_id: str) -> str:
    return hashlib.sha256(account_id.encode()).hexdigest()[:32]


KEY_FILE_MAX = 4_096  # a key file is ~55 bytes; a larger one is read no further than this


def _read_small(path: str) -> str | None:
    """The text of a small file, None if there is none; at most ``KEY_FILE_MAX`` bytes of it."""
    return _read(path, stamped=False)[0]


def _read_stamped(path: str) -> tuple[str | None, tuple[int, ...] | None]:
    """``_read_small``, and the stamp of the file read (its fstat: no second path lookup, and
    no other file than the one read)."""
    return _read(path, stamped=True)


def _read(path: str, stamped: bool) -> tuple[str | None, tuple[int, ...] | None]:
    # Stamped only where a key is kept past its ttl (Opener): an fstat costs ~1.4 us, and the
    # other reads (month secrets, the sealer's keys) would pay it for nothing.
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None, None
    try:
        # a bad byte fails the parse, not the worker
        return os.read(fd, KEY_FILE_MAX).decode("utf-8", "replace"), _stamp_of(os.fstat(fd)) if stamped else None
    finally:
        os.close(fd)


def _stamp_of(st: os.stat_result) -> tuple[int, ...]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _derive(master: bytes, secret: bytes, epoch: str) -> bytes:
    """The key of one subscriber and one month: neither alone opens the month's tokens."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=secret, info=b"voiceledger-epoch:" + epoch.encode()
                ).derive(master)


def epoch_of(at_ms: int) -> str:
    """The UTC month (YYYYMM) of a time: the month ClickHouse partitions the call log by."""
    day = datetime.fromtimestamp(at_ms // 1000, tz=timezone.utc)
    return f"{day.year:04d}{day.month:02d}"


def sealer_for(settings) -> Sealer | None:  # noqa: ANN001 - streams.config.settings.Settings
    """The edge's sealer, or None when ``seal_personal_data`` is off."""
    if not settings.seal_personal_data:
        return None
    return Sealer(SubscriberKeys(settings.subscriber_keys_dir), settings.route_digits, settings.country_code)


def opener_for(settings) -> Opener:  # noqa: ANN001 - streams.config.settings.Settings
    """Readers open sealed values whatever ``seal_personal_data`` says now (it may have been on)."""
    return Opener(SubscriberKeys(settings.subscriber_keys_dir))


def _cipher(material: bytes) -> AESGCMSIV:
    return AESGCMSIV(material)


def route_of(number: str, digits: int, country_code: str = "1") -> str:
    """The leading part of a called number kept in clear for rating: its international or
    national mark in the country's dialling plan (``+``, ``00``, ``011`` in North America,
    ``0``) and then ``digits`` digits."""
    s = number.strip()
    return s[:len(mark_of(s, country_code)) + digits]


class Sealer:
    """The sealing side (the edge that puts events on the log). Keys are cached for ``ttl_s`` at
    most, as the ``Opener``'s are, and ``KEYS_CACHED_MAX`` of them: the receiver and ``ingest
    --follow`` run for months, and must see an erasure (the next calls sealed with a new key, which
    the worker opens) and a month past retention within seconds, with bounded memory."""

    def __init__(self, keys: SubscriberKeys, route_digits: int, country_code: str = "1", ttl_s: float = 30.0) -> None:
        if not 1 <= route_digits <= MAX_ROUTE_DIGITS:
            raise ValueError(f"route_digits must be 1..{MAX_ROUTE_DIGITS}, not {route_digits}")
        self.keys = keys
        self.route_digits = route_digits
        self.country_code = country_code  # the dialling plan the route's mark is read in
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[str, AESGCMSIV]] = {}
        self._epochs: dict[str, bytes] = {}  # month secrets, read once until forget()
        self._expired_before: str | None = None  # read once until forget()
        self._loaded_at = time.monotonic()

    def seal(self, account_id: str, value: str, epoch: str = "") -> str:
        """``value`` sealed with the subscriber's key, or with their key of month ``epoch``."""
        if is_sealed(value):
            return value  # sealed once, at the first edge
        key_id, aead = self._key(account_id, epoch)
        body = aead.encrypt(NONCE, value.encode(), account_id.encode())
        return f"{SEALED_PREFIX}{key_id}:{binascii.b2a_base64(body, newline=False).decode()}"

    def _key(self, account_id: str, epoch: str) -> tuple[str, AESGCMSIV]:
        if time.monotonic() - self._loaded_at >= self.ttl_s or len(self._cache) >= KEYS_CACHED_MAX:
            self.forget()
        cached = self._cache.get((account_id, epoch))
        if cached is None:
            key_id, material = (self.keys.for_month(account_id, epoch, self._epochs) if epoch
                                else self.keys.current(account_id))
            cached = self._cache[(account_id, epoch)] = (key_id, _cipher(material))
        return cached

    def check(self, cdr: CallDetailRecord) -> None:
        """Raise ``SealError`` if ``cdr`` cannot be sealed (its key file is not a key), before it
        is sent: a file's CDR is then refused on its own, and the file goes on."""
        self._key(cdr.account_id, epoch_of(cdr.start_at_ms))

    def seal_event(self, event):  # noqa: ANN001, ANN201 - any account event
        """The event with its personal fields sealed; other events as they are."""
        if isinstance(event, CallDetailRecord) and not is_sealed(event.callee):
            epoch = epoch_of(event.start_at_ms)
            return replace(event, caller=self.seal(event.account_id, event.caller, epoch) if event.caller else "",
                           callee=self.seal(event.account_id, event.callee, epoch),
                           callee_route=route_of(event.callee, self.route_digits, self.country_code))
        if isinstance(event, AccountOpened):
            event = replace(event, numbers=tuple(self.seal(event.account_id, n) for n in event.numbers))
        if isinstance(event, (AccountOpened, AccountDetailsChanged)):
            # Who is invoiced is personal too (R32): sealed like the numbers, shredded with the key.
            return replace(event, **{f: self._sealed(event.account_id, getattr(event, f)) for f in CUSTOMER_FIELDS})
        if isinstance(event, DisputeOpened) and event.reason:
            # R32: the customer's own words may name anyone; shredded with their key like their name.
            return replace(event, reason=self._sealed(event.account_id, event.reason))
        return event

    def _sealed(self, account_id: str, value: str) -> str:
        return self.seal(account_id, value) if value and not is_sealed(value) else value

    def past_retention(self, cdr: CallDetailRecord) -> bool:
        """R31: the call's month is past retention; it can no longer be sealed, nor put on the log."""
        if self._expired_before is None:
            self._expired_before = self.keys.expired_before()
        return epoch_of(cdr.start_at_ms) < self._expired_before

    def seal_events(self, events: Iterable) -> list:
        return [self.seal_event(e) for e in events]

    def forget(self) -> None:
        """Drop cached keys (also between files, so an erasure holds for the next one)."""
        self._cache.clear()
        self._epochs.clear()
        self._expired_before = None
        self._loaded_at = time.monotonic()


def sealed_length(token: str) -> int:
    """The length of the sealed text (GCM-SIV does not pad: ciphertext = text + tag)."""
    body = binascii.a2b_base64(token.rsplit(":", 1)[1])
    return len(body) - TAG_BYTES


def anonymised_callee(destination_prefix: str, length: int) -> str:
    """The called number as ``subscriber erase`` leaves it in ClickHouse: the prefix the call
    was rated at, then one ``*`` for each further character (``streams/clickhouse/privacy.py``)."""
    return destination_prefix + "*" * max(0, length - len(destination_prefix))


CUSTOMER_FIELDS = ("customer_name", "billing_address", "customer_tax_id")


class _ByAccount:
    """What an opener keeps, by account and then by key id or token, at most ``limit`` entries:
    past that it starts again empty (its values can all be read again). An erasure drops one
    account's entries at once; keyed by (account, x), that was a scan of every entry (~28 ms an
    erasure with 100k subscribers held, so a bulk erasure stalled its partition)."""

    __slots__ = ("of", "n", "limit")

    def __init__(self, limit: int) -> None:
        self.of: dict[str, dict[str, Any]] = {}  # read directly on the hot path (Opener.open)
        self.n = 0
        self.limit = limit

    def put(self, account_id: str, key: str, value: Any) -> None:
        mine = self.of.get(account_id)
        if mine is None or key not in mine:
            if self.n >= self.limit:
                self.clear()
                mine = None
            if mine is None:
                mine = self.of[account_id] = {}
            self.n += 1
        mine[key] = value

    def discard(self, account_id: str, key: str) -> None:
        mine = self.of.get(account_id)
        if mine is not None and key in mine:
            del mine[key]
            self.n -= 1

    def forget(self, account_id: str) -> None:
        self.n -= len(self.of.pop(account_id, ()))

    def clear(self) -> None:
        self.of.clear()
        self.n = 0


class Opener:
    """The reading side (the worker, the CLI). Keys are used for ``ttl_s`` at most without a
    look at the store (reading one costs ~20 us; a batch touches thousands of accounts); after
    that, a key is used again once a stat shows its file unchanged (``_load``), and a subscriber's
    key leaves the cache as soon as the worker folds their erasure (``forget``). A key deleted by
    ``subscriber erase`` may so be used for up to ``ttl_s`` more: every row opened meanwhile was
    inserted before the worker folds the logged erasure, which anonymises the rows again
    (``streams/worker/processor.py``: ``BatchResult.erased``)."""

    def __init__(self, keys: SubscriberKeys, ttl_s: float = 30.0) -> None:
        self.keys = keys
        self.ttl_s = ttl_s
        self._ciphers = _ByAccount(KEYS_CACHED_MAX)  # (account, key id) -> cipher, None if erased (~2.9 KB each)
        # Month secrets (None: past retention), shared by every subscriber's key of that month:
        # read once per ttl_s, not once per subscriber (a batch loads thousands of keys).
        self._epochs: dict[str, bytes | None] = {}
        # Opened values by account and token: a caller's number repeats on every call, and tokens
        # are deterministic. Emptied with the keys (ttl_s, forget), so an erasure reaches it too.
        self._opened = _ByAccount(OPENED_MAX)
        # Keys that outlive a refresh (issue 22): (account, key id) -> (the key file's stamp, the
        # month's secret, the derived key). Past ``ttl_s`` a key is read again only if a stat
        # shows its file changed or its month's secret is gone: most subscribers call less often
        # than every ttl_s, and a full reload cost each of their calls ~20 us. An erasure or a
        # new key still reaches the opener within ttl_s, as before. The key's 32 bytes are kept,
        # not its cipher (~2.9 KB each: ~290 MB at KEYS_CACHED_MAX; setting one up costs ~1.7 us).
        self._kept = _ByAccount(KEYS_CACHED_MAX)
        self._loaded_at = time.monotonic()

    def open(self, account_id: str, value: str) -> str | None:
        """The clear text; the value itself when it is not sealed; None when the subscriber was
        erased. Raises ``SealError`` for a token that cannot be opened otherwise."""
        if not value.startswith(SEALED_PREFIX):
            return value
        mine = self._opened.of.get(account_id)
        if mine is not None:
            opened = mine.get(value)
            if opened is not None:
                return opened
        try:
            key_id, b64 = value[len(SEALED_PREFIX):].split(":", 1)
            body = binascii.a2b_base64(b64)
        except (ValueError, binascii.Error):
            raise SealError(f"malformed sealed value for account {account_id}") from None
        ciphers = self._ciphers.of.get(account_id)
        aead = ciphers[key_id] if ciphers is not None and key_id in ciphers else self._load(account_id, key_id)
        if aead is None:
            return None
        try:
            opened = aead.decrypt(NONCE, body, account_id.encode()).decode()
        except (InvalidTag, ValueError, UnicodeDecodeError):
            raise SealError(f"a sealed value of account {account_id} does not open with its key {key_id} "
                            "(tampered, or sealed for another account)") from None
        self._opened.put(account_id, value, opened)
        return opened

    def _load(self, account_id: str, key_id: str) -> AESGCMSIV | None:
        """The cipher of a key not used since the last refresh (None: erased or past retention):
        the one kept from before while its file and its month's secret are unchanged, else read."""
        mine = self._kept.of.get(account_id)
        kept = mine.get(key_id) if mine is not None else None
        if (kept is not None and kept[0] == self.keys.stamp(account_id)
                and kept[1] == self.keys.month_secret(account_id, key_id, self._epochs)):
            aead = _cipher(kept[2])  # still what the store holds: it stays kept as it is
        else:
            material, stamp = self.keys.key_stamped(account_id, key_id, self._epochs)
            aead = None if material is None else _cipher(material)
            if material is None or stamp is None:
                self._kept.discard(account_id, key_id)
            else:
                self._kept.put(account_id, key_id, (stamp, self.keys.month_secret(account_id, key_id, self._epochs),
                                                    material))
        self._ciphers.put(account_id, key_id, aead)
        return aead

    def refresh(self) -> None:
        """Drop every cached key once ``ttl_s`` has passed (called at the start of a batch); a
        key whose file is unchanged is then taken back from ``_kept`` at its next use."""
        if time.monotonic() - self._loaded_at >= self.ttl_s:
            self._drop_ciphers()
            self._loaded_at = time.monotonic()

    def _drop_ciphers(self) -> None:
        self._ciphers.clear()
        self._epochs.clear()
        self._opened.clear()

    def forget(self, account_id: str | None = None) -> None:
        """Drop one subscriber's cached keys (their erasure was folded), or all."""
        if account_id is None:
            self._drop_ciphers()
            self._kept.clear()
            return
        for cache in (self._ciphers, self._kept, self._opened):
            cache.forget(account_id)

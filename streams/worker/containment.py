"""The last line of containment: one record can never stop a partition.

Every check the ledger knows of runs before this (bounds, validation, the fold's own rejections:
each gives a dead letter with its reason). If folding a batch part still raises, the part is cut
in halves, and the halves in halves, until the one message that fails is found; in an envelope,
its events are then folded one by one to find the one event. That message or event becomes a
dead letter (``unprocessable``, with the exception as the reason) and everything around it is
folded as usual, each half starting from the states the half before it left.

Only the fold and the encoding of its states are retried this way. They are deterministic: the
same record fails the same way on a replay and on a rebuild, so the dead letter is the same and
the rebuild still equals the live state. Writes are not: a broker or ClickHouse that fails is the
world's fault, not the record's, and the worker exits for a replay (``streams/worker/exits.py``);
so does a failure of the process that opens sealed numbers (``OpeningFailed``).
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

from projections.account import AccountState
from schemas.codec import EventCodec
from streams.worker.opening import OpeningFailed
from streams.worker.processor import BatchProcessor, BatchResult, InMessage

log = logging.getLogger("voiceledger.worker")

REASON_CHARS_MAX = 1_000
_ABSENT = object()


class _Part:
    """What the halves share: the processor, and the states folded so far in this part."""

    def __init__(self, processor: BatchProcessor, codec: EventCodec, load_state: Callable[[str], AccountState | None],
                 ticked_accounts: Callable[[int], Iterable[str]]) -> None:
        self.processor, self.codec = processor, codec
        self._load_state, self._ticked = load_state, ticked_accounts
        self.overlay: dict[str, AccountState] = {}  # states folded by earlier halves, not yet written
        self.results: list[BatchResult] = []

    def load(self, account_id: str) -> AccountState | None:
        state = self.overlay.get(account_id, _ABSENT)
        return self._load_state(account_id) if state is _ABSENT else state  # type: ignore[return-value]

    def ticked(self, at_ms: int) -> list[str]:
        return [*self._ticked(at_ms), *self.overlay]

    def attempt(self, messages: list[InMessage]) -> BatchResult:
        result = self.processor.process(messages, self.load, self.ticked)
        result.encode_states(self.codec)
        return result

    def keep(self, result: BatchResult) -> None:
        self.overlay.update(result.states)
        self.results.append(result)


def fold_contained(processor: BatchProcessor, codec: EventCodec, messages: list[InMessage],
                   load_state: Callable[[str], AccountState | None],
                   ticked_accounts: Callable[[int], Iterable[str]]) -> BatchResult:
    """``processor.process`` and the states' encoding, for a part that never raises because of
    one record: a record whose fold fails is a dead letter instead. Its states are encoded."""
    part = _Part(processor, codec, load_state, ticked_accounts)
    _fold(part, messages)
    return BatchResult.merged(part.results)


def _fold(part: _Part, messages: list[InMessage]) -> None:
    try:
        part.keep(part.attempt(messages))
        return
    except OpeningFailed:  # the opening process, not a record: the worker ends for a replay
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the fold is narrowed down below
        if len(messages) == 1:
            _fold_one(part, messages[0], exc)
            return
    middle = len(messages) // 2
    _fold(part, messages[:middle])
    _fold(part, messages[middle:])


def _fold_one(part: _Part, msg: InMessage, exc: Exception) -> None:
    """One message whose fold failed: an envelope's events one by one, else the message itself."""
    try:
        events, enveloped = part.codec.decode_message(msg.value) if msg.value is not None else ([], False)
    except Exception:  # noqa: BLE001 - undecodable (DecodeError or worse): the message itself is the record
        events, enveloped = [], False
    if not enveloped or len(events) < 2:
        _unprocessable(part, msg, msg.first_index, exc, msg.value or b"")
        return
    for index, event in enumerate(events, start=msg.first_index):
        single = InMessage(msg.topic, msg.partition, msg.offset, msg.timestamp_ms, part.codec.encode(event), index)
        try:
            part.keep(part.attempt([single]))
        except OpeningFailed:
            raise
        except Exception as event_exc:  # noqa: BLE001 - this event is the record that fails
            _unprocessable(part, single, index, event_exc, single.value or b"")


def _unprocessable(part: _Part, msg: InMessage, index: int, exc: Exception, original: bytes) -> None:
    reason = f"folding it failed: {type(exc).__name__}: {exc}"[:REASON_CHARS_MAX]
    log.error("dead-lettering %s/%d/%d/%d: %s", msg.topic, msg.partition, msg.offset, index, reason)
    part.results.append(part.processor.rejected(msg, index, "unprocessable", reason, original))

"""The invoice numbering stage's state, in records of bounded size.

At a month's close every account issues its invoice at the same tick, and each draft waits in
the stage's state until every events partition has passed that tick (``projections/numbering.py``).
In one record, ~80k drafts of long account ids pass the 8 MiB a record may have
(``streams/kafka/topics.py``: ``RECORD_BYTES_MAX``): the state could not be written, and the
stage would stop at every restart. So the head record, under ``state``, holds the first
``numbering_record_drafts`` (default ``DRAFTS_PER_RECORD``) drafts, and the others are in records
of as many, under ``drafts/<slot>/<i>``.

Written so that a worker killed at any point restarts from a whole state: the head names the
slot its draft records are in, and a batch writes its draft records under the *other* slot and
waits for the broker's acks before the head that names them goes out with the batch's outputs
(``BatchCommit``). Killed before that head, the worker restarts from the old head, whose records
are untouched. After the head, every draft key it does not name is deleted. A state that fits
one record is written as before: the head alone.
"""

from __future__ import annotations

from typing import Any

from projections import numbering
from schemas.codec import EventCodec
from streams.worker.commit import StateStore

STATE_KEY = b"state"
DRAFT_KEY_PREFIX = b"drafts/"
# A draft is ~55-110 bytes with ordinary ids and at most ~2.1 KB (ids of 1,024 characters),
# so a record of 2,000 stays under 4.3 MB (tests/unit/test_numbering_store.py).
DRAFTS_PER_RECORD = 2_000


def draft_key(slot: int, index: int) -> bytes:
    return DRAFT_KEY_PREFIX + b"%d/%d" % (slot, index)


class StateIncomplete(RuntimeError):
    """The head names a draft record the table does not have: the changelog lost it."""


class NumberingStore:
    """Loads the stage's state from its table and makes the records a batch writes."""

    def __init__(self, codec: EventCodec, table: Any, states: StateStore, per_record: int = DRAFTS_PER_RECORD) -> None:
        self.codec = codec
        self.per_record = per_record
        self.table = table  # the numbering table: bytes keys, encoded records
        self.states = states  # where records are written (the batch commit's state store)
        self.slot = 0  # the slot the head last loaded names

    def load(self) -> numbering.NumberingState | None:
        raw = self.table.get(STATE_KEY)
        if raw is None:
            return None
        state, records, self.slot = self.codec.decode_numbering_state(raw)
        for index in range(records):
            value = self.table.get(draft_key(self.slot, index))
            if value is None:
                raise StateIncomplete(f"the numbering state names draft record {index} of slot {self.slot}, "
                                      f"which is not in its table")
            self.codec.decode_numbering_drafts(value, state)
        return state

    async def records(self, state: numbering.NumberingState) -> list[tuple[bytes, bytes | None]]:
        """Writes the draft records beyond the head's and waits for their acks; returns what the
        batch's commit writes after its outputs: the head, then the deletions of stale draft keys."""
        drafts = numbering.drafts_of(state)
        n = self.per_record
        head, rest = drafts[:n], drafts[n:]
        chunks = [rest[i:i + n] for i in range(0, len(rest), n)]
        slot = 1 - self.slot if chunks else 0
        named = [draft_key(slot, index) for index in range(len(chunks))]
        for key, chunk in zip(named, chunks):
            self.states.put(key, self.codec.encode_numbering_drafts(chunk))
        if chunks:
            await self.states.flush()  # on the broker before any head names them
        keep = set(named)
        stale = sorted(k for k in self.table.keys() if k.startswith(DRAFT_KEY_PREFIX) and k not in keep)
        head_value = self.codec.encode_numbering_state(state, head, len(chunks), slot)
        return [(STATE_KEY, head_value), *((key, None) for key in stale)]

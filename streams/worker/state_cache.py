"""The accounts table read as decoded ``AccountState``s, with the decoded form kept.

A state record holds up to ``dedup_max_keys`` dedup keys, so decoding one costs ~80 us. The
worker wrote most of the records it reads, so it keeps their decoded form by the exact bytes
object they came from (or were encoded to) instead of decoding its own output again (~10% of a
batch). Identity, not equality: a record recovered from the changelog is a new object and is
decoded. The fold never mutates the state it is given (``projections/account.py``: fold_batch
works on private copies), so sharing a decoded state is safe; the authorization process keeps its
own decoded copies (``streams/authorization/mirror.py``).
"""

from __future__ import annotations

from typing import Any

from projections.account import AccountState
from schemas.codec import EventCodec

# Decoded states kept; past this many the cache starts again empty. A decoded state costs a
# few KB (its dedup keys), so this bounds the cache at a few GB.
DECODED_STATES_MAX = 500_000


class AccountStates:
    def __init__(self, table: Any, codec: EventCodec, max_decoded: int = DECODED_STATES_MAX) -> None:
        self.table = table  # account id (bytes) -> encoded AccountState
        self.codec = codec
        self.max_decoded = max_decoded
        self._decoded: dict[str, tuple[bytes, AccountState]] = {}  # account -> (state bytes, decoded)

    def load(self, account_id: str) -> AccountState | None:
        raw = self.table.get(account_id.encode())
        if raw is None:
            return None
        hit = self._decoded.get(account_id)
        if hit is not None and hit[0] is raw:
            return hit[1]
        state = self.codec.decode_state(raw)
        self.remember(account_id, raw, state)
        return state

    def remember(self, account_id: str, raw: bytes, state: AccountState) -> None:
        if len(self._decoded) >= self.max_decoded:
            self._decoded.clear()
        self._decoded[account_id] = (raw, state)

    def account_ids(self, partition: int) -> list[str]:
        """The accounts in the table. It holds those of this worker's partitions; a tick of one
        partition reaches those of that partition (the processor checks each one's partition)."""
        return [key.decode() for key in self.table.keys()]

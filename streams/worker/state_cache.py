"""The accounts table read as decoded ``AccountState``s, with the decoded form kept.

The worker wrote most of the records it reads, so it keeps their decoded form by the exact bytes
object they came from or were encoded to (``schemas/decoded.py``) instead of decoding its own
output again (~10% of a batch). The fold never mutates the state it is given
(``projections/account.py``: fold_batch works on private copies), so sharing a decoded state is
safe; the authorization process keeps its own decoded copies (``streams/authorization/mirror.py``).
"""

from __future__ import annotations

from typing import Any

from projections.account import AccountState
from schemas.codec import EventCodec
from schemas.decoded import DECODED_STATES_MAX, DecodedStates


class AccountStates:
    def __init__(self, table: Any, codec: EventCodec, max_decoded: int = DECODED_STATES_MAX) -> None:
        self.table = table  # account id (bytes) -> encoded AccountState
        self.codec = codec
        self._decoded = DecodedStates(codec, max_decoded)

    def load(self, account_id: str) -> AccountState | None:
        raw = self.table.get(account_id.encode())
        return None if raw is None else self._decoded.decode(account_id, raw)

    def remember(self, account_id: str, raw: bytes, state: AccountState) -> None:
        self._decoded.remember(account_id, raw, state)

    def account_ids(self, partition: int) -> list[str]:
        """The accounts in the table. It holds those of this worker's partitions; a tick of one
        partition reaches those of that partition (the processor checks each one's partition)."""
        return [key.decode() for key in self.table.keys()]

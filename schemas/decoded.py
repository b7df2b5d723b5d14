"""Decoded account states kept by the exact bytes they were decoded from (or encoded to).

A state record holds up to ``dedup_max_keys`` dedup keys, so decoding one costs ~80 us. A reader
that sees the same bytes object again (the worker reading its own writes, the authorization
process answering for an account between two batches) takes the decoded form instead.
Identity, not equality: a record that arrives again is a new object and is decoded again.
"""

from __future__ import annotations

from projections.account import AccountState
from schemas.codec import EventCodec

# Decoded states kept; past this many the memory starts again empty. A decoded state costs a
# few KB (its dedup keys), so this bounds it at a few GB.
DECODED_STATES_MAX = 500_000


class DecodedStates:
    def __init__(self, codec: EventCodec, max_decoded: int = DECODED_STATES_MAX) -> None:
        self.codec, self.max_decoded = codec, max_decoded
        self._decoded: dict[str, tuple[bytes, AccountState]] = {}  # account -> (state bytes, decoded)

    def decode(self, account_id: str, raw: bytes) -> AccountState:
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

    def forget(self, account_id: str) -> None:
        self._decoded.pop(account_id, None)

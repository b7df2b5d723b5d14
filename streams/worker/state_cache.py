"""The accounts table read as decoded ``AccountState``s, with the decoded form kept, and which
accounts a tick can change.

The worker wrote most of the records it reads, so it keeps their decoded form by the exact bytes
object they came from or were encoded to (``schemas/decoded.py``) instead of decoding its own
output again (~10% of a batch). The fold never mutates the state it is given
(``projections/account.py``: fold_batch works on private copies), so sharing a decoded state is
safe; the authorization process keeps its own decoded copies (``streams/authorization/mirror.py``).

A tick reaches every account of its partition, and almost every account has nothing to do until
its next month starts. So each state read or written is asked once when a tick can next matter
to it (``tick_quiet_until``), kept by the exact bytes object as the decoded form is: a record
restored or written again is a new object and is asked again, so the index is never older than
the table (a partition that left this worker and came back included). What it keeps of states the
table let go of is dropped once it passes a tenth of the table, so a revoked partition's records
are not kept alive here.
"""

from __future__ import annotations

from typing import Any, Callable

from projections.account import AccountState
from schemas.codec import EventCodec
from schemas.decoded import DECODED_STATES_MAX, DecodedStates
from streams.observe import metrics

# Accounts whose quiet time is kept (~150 bytes each); past this many it starts again empty, and
# the accounts go through ticks until they are read again.
QUIET_MAX = 4_000_000


class AccountStates:
    def __init__(self, table: Any, codec: EventCodec, quiet_until: Callable[[AccountState], int] = lambda s: 0,
                 max_decoded: int = DECODED_STATES_MAX) -> None:
        self.table = table  # account id (bytes) -> encoded AccountState
        self.codec = codec
        self._decoded = DecodedStates(codec, max_decoded)
        # The time before which a tick changes nothing for a state (0: any tick may).
        self._quiet_until = quiet_until
        self._quiet: dict[bytes, tuple[bytes, int]] = {}  # account id -> (state bytes, quiet until ms)

    def load(self, account_id: str) -> AccountState | None:
        key = account_id.encode()
        raw = self.table.get(key)
        if raw is None:
            return None
        state = self._decoded.decode(account_id, raw)
        known = self._quiet.get(key)
        if known is None or known[0] is not raw:
            self._note_quiet(key, raw, state)
        return state

    def remember(self, account_id: str, raw: bytes, state: AccountState, quiet_until_ms: int | None = None) -> None:
        """``quiet_until_ms``: the state's ``quiet_until``, when the caller has asked it already."""
        self._decoded.remember(account_id, raw, state)
        self._note_quiet(account_id.encode(), raw, state, quiet_until_ms)

    def quiet_until(self, state: AccountState) -> int:
        """The time before which a tick changes nothing for ``state``."""
        return self._quiet_until(state)

    def _note_quiet(self, key: bytes, raw: bytes, state: AccountState, known: int | None = None) -> None:
        if len(self._quiet) >= QUIET_MAX:
            self._quiet.clear()
        self._quiet[key] = (raw, self._quiet_until(state) if known is None else known)

    def forget_quiet(self) -> None:
        """The fold's settings changed (an epoch of an accepted change): every account is ticked
        until its state is asked again with the settings installed now."""
        self._quiet.clear()

    def ticked_accounts(self, at_ms: int) -> list[str]:
        """The accounts in the table a tick dated ``at_ms`` may change: all but those whose state,
        as the table holds it now, is quiet until later. The table holds those of all this
        worker's partitions; a tick of one partition reaches those of that partition (the
        processor checks each one's partition)."""
        table, quiet = self.table, self._quiet
        if len(quiet) > len(table) + len(table) // 10 + 1_000:
            # States the table let go of (a partition revoked) or replaced unread: not kept alive here.
            quiet = self._quiet = {key: known for key, known in quiet.items() if table.get(key) is known[0]}
        known = quiet.get
        out = [key.decode() for key, raw in table.items()
               if (q := known(key)) is None or q[0] is not raw or at_ms >= q[1]]
        metrics.TICK_QUIET_ACCOUNTS.inc(len(table) - len(out))
        return out

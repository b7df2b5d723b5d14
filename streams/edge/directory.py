"""The number directory: who pays for a call the switch wrote no account code for, and which way
the call went.

Most switches leave ``accountcode`` empty; billing systems find the account from the numbers
and the trunk instead. The directory holds, in international digits:

- **the log's numbers**: every account's numbers as the worker folded them (``AccountOpened``,
  less erased and terminated accounts), read from the accounts table's changelog
  (``from_states``), each number read in its own account's dialling plan;
- **a CSV file** (``voiceledger ingest --directory FILE``) of ``number_or_trunk,account_id``
  lines, for a dry run or for numbers not on the log yet: a number in any form the deployment's
  dialling plan reads (``+1 212...``, ``00 32...``, national), or ``trunk:NAME`` for a customer's
  trunk or peer (``SIP/pbx-acme`` as the adapters write it). A CSV line wins over the log.

Who pays (``owner``), in this order (R9: the account charged; R10: its authorization):

1. the switch's ``accountcode``, when it wrote one: that account's outbound call;
2. the **caller's** number: that account's outbound call;
3. the **called** number, rented by an account: an **inbound** call, billed to the number's
   owner at its plan's inbound rate (``inbound_rates``; free when its plan names none);
4. the trunk or peer the call came from: that trunk's account's outbound call.

A call found none of these ways is refused (``unknown_number``), never billed to a guess. A call
between two of the provider's subscribers is the caller's outbound call, free when the callee is
in the provider's own ranges (R3, ``on_net_prefixes``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from projections.account import AccountState
from projections.dialling import international_digits
from projections.events import Direction
from projections.lifecycle import AccountStatus
from streams.edge.cdr import CdrRejected
from streams.edge.sealing import Opener, SealError

TRUNK = "trunk:"
ENTRIES_MAX = 5_000_000  # a directory larger than this is refused: it is held in memory


def _digits(number: str, country_code: str) -> str:
    """A number as people write it (spaces, dashes, dots, brackets) in international digits."""
    return international_digits(number.translate(_SEPARATORS), country_code)


_SEPARATORS = str.maketrans("", "", " -.()")


class DirectoryError(ValueError):
    """The directory file is unreadable or malformed; the message names the file and line."""


class NumberDirectory:
    def __init__(self, entries: dict[str, str], country_code: str) -> None:
        self.entries = entries  # international digits or "trunk:NAME" -> account id
        self.country_code = country_code

    @classmethod
    def from_states(cls, states: Iterable[AccountState], country_code: str,
                    opener: Opener | None = None) -> NumberDirectory:
        """The numbers of every account the worker folded, but terminated ones (their numbers
        are released) and erased ones (R32: none are left in their state). Numbers sealed on
        the log (R32) are opened with the subscriber's key."""
        entries = {}
        for state in states:
            if state.lifecycle.status is AccountStatus.TERMINATED:
                continue
            for sealed in state.numbers:
                try:
                    number = opener.open(state.account_id, sealed) if opener else sealed
                except SealError:
                    number = None
                if number is None:  # the subscriber's key is gone (erased)
                    continue
                digits = _digits(number, state.country_code or country_code)
                if digits.isdigit():
                    entries[digits] = state.account_id
        return cls(entries, country_code)

    @classmethod
    def from_csv(cls, path: str | Path, country_code: str) -> NumberDirectory:
        entries: dict[str, str] = {}
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                for line, row in enumerate(csv.reader(handle), start=1):
                    if not row or row[0].startswith("#"):
                        continue
                    if len(row) != 2 or not row[1].strip():
                        raise DirectoryError(f"{path}:{line}: must be number_or_trunk,account_id")
                    entries[cls._key(row[0], country_code, f"{path}:{line}")] = row[1].strip()
                    if len(entries) > ENTRIES_MAX:
                        raise DirectoryError(f"{path}: more than {ENTRIES_MAX} entries")
        except OSError as exc:
            raise DirectoryError(f"{path}: cannot read the number directory: {exc.strerror}") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DirectoryError(f"{path}: not a CSV number directory in UTF-8: {exc}") from None
        return cls(entries, country_code)

    def overlaid_with(self, other: NumberDirectory | None) -> NumberDirectory:
        """This directory with ``other``'s entries on top (a CSV file over the log's numbers)."""
        return self if other is None else NumberDirectory({**self.entries, **other.entries}, self.country_code)

    @staticmethod
    def _key(text: str, country_code: str, where: str) -> str:
        text = text.strip()
        if text.startswith(TRUNK):
            return text
        digits = _digits(text, country_code)
        if not digits.isdigit():
            raise DirectoryError(f"{where}: {text!r} is neither a number nor trunk:NAME")
        return digits

    def _number(self, number: str) -> str:
        digits = _digits(number, self.country_code) if number else ""
        return self.entries.get(digits, "") if digits else ""

    def owner(self, caller: str, callee: str, trunk: str) -> tuple[str, Direction] | None:
        """Who pays, and the direction (module docstring); None when nobody is found."""
        account = self._number(caller)
        if account:
            return account, Direction.OUTBOUND
        account = self._number(callee)
        if account:
            return account, Direction.INBOUND
        account = self.entries.get(TRUNK + trunk, "") if trunk else ""
        return (account, Direction.OUTBOUND) if account else None


def owner_of(directory: NumberDirectory | None, accountcode: str, caller: str, callee: str, trunk: str,
             what: str) -> tuple[str, Direction]:
    """The account and direction of one record (``what`` names it in a refusal): its account
    code, else the directory's answer. Raises ``CdrRejected``."""
    if accountcode:
        return accountcode, Direction.OUTBOUND
    if directory is None:
        raise CdrRejected("missing_accountcode", f"{what} has no accountcode (the ledger account)")
    found = directory.owner(caller, callee, trunk)
    if found is None:
        raise CdrRejected("unknown_number", f"{what} has no accountcode, and neither its numbers nor its trunk "
                                            "are in the number directory")
    return found

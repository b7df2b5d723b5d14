"""The number directory: whose call a CDR is when the switch wrote no account code.

Most switches leave ``accountcode`` empty; billing systems find the account from the calling
number or from the trunk the call came in on. The directory is a CSV file of
``number_or_trunk,account_id`` lines (``voiceledger ingest --directory FILE``): a number in any
form the deployment's dialling plan reads (``+1 212...``, ``00 32...``, national), or
``trunk:NAME`` for a trunk (``SIP/pbx-acme`` as the adapters write it). A CDR whose caller is
in the directory is that account's outbound call; else one whose trunk is, the trunk's account's.
A CDR found neither way is refused (``unknown_number``), never billed to a guess.

Not built yet: the directory from the log itself (the numbers of ``AccountOpened``) and calls
*to* a rented number billed to its owner (inbound); see issue 18.
"""

from __future__ import annotations

import csv
from pathlib import Path

from projections.dialling import international_digits

TRUNK = "trunk:"
ENTRIES_MAX = 5_000_000  # a directory larger than this is refused: it is held in memory


class DirectoryError(ValueError):
    """The directory file is unreadable or malformed; the message names the file and line."""


class NumberDirectory:
    def __init__(self, entries: dict[str, str], country_code: str) -> None:
        self.entries = entries  # international digits or "trunk:NAME" -> account id
        self.country_code = country_code

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

    @staticmethod
    def _key(text: str, country_code: str, where: str) -> str:
        text = text.strip()
        if text.startswith(TRUNK):
            return text
        digits = international_digits(text.replace(" ", "").replace("-", ""), country_code)
        if not digits.isdigit():
            raise DirectoryError(f"{where}: {text!r} is neither a number nor trunk:NAME")
        return digits

    def account_for(self, caller: str, trunk: str) -> str:
        """The account of an outbound call: by its calling number, else its trunk; '' if neither."""
        digits = international_digits(caller.replace(" ", ""), self.country_code) if caller else ""
        return self.entries.get(digits, "") or (self.entries.get(TRUNK + trunk, "") if trunk else "")

"""The fold's settings as versions: what may change without re-pricing what was already folded.

A rebuild folds the whole log with the settings it is given. The pricing settings are dated
(``@YYYY-MM`` entries, cards valid from a moment), so a change added before its month leaves
every month already folded as it was; any other change makes a rebuild differ from live for
everything folded before it (docs/operations.md). Until now that was a rule for operators.
Here it is checked: a worker records each version of its fold settings on the settings topic
(``streams/worker/settings_log.py``), and a version that changes a term already in force is
refused at start, unless an operator records it on purpose (``voiceledger settings accept``),
with a reason that stays on the log. Kill Bill keeps its catalogue the same way: versions with
an effective date, never an edit of one in effect.

A version is a set of **terms**, each a (name, the moment from which it prices, its value):

- a dated entry (``monthly_fee_changes``: plan, month, value) is one term, in force from the
  start of its month in the earliest zone there is (UTC+14: an account's month begins there
  first);
- a configured rate card is one term, in force from its ``valid_from`` (its value: a digest of
  its prices);
- an undated entry (``monthly_fee_by_plan``: plan, value) is one term per key, in force always;
- any other setting the fold reads (``on_net_prefixes``, ``dedup_window_ms``, ...) is one term,
  in force always.

A change (a term added, removed, or with another value) is safe when the moment it prices from
is later than now plus the clock skew the fold accepts (a CDR may be dated that far past the
time it was logged). One more is safe: an undated price for a plan the catalogue (``plans``)
did not have, since no account can have been on it. Pure: the caller gives the time.
"""

from __future__ import annotations

import hashlib
from dataclasses import MISSING, dataclass, fields, is_dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from projections.account import FoldSettings
from projections.rating import RateCard

ALWAYS = None  # a term's start: in force for every event ever folded
EARLIEST_ZONE = timedelta(hours=14)  # Kiribati's UTC+14: where a month begins first
VALUE_CHARS_MAX = 2_000  # a longer value is kept as its digest (a tax rule list, a card)


@dataclass(frozen=True)
class Term:
    """One thing the fold prices by, from ``starts_ms`` (``ALWAYS``: from the beginning)."""

    name: str
    starts_ms: int | None
    value: str


@dataclass(frozen=True)
class Change:
    """A term that differs between two versions ('' on the side that lacks it)."""

    name: str
    starts_ms: int | None
    before: str
    after: str

    def described(self) -> str:
        since = "always" if self.starts_ms is None else moment(self.starts_ms)
        before, after = self.before or "(none)", self.after or "(none)"
        return f"{self.name} {_short(before)} -> {_short(after)} (in force since {since})"


def terms_of(fold: FoldSettings, configured_cards: tuple[RateCard, ...]) -> dict[str, Term]:
    """The terms of one version. ``configured_cards``: the cards of ``rate_cards``, not those
    published on the rates topic (each already on the log, dated, immutable)."""
    terms: dict[str, Term] = {}
    for f in fields(fold):
        if not f.init or f.name == "rate_cards":
            continue
        value = getattr(fold, f.name)
        if f.name.endswith("_changes"):  # (key, first month, value)
            for key, month, v in value:
                _add(terms, Term(f"{f.name}[{key}@{month}]", month_starts_ms(month), _text(v)))
        elif _is_keyed(f.type):  # (key, value) pairs: one term per key
            for key, v in value:
                _add(terms, Term(f"{f.name}[{key}]", ALWAYS, _text(v)))
        else:
            _add(terms, Term(f.name, ALWAYS, _text(value)))
    for card in configured_cards:
        _add(terms, Term(f"rate_cards[{card.card_id}|{card.currency}]", card.valid_from_ms, _digest(card)))
    return terms


def changes(before: dict[str, Term], after: dict[str, Term]) -> list[Change]:
    """Every term added, removed or changed, by name."""
    out = []
    for name in sorted(before.keys() | after.keys()):
        b, a = before.get(name), after.get(name)
        if b == a:
            continue
        either = b or a  # one of them is there
        starts = _earliest((b or either).starts_ms, (a or either).starts_ms)  # type: ignore[union-attr]
        out.append(Change(name, starts, b.value if b else "", a.value if a else ""))
    return out


def in_force(found: list[Change], now_ms: int, skew_ms: int, new_plans: frozenset[str] = frozenset()) -> list[Change]:
    """The changes that would re-price something already folded (see the module's docstring)."""
    return [c for c in found if not _safe(c, now_ms + skew_ms, new_plans)]


def version_digest(terms: dict[str, Term], plans: tuple[str, ...]) -> str:
    """One value per version: its terms and its catalogue."""
    h = hashlib.sha256()
    for name in sorted(terms):
        t = terms[name]
        h.update(f"{t.name}\x1f{t.starts_ms}\x1f{t.value}\x1e".encode())
    h.update("\x1d".join(sorted(plans)).encode())
    return h.hexdigest()


def month_starts_ms(month: str) -> int:
    """When ``YYYY-MM`` begins in the earliest zone, in UTC milliseconds."""
    year, number = int(month[:4]), int(month[5:7])
    start = datetime(year, number, 1, tzinfo=timezone.utc) - EARLIEST_ZONE
    return int(start.timestamp()) * 1000


def _safe(change: Change, folded_up_to_ms: int, new_plans: frozenset[str]) -> bool:
    if change.starts_ms is not None:
        return change.starts_ms > folded_up_to_ms
    if not change.before and change.after == _DEFAULTS.get(change.name):
        return True  # a setting a new release added, at the default that keeps what the old one did
    # An undated price added for a plan new to the catalogue: no account was ever on it.
    plan = change.name.partition("[")[2].rstrip("]").split(":")[0]
    return not change.before and plan in new_plans


def _earliest(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return ALWAYS
    return min(a, b)


def _add(terms: dict[str, Term], term: Term) -> None:
    # The settings' checks refuse two prices of one name; ``rate_cards`` may name one card twice.
    # The same term twice is one; two that differ are both kept, the second numbered.
    if terms.get(term.name) == term:
        return
    name, n = term.name, 1
    while name in terms:
        n += 1
        name = f"{term.name}#{n}"
    terms[name] = Term(name, term.starts_ms, term.value)


def _is_keyed(annotation: Any) -> bool:
    # By the field's type, not its value: an empty list today may hold a plan's price tomorrow.
    return str(annotation).startswith("tuple[tuple[str, ")


def _text(value: Any) -> str:
    text = canonical(value)
    return text if len(text) <= VALUE_CHARS_MAX else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _digest(card: RateCard) -> str:
    # Every price of the card, its bands and its end.
    text = canonical((card.destinations, card.bands, card.valid_to_ms, card.split_at_bands))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def canonical(value: Any) -> str:
    """A value as text that a later release writes the same: dicts in key order, and a record's
    fields by name, leaving out those at their defaults. A field added with a default that keeps
    what the code did before (how fields are added here) so changes no version: an upgrade does
    not ask for ``settings accept``. Enum members by value."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{canonical(k)}: {canonical(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(canonical(v) for v in value) + ")"
    if isinstance(value, Enum):
        return repr(value.value)
    if is_dataclass(value) and not isinstance(value, type):
        named = [f"{f.name}={canonical(getattr(value, f.name))}" for f in fields(value)
                 if f.init and not _at_default(f, getattr(value, f.name))]
        return f"{type(value).__name__}(" + ", ".join(named) + ")"
    return repr(value)


def _at_default(f: Any, value: Any) -> bool:
    if f.default is not MISSING:
        return value == f.default
    return f.default_factory is not MISSING and value == f.default_factory()


def moment(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 in UTC, to the second, as versions are shown."""
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


# Each setting's default as a term's value: read by ``_safe`` (a release that adds a setting).
_DEFAULTS = {f.name: _text(f.default) for f in fields(FoldSettings) if f.init and f.default is not MISSING}

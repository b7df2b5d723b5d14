"""Corrections: a carrier's later revision of a call it has already sent (issue 18).

Carriers re-send CDRs: the same file again (a duplicate), or a corrected record, typically a
``billsec`` fixed after a switch fault. A correction here is **explicit**: the record carries a
higher ``revision`` (CallDetailRecord v3; ``voiceledger ingest --revision N`` for a carrier's
correction file, the ``revision`` field of a pushed CDR). A re-send whose content differs at the
*same* revision is still a conflict, dead-lettered: a feed that changes what it says without
saying it corrects is more likely broken than right, and billing must not follow it silently.

What the fold does with a correction (``projections/account.py: _correction``):

- it re-rates the call at the new revision, with the rate card of the call's start (R5) and the
  included minutes (R4) the earlier revision used given back first;
- it posts the **difference** as its own journal entry (``kind`` ``usage_correction``, id
  ``c:<call key>#r<revision>``), never a second charge: the earlier revision's entry stays;
- the invoice shows it as a ``usage:correction`` line of the call's month: on the open invoice
  when that month is not invoiced yet, else as a *prior-period* line of the next one. An issued
  invoice never changes;
- the ``calls.rated`` output and the call log carry the new revision, which replaces the row;
- both revisions stay in the log, so a rebuild folds them again to the same result.

What stops a bad feed from rewriting history:

- **authority**: the call key is ``carrier/call id``, so only the carrier that sent a call can
  correct it;
- **the parties**: a correction may change the times, the duration and the disposition, never
  the account, the caller, the callee or the start (``correction_changes_parties``), so a
  correction cannot move a call to another destination or another month;
- **time**: only a call whose dedup key is still kept (the dedup window, 7 days by default of
  the account's newest event) can be corrected; an older one is refused
  (``outside_dedup_window``), never billed again as a new call;
- **order**: revisions only go up. An older revision arriving after a newer one is *superseded*
  (counted like a duplicate, nothing changes), so the latest revision wins in any arrival order;
  the same revision with other content is a ``duplicate_conflict``.

A correction of a call the account has no charge for (a call folded before AccountState v5 kept
charges) is refused (``correction_without_charge``): the difference cannot be known.
"""

from __future__ import annotations

from projections.events import CallDetailRecord
from projections.validation import InvalidEvent

# What a kept call was charged: (charge micros, included seconds, revision, parties fingerprint).
Charged = tuple[int, int, int, int]

SUPERSEDED = "superseded"
CORRECTION = "correction"


def judge(prior: Charged | None, cdr: CallDetailRecord) -> str:
    """Whether ``cdr``, whose call key was applied before with other content, corrects it
    (``CORRECTION``) or is an older revision (``SUPERSEDED``); raises ``InvalidEvent`` otherwise."""
    if prior is None:
        raise InvalidEvent("correction_without_charge", f"{cdr.call_key}: no charge is kept for the call it corrects")
    _, _, revision, parties = prior
    if cdr.revision < revision:
        return SUPERSEDED
    if cdr.revision == revision:
        raise InvalidEvent("duplicate_conflict", f"c:{cdr.call_key} was already applied with other content "
                                                 f"at revision {revision}")
    if cdr.parties_fingerprint() != parties:
        raise InvalidEvent("correction_changes_parties", f"{cdr.call_key} revision {cdr.revision} changes the "
                                                         "account, numbers or start of the call")
    return CORRECTION

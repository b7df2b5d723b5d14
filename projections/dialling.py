"""Dialling plans: how a number dialled in a country becomes its international form (E.164 digits).

A number may come with ``+``, with the country's international prefix, or in national form with
its trunk prefix. Most of the world dials ``00`` abroad and ``0`` for a national call. The
exceptions that matter here: the North American Numbering Plan (country code 1) dials ``011``
abroad, so a US subscriber's ``011 44 20...`` is a call to the United Kingdom, not a national
number; Australia ``0011``, Japan ``010``, Russia ``810`` (and ``00``).

The plan is the account's own country (AccountOpened v3 ``country``, ISO 3166 alpha-2, turned
into its calling code here with Google's libphonenumber metadata), else the deployment's
``country_code``. The same country decides domestic from international (R16 usage categories,
R4 included minutes): a Belgian account's call to ``02 ...`` is domestic.
"""

from __future__ import annotations

import phonenumbers

# Country calling code -> its international prefixes besides "00", longest first.
INTERNATIONAL_PREFIXES: dict[str, tuple[str, ...]] = {
    "1": ("011",),
    "61": ("0011",),
    "81": ("010",),
    "7": ("810",),
}
TRUNK_PREFIX = "0"  # the national prefix of most plans (NANP's "1" is its country code anyway)


def mark_of(number: str, country_code: str) -> str:
    """The leading international or national mark of a dialled number ('' when there is none)."""
    if number.startswith("+"):
        return "+"
    for prefix in (*INTERNATIONAL_PREFIXES.get(country_code, ()), "00"):
        if number.startswith(prefix):
            return prefix
    return TRUNK_PREFIX if number.startswith(TRUNK_PREFIX) else ""


def international_digits(number: str, country_code: str) -> str:
    """``number`` as dialled in ``country_code``'s plan, in international form without ``+``.
    A bare number is taken as already international."""
    s = number.strip()
    mark = mark_of(s, country_code)
    if mark == TRUNK_PREFIX:
        return country_code + s[len(mark):]
    return s[len(mark):]


def calling_code(region: str) -> str:
    """The country calling code of an ISO 3166 alpha-2 region ("BE" -> "32"); "" when unknown."""
    if len(region) != 2 or not region.isalpha():
        return ""
    # country_code_for_region answers 0 for an unknown region (the _valid_ variant raises).
    code = phonenumbers.country_code_for_region(region.upper())
    return str(code) if code else ""

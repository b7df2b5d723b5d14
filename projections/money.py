"""Exact money: integer micro-units with their currency, and named roundings (R7).

Amounts are always ``int`` micro-units (1e-6 of the currency unit). There is no float on any
money path. Every division names its rounding direction, so a reader never has to guess
which way a remainder went.
"""

from __future__ import annotations

from dataclasses import dataclass

MICROS_PER_UNIT = 1_000_000



def _iso_4217() -> dict[str, int]:
    """Every ISO 4217 code with the digits of its minor unit, from the CLDR data Babel ships (pure
    data, read once): JPY 0, USD and EUR 2, KWD 3."""
    from babel.numbers import get_currency_precision, list_currencies

    return {c: get_currency_precision(c) for c in sorted(list_currencies())
            if len(c) == 3 and c.isalpha() and c.isupper() and c not in NOT_MONEY and get_currency_precision(c) <= 6}


# ISO 4217 codes that are no currency an account can be kept in: "no currency", testing, precious
# metals, the IMF's and the bond markets' units of account.
NOT_MONEY = frozenset({"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD"})


# R7: an account holds one currency, any of these, and amounts of two are never added.
CURRENCY_DIGITS: dict[str, int] = _iso_4217()
SUPPORTED_CURRENCIES = frozenset(CURRENCY_DIGITS)
# Micro-units in one minor unit (a cent: 10,000; a yen: 1,000,000; a fils: 1,000): what an
# invoice line rounds to and what a price decided by a person must be a whole number of.
MINOR_UNIT_MICROS: dict[str, int] = {c: 10 ** (6 - d) for c, d in CURRENCY_DIGITS.items()}


class CurrencyMismatch(ValueError):
    """Two amounts of different currencies were combined (R7 forbids adding them)."""


class UnknownCurrency(ValueError):
    """A currency code the ledger does not keep accounts in."""


def check_currency(currency: str) -> str:
    if currency not in SUPPORTED_CURRENCIES:
        raise UnknownCurrency(f"unknown currency {currency!r}; supported: {sorted(SUPPORTED_CURRENCIES)}")
    return currency


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer micro-units and the currency they are in."""

    amount_micros: int
    currency: str

    def __post_init__(self) -> None:
        assert type(self.amount_micros) is int, "money is integer micro-units"

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {self.currency} and {other.currency}")
        return Money(self.amount_micros + other.amount_micros, self.currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot subtract {other.currency} from {self.currency}")
        return Money(self.amount_micros - other.amount_micros, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_micros, self.currency)

    def format(self) -> str:
        """Human form with all six decimals kept: nothing is hidden by display rounding."""
        sign = "-" if self.amount_micros < 0 else ""
        units, micros = divmod(abs(self.amount_micros), MICROS_PER_UNIT)
        return f"{sign}{units}.{micros:06d} {self.currency}"


def div_round_up(numerator: int, denominator: int) -> int:
    """Integer division rounded towards +infinity (ceiling). Both operands are ints."""
    assert denominator > 0
    return -((-numerator) // denominator)


def div_round_down(numerator: int, denominator: int) -> int:
    """Integer division rounded towards -infinity (floor)."""
    assert denominator > 0
    return numerator // denominator


def parse_decimal_micros(text: str) -> int:
    """Parse a decimal string such as ``"0.0125"`` into exact micro-units.

    More than six decimals is refused rather than rounded: a price that cannot be held
    exactly must be fixed at its source, not silently changed here.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty amount")
    negative = s.startswith("-")
    if negative or s.startswith("+"):
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not whole:
        whole = "0"
    if not (whole.isdigit() and (frac == "" or frac.isdigit())):
        raise ValueError(f"not a decimal amount: {text!r}")
    if len(frac) > 6:
        raise ValueError(f"amount {text!r} has more than 6 decimals (micro-units)")
    micros = int(whole) * MICROS_PER_UNIT + int(frac.ljust(6, "0") or "0")
    return -micros if negative else micros

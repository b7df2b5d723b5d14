"""What every command module shares: argument types, date checks, and loading the settings.

A bad argument or setting raises ``ConfigError`` (or argparse's own error); ``main`` prints it
as one line and exits 2.
"""

from __future__ import annotations

import argparse
from datetime import date

from streams.config.settings import ConfigError, Settings, load_settings


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return value


def positive_up_to(limit: int):  # noqa: ANN201 - an argparse type
    """A positive whole number no larger than ``limit``, as an argparse type."""
    def checked(text: str) -> int:
        value = positive(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"{value} is more than {limit}")
        return value
    return checked


def settings_of(args: argparse.Namespace, **overrides: object) -> Settings:
    return load_settings(getattr(args, "config", None), **overrides)


def day(flag: str, value: str) -> date:
    """A YYYY-MM-DD argument; an impossible date (2026-02-30) is named as one."""
    parts = value.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or (len(parts[0]), len(parts[1]), len(parts[2])) != (4, 2, 2):
        raise ConfigError(f"{flag}: {value!r} must be YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag}: {value} is not a date of the calendar") from None


def month(flag: str, value: str) -> str:
    if not (len(value) == 7 and value[4] == "-" and value[:4].isdigit() and value[5:].isdigit()
            and 1 <= int(value[5:]) <= 12):
        raise ConfigError(f"{flag}: {value!r} must be YYYY-MM")
    return value


def config_option() -> argparse.ArgumentParser:
    """``--config`` for every command, so that it may follow the command as well as precede it."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", default=argparse.SUPPRESS, help="TOML settings file (default: $VOICELEDGER_CONFIG)")
    return parent

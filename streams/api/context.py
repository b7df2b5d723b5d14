"""What every route needs, kept on the app: the settings, the tokens, the read model, the way onto
the log, the portal's signer, and the dependencies that check the caller."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request

from streams.api import access
from streams.api.links import Signer
from streams.api.log_writer import LogWriter
from streams.api.problems import Problem
from streams.api import read_model
from streams.api.read_model import Reader
from streams.config.settings import Settings
from streams.edge import commands
from streams.edge.sealing import Opener, opener_for


LOCALE_TTL_S = 10.0
LOCALES_KEPT_MAX = 10_000


@dataclass
class Context:
    settings: Settings
    tokens: dict[str, str]
    reader: Reader
    log: LogWriter
    signer: Signer | None  # None: no portal_secret_file, the portal and the console are off
    opener: Opener = None  # type: ignore[assignment] - set in __post_init__
    _locales: dict[str, tuple[str, float]] = field(default_factory=dict)  # account -> (locale, kept until)

    def __post_init__(self) -> None:
        # One for the process: it caches the subscribers' keys it has read (for a while: erasures hold).
        self.opener = opener_for(self.settings)

    def document(self, account_id: str, number: str):  # noqa: ANN201 - (InvoiceDocument, InvoiceIssued, Legal)
        """An invoice with what it prints, the customer block opened with the subscriber's key."""
        from streams.api.statements import document

        return document(self.reader, account_id, number, self.settings, self.opener.open)

    def locale_of(self, account_id: str) -> str:
        """The language of a customer's pages: their own, else the deployment's ``invoice_locale``.
        Kept for LOCALE_TTL_S: a page asks it several times, and a change reaches the portal soon
        enough (a customer's invoices carry the one in force when each was issued). With the read
        model away, the deployment's: a page that needs no ClickHouse (asking for an erasure) is
        still served, in the deployment's language."""
        now = time.monotonic()
        kept = self._locales.get(account_id)
        if kept is None or kept[1] <= now:
            try:
                found = read_model.locale_of(self.reader, account_id)
            except Problem:  # not kept: the next page asks again
                return self.settings.invoice_locale
            if len(self._locales) >= LOCALES_KEPT_MAX:
                self._locales.clear()
            kept = self._locales[account_id] = (found, now + LOCALE_TTL_S)
        return kept[0] or self.settings.invoice_locale

    def forget_locale(self, account_id: str) -> None:
        """Read the customer's language again at their next page (they just changed it)."""
        self._locales.pop(account_id, None)

    def submit(self, event, key: str) -> commands.Answer:  # noqa: ANN001 - an account event
        return command(lambda: commands.submit(self.settings, event, key, send=self.log.send))


def context(request: Request) -> Context:
    return request.app.state.context


def caller(request: Request) -> str:
    """The scope of the request's bearer token; none valid is a 401."""
    found = access.scope_of(request.app.state.context.tokens, request.headers.get("Authorization"))
    if found is None:
        raise Problem(401, "unauthorized", "a valid bearer token is required")
    return found


def must(allowed: bool) -> None:
    if not allowed:
        raise Problem(403, "forbidden", "this token's scope does not cover this request")


def ms(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


def command(step):  # noqa: ANN001, ANN201 - a step of streams/edge/commands.py
    """A command's step, its refusals as problems: a value the worker would refuse is a 422, a
    reused idempotency key a 409, a broker that does not take the event a 503."""
    try:
        return step()
    except commands.CommandRefused as exc:
        text = str(exc)
        kind = text.split(":", 1)[0] if ":" in text else "invalid-command"
        raise Problem(409 if kind == "idempotency_key_reused" else 422, kind.replace("_", "-"), text) from None
    except Problem:
        raise
    except ValueError as exc:
        raise Problem(422, "invalid-command", str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - aiokafka's errors, a timeout: the broker is down or too slow
        raise Problem(503, "log-unavailable", f"the events topic did not take the command: "
                                              f"{type(exc).__name__}") from None

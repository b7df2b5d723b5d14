"""Customers' portal links and the sessions behind them (issue 19): signed, expiring, stateless.

An operator gives a customer a link (``voiceledger portal link ACCOUNT`` or ``POST
/v1/portal-links``), as Lago's customer portal does: ``/portal/login?token=...``. The token is
``<scope>.<expiry>.<signature>``, the signature an HMAC-SHA256 of the scope and the expiry with
the deployment's ``portal_secret_file``. Opening the link sets a session cookie holding a token
of the same form (HttpOnly, SameSite=Strict, Secure on https) that lasts until the link's
expiry at most. Why this scheme: nothing is stored, so any API process behind a load balancer
accepts a link another one issued; the customer needs no password; and a link forwarded or
leaked stops working on its own. Changing the secret revokes every link and session at once.

The console's sessions (an operator logs in with their API token) are tokens of the same form
for the scope ``operator`` or ``finance``, so the token itself never sits in a cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

from streams.config.settings import ConfigError

SECRET_BYTES_MIN = 32
DAY_S = 86_400


class Signer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < SECRET_BYTES_MIN:
            raise ConfigError(f"portal_secret_file: at least {SECRET_BYTES_MIN} bytes of secret are needed")
        self._secret = secret

    @classmethod
    def from_file(cls, path: str) -> Signer:
        try:
            return cls(Path(path).read_bytes().strip())
        except OSError as exc:
            raise ConfigError(f"portal_secret_file: cannot read {path}: {exc.strerror}") from None

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def token(self, scope: str, expires_s: int) -> str:
        body = f"{base64.urlsafe_b64encode(scope.encode()).decode().rstrip('=')}.{expires_s}"
        return f"{body}.{self._mac(body)}"

    def scope_of(self, token: str | None, now_s: int | None = None) -> tuple[str, int] | None:
        """(scope, expiry) of a token signed here and not expired; None for anything else."""
        if not token or len(token) > 512 or token.count(".") != 2:
            return None
        scope_b64, expires, mac = token.split(".")
        if not expires.isdigit() or not hmac.compare_digest(mac, self._mac(f"{scope_b64}.{expires}")):
            return None
        if int(expires) <= (now_s if now_s is not None else int(time.time())):
            return None
        try:
            return base64.urlsafe_b64decode(scope_b64 + "=" * (-len(scope_b64) % 4)).decode(), int(expires)
        except (ValueError, UnicodeDecodeError):
            return None

    def csrf(self, session: str) -> str:
        """The form token of a session: a page's forms carry it, a cross-site post cannot."""
        return self._mac("csrf:" + session)


def portal_link(signer: Signer, base_url: str, account_id: str, days: int, now_s: int | None = None) -> tuple[str, int]:
    """(the link, its expiry in epoch seconds) for a customer of ``account_id``."""
    expires = (now_s if now_s is not None else int(time.time())) + days * DAY_S
    return f"{base_url.rstrip('/')}/portal/login?token={signer.token('portal:' + account_id, expires)}", expires

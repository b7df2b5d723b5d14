"""API tokens for the HTTP API (R35): who may ask about which account.

The tokens file (``api_tokens_file``) holds one token per line: ``TOKEN SCOPE``, where SCOPE is
``*`` (a switch or a back-office system: any account) or one account id (a customer portal
acting for that account only). Blank lines and ``#`` comments are ignored. A request names its
token as ``Authorization: Bearer TOKEN``. Without a valid token the answer is ``401``; with a
token for another account, ``403``: the API returns only the caller's account data.

Tokens are secrets: they are read from the file (or the file a secret store mounts), compared
in constant time, and never logged or printed; errors name the file and the line, not the token.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from streams.config.settings import ConfigError

ANY_ACCOUNT = "*"
# voiceledger api's scopes (streams/api/access.py) that the worker's authorization accepts for
# any account: an operator's and a switch's; ``portal:ACCOUNT`` is that account's alone.
ANY_ACCOUNT_SCOPES = (ANY_ACCOUNT, "operator", "switch")


class TokenFileError(ConfigError):
    """The tokens file is unreadable or malformed (the message never contains a token)."""


def load_tokens(path: str) -> dict[str, str]:
    """token -> scope."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TokenFileError(f"api_tokens_file: cannot read {path}: {exc.strerror}") from None
    tokens: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) < 16:
            raise TokenFileError(f"api_tokens_file: {path} line {n} must be 'TOKEN SCOPE' with a token of at "
                                 "least 16 characters and a scope of * or an account id")
        tokens[parts[0]] = parts[1]
    if not tokens:
        raise TokenFileError(f"api_tokens_file: {path} holds no token")
    return tokens


def check(tokens: dict[str, str], authorization_header: str | None, account_id: str | None) -> int | None:
    """None when allowed, else the HTTP status to answer (401 or 403)."""
    if not authorization_header or not authorization_header.startswith("Bearer "):
        return 401
    offered = authorization_header[len("Bearer "):].strip().encode()
    scope = None
    for token, token_scope in tokens.items():  # every token compared: no early exit on a match
        if hmac.compare_digest(token.encode(), offered):
            scope = token_scope
    if scope is None:
        return 401
    if scope in ANY_ACCOUNT_SCOPES:
        return None
    if scope.removeprefix("portal:") != account_id:
        return 403
    return None

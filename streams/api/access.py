"""Who may call what on the API (issue 19): tokens with scopes, nothing open by default.

The tokens file is ``api_tokens_file`` (``TOKEN SCOPE`` per line, ``streams/config/tokens.py``).
Scopes: ``operator`` (every command and read), ``finance`` (reads), ``switch`` (authorization
only, on the worker), ``portal:<account>`` (that account's reads). A request without a valid
bearer token is a 401; with a token whose scope does not cover the route or the account, a 403.
"""

from __future__ import annotations

import hmac

OPERATOR, FINANCE, SWITCH, PORTAL = "operator", "finance", "switch", "portal:"
SCOPES = (OPERATOR, FINANCE, SWITCH)


def scope_of(tokens: dict[str, str], authorization: str | None) -> str | None:
    """The scope of the bearer token offered, None when there is none valid. Every token is
    compared, in constant time, so that the time taken says nothing about which one matched."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    offered, found = authorization[len("Bearer "):].strip().encode(), None
    for token, scope in tokens.items():
        if hmac.compare_digest(token.encode(), offered):
            found = scope
    return found


def may_command(scope: str) -> bool:
    return scope == OPERATOR


def may_read(scope: str, account_id: str) -> bool:
    return scope in (OPERATOR, FINANCE) or scope == PORTAL + account_id

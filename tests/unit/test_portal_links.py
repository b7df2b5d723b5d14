"""Portal links and console sessions (streams/api/links.py): signed, expiring, nothing stored."""

from __future__ import annotations

import pytest

from streams.api.links import Signer, portal_link
from streams.config.settings import ConfigError
from streams.config.tokens import check

SECRET = b"k" * 32


def test_a_link_logs_in_to_its_account_until_it_expires():
    url, expires = portal_link(Signer(SECRET), "https://billing.example.com/", "acct-7", 7, now_s=1_000)
    assert url.startswith("https://billing.example.com/portal/login?token=") and expires == 1_000 + 7 * 86_400
    token = url.split("token=")[1]
    assert Signer(SECRET).scope_of(token, now_s=2_000) == ("portal:acct-7", expires)
    assert Signer(SECRET).scope_of(token, now_s=expires) is None, "expired"
    assert Signer(b"x" * 32).scope_of(token, now_s=2_000) is None, "another deployment's secret"


@pytest.mark.parametrize("tamper", [
    lambda t: t.replace(t.split(".")[1], str(int(t.split(".")[1]) + 86_400)),  # a longer life
    lambda t: Signer(SECRET).token("portal:acct-8", 9_999_999_999).split(".")[0] + "." + ".".join(t.split(".")[1:]),
    lambda t: t + "x", lambda t: "", lambda t: "a.b", lambda t: "a" * 600,
])
def test_a_changed_token_is_refused(tamper):
    token = Signer(SECRET).token("portal:acct-7", 9_999_999_999)
    assert Signer(SECRET).scope_of(tamper(token), now_s=0) is None


def test_a_short_secret_is_a_config_error():
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        Signer(b"short")


def test_the_workers_accept_the_apis_scopes_for_their_accounts():
    tokens = {"o" * 16: "operator", "s" * 16: "switch", "f" * 16: "finance", "p" * 16: "portal:acct-7"}
    assert check(tokens, "Bearer " + "o" * 16, "acct-1") is None
    assert check(tokens, "Bearer " + "s" * 16, "acct-1") is None
    assert check(tokens, "Bearer " + "f" * 16, "acct-1") == 403, "finance reads; it does not authorize calls"
    assert check(tokens, "Bearer " + "p" * 16, "acct-7") is None
    assert check(tokens, "Bearer " + "p" * 16, "acct-8") == 403
    assert check(tokens, None, "acct-7") == 401

"""R35: API tokens (streams/config/tokens.py)."""

import pytest

from streams.config.tokens import TokenFileError, check, load_tokens

TOKENS = {"switch-token-0123456789": "*", "portal-token-for-acct-a": "acct-a"}


def test_R35_no_token_or_a_wrong_one_is_401_another_account_403():
    assert check(TOKENS, None, "acct-a") == 401
    assert check(TOKENS, "Basic abc", "acct-a") == 401
    assert check(TOKENS, "Bearer nope", "acct-a") == 401
    assert check(TOKENS, "Bearer portal-token-for-acct-a", "acct-b") == 403
    assert check(TOKENS, "Bearer portal-token-for-acct-a", "acct-a") is None
    assert check(TOKENS, "Bearer switch-token-0123456789", "acct-b") is None


def test_R35_a_bad_tokens_file_is_one_clear_error_that_never_shows_a_token(tmp_path):
    bad = tmp_path / "tokens"
    bad.write_text("short *\n")
    with pytest.raises(TokenFileError, match="line 1") as info:
        load_tokens(str(bad))
    assert "short" not in str(info.value)
    with pytest.raises(TokenFileError, match="cannot read"):
        load_tokens(str(tmp_path / "missing"))
    good = tmp_path / "good"
    good.write_text("# comment\n\nswitch-token-0123456789 *\n")
    assert load_tokens(str(good)) == {"switch-token-0123456789": "*"}

"""The console's plans page lists prices exactly as the settings give them (streams/api/plans.py)."""

from __future__ import annotations

from streams.api.plans import catalogue, exact, price_lines
from streams.config.settings import load_settings


def test_a_price_is_written_with_every_digit_that_is_not_zero():
    assert [exact(m) for m in (0, 12_500, 9_990_000, 1_234_500_000, -5_000_000, 1)] == [
        "0.00", "0.0125", "9.99", "1,234.50", "-5.00", "0.000001"]


def test_a_plans_lines_name_each_price_its_currency_and_the_month_a_change_starts():
    s = load_settings(None, env={"VOICELEDGER_PLANS": "basic", "VOICELEDGER_MONTHLY_FEES": "basic:9.99,basic:EUR:8.50,"
                                 "basic:12.99@2027-03", "VOICELEDGER_INBOUND_RATES": "basic:0.0125",
                                 "VOICELEDGER_INCLUDED_MINUTES": "basic:100,basic:200@2027-01"})
    (basic,) = catalogue(s).plans
    lines = dict(price_lines(basic)["lines"])
    assert lines["Monthly fee (R14)"] == "9.99 any currency; 8.50 EUR; 12.99 any currency from 2027-03"
    assert lines["Inbound calls"] == "0.0125 any currency a minute"
    assert lines["Included minutes (R4)"] == "100 a month; 200 from 2027-01"
    assert lines["Connection fee (R21)"] == "none" and lines["Rate cards"] == "the default cards"


def test_versions_from_a_broker_that_is_not_there_are_a_503_not_a_traceback():
    import asyncio
    from dataclasses import replace
    from types import SimpleNamespace

    import pytest

    from streams.api.problems import Problem
    from streams.api.read_routes import versions_of
    from streams.config.settings import Settings

    ctx = SimpleNamespace(settings=replace(Settings(), broker="127.0.0.1:1"))
    with pytest.raises(Problem) as refused:
        asyncio.run(versions_of(ctx))
    assert (refused.value.status, refused.value.kind) == (503, "log-unavailable")

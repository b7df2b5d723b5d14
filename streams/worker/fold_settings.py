"""The fold's settings (``FoldSettings``) as a worker builds them from its ``Settings``.

The worker, a rebuild, ``rerate``, the demo, the benchmarks and the check of settings versions
(``streams/worker/settings_log.py``) all fold with what this gives, so it is built in one place,
without Faust.
"""

from __future__ import annotations

from projections.account import DAY_MS, FoldSettings
from projections.rating import RateCard
from streams.config.settings import ConfigError, Settings
from streams.edge.rate_decks import check_route_fits, load_rate_cards


def fold_settings_from(settings: Settings, published_cards: tuple[RateCard, ...] = ()) -> FoldSettings:
    """The fold's settings: the configured cards plus the cards published on the rates topic."""
    configured = load_rate_cards(settings.rate_cards)
    if settings.seal_personal_data:
        for card in configured:
            check_route_fits(card, settings.route_digits)
    fold = _fold_settings(settings, configured + published_cards)
    for problem in fold.unpriced():  # a plan without a price in a currency it rates: refused at start
        raise ConfigError(f"monthly_fees: {problem}")
    return fold


def _fold_settings(settings: Settings, cards: tuple[RateCard, ...]) -> FoldSettings:
    return FoldSettings(
        rate_cards=cards,
        on_net_prefixes=settings.on_net_prefixes,
        country_code=settings.country_code,
        dedup_window_ms=settings.dedup_window_days * DAY_MS,
        dedup_max_keys=settings.dedup_max_keys,
        included_seconds_by_plan=settings.included_seconds_by_plan(),
        included_seconds_changes=settings.included_seconds_changes(),
        max_clock_skew_ms=settings.max_clock_skew_seconds * 1000,
        monthly_fee_by_plan=settings.monthly_fee_by_plan(), monthly_fee_changes=settings.monthly_fee_changes(),
        termination_fee_micros=dict(settings.termination_fees()[0]).get("", 0),
        termination_fee_by_currency=tuple((c, m) for c, m in settings.termination_fees()[0] if c),
        termination_fee_changes=settings.termination_fees()[1],
        connection_fee_by_plan=settings.connection_fee_by_plan(), connection_fee_changes=settings.connection_fee_changes(),
        inbound_rate_by_plan=settings.inbound_rate_by_plan(), inbound_rate_changes=settings.inbound_rate_changes(),
        credit_limit_by_plan=settings.credit_limit_by_plan(),
        registration_grace_ms=settings.registration_grace_hours * 3_600_000,
        inactivity_ms=settings.inactivity_days * DAY_MS,
        interim_threshold_micros=settings.interim_thresholds()[0],
        interim_threshold_by_currency=settings.interim_thresholds()[1],
        invoice_issuer=settings.invoice_issuer,
        payment_terms_days=settings.payment_terms_days, payment_terms_days_by_plan=settings.payment_terms_by_plan(),
        payment_terms_changes=settings.payment_terms_changes(),
        plan_cards=settings.plan_cards_by_plan(), plan_card_changes=settings.plan_card_changes(),
        deal_cards=settings.deal_cards,
        taxes_by_key=settings.taxes_by_key(), tax_rule_changes=settings.tax_rule_changes(),
    )

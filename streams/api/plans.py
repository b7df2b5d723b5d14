"""The plan catalogue as the API shows it (``GET /v1/plans``): what a CRM offers an operator
opening an account or changing its plan, from the settings the worker prices with."""

from __future__ import annotations

from streams.api.models import IncludedMinutes, PaymentTerm, Plan, PlanCards, PlanCatalogue, PlanPrice
from streams.config.settings import Settings, plans_named


def catalogue(settings: Settings) -> PlanCatalogue:
    """The plans sold, then the retired ones; without a catalogue, every plan the settings name
    (in the order they name them), each sold since any name is taken."""
    if settings.plans:
        names, sold = [*settings.plans, *settings.retired_plans], set(settings.plans)
    else:
        names = list(dict.fromkeys(plan for _, plan in plans_named(settings)))
        sold = set(names)
    return PlanCatalogue(catalogue=bool(settings.plans), plans=[_plan(settings, name, name in sold) for name in names])


def _plan(settings: Settings, name: str, sold: bool) -> Plan:
    minutes = dict(settings.included_seconds_by_plan())
    return Plan(plan=name, sold=sold,
                monthly_fees=_prices(settings.monthly_fee_by_plan(), settings.monthly_fee_changes(), name),
                connection_fees=_prices(settings.connection_fee_by_plan(), settings.connection_fee_changes(), name),
                inbound_per_minute=_prices(settings.inbound_rate_by_plan(), settings.inbound_rate_changes(), name),
                credit_limits=_prices(settings.credit_limit_by_plan(), (), name),
                included_minutes=minutes.get(name, 0) // 60,
                included_minutes_changes=[IncludedMinutes(minutes=seconds // 60, from_month=month)
                                          for plan, month, seconds in settings.included_seconds_changes()
                                          if plan == name],
                rate_cards=list(dict(settings.plan_cards_by_plan()).get(name, ())),
                rate_card_changes=[PlanCards(rate_cards=list(names), from_month=month)
                                   for plan, month, names in settings.plan_card_changes() if plan == name],
                payment_terms_days=dict(settings.payment_terms_by_plan()).get(name, settings.payment_terms_days),
                payment_terms_changes=[PaymentTerm(days=days, from_month=month)
                                       for plan, month, days in settings.payment_terms_changes() if plan == name],
                residential=name in settings.residential_plans)


def _prices(undated: tuple[tuple[str, int], ...], changes: tuple[tuple[str, str, int], ...],
            name: str) -> list[PlanPrice]:
    """A plan's prices from "plan" (any currency) and "plan:CUR" keys, then their dated changes."""
    return [*(PlanPrice(currency=key.partition(":")[2], amount_micros=micros) for key, micros in undated
              if key.partition(":")[0] == name),
            *(PlanPrice(currency=key.partition(":")[2], amount_micros=micros, from_month=month)
              for key, month, micros in changes if key.partition(":")[0] == name)]

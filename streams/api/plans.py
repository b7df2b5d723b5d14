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


def price_lines(plan: Plan) -> dict:
    """A plan as the console's page lists it: each price as text, exactly (a rate of 0.0125 a
    minute is not rounded to the cent), a dated one with the month it starts."""
    def prices(found: list[PlanPrice], suffix: str = "") -> str:
        return "; ".join(f"{exact(p.amount_micros)} {p.currency or 'any currency'}{suffix}"
                         + (f" from {p.from_month}" if p.from_month else "") for p in found) or "none"

    return {
        "plan": plan.plan, "sold": plan.sold, "residential": plan.residential,
        "lines": [("Monthly fee (R14)", prices(plan.monthly_fees)),
                  ("Connection fee (R21)", prices(plan.connection_fees)),
                  ("Inbound calls", prices(plan.inbound_per_minute, " a minute")),
                  ("Credit limit, postpaid (R10)", prices(plan.credit_limits)),
                  ("Included minutes (R4)", "; ".join([f"{plan.included_minutes} a month"] + [
                      f"{m.minutes} from {m.from_month}" for m in plan.included_minutes_changes])),
                  ("Rate cards", "; ".join([", ".join(plan.rate_cards) or "the default cards"] + [
                      f"{', '.join(c.rate_cards)} from {c.from_month}" for c in plan.rate_card_changes])),
                  ("Payment term", "; ".join([f"{plan.payment_terms_days} days"] + [
                      f"{t.days} days from {t.from_month}" for t in plan.payment_terms_changes]))],
    }


def exact(micros: int) -> str:
    """Micro-units as a decimal with every digit that is not zero, at least two: 9.99, 0.0125."""
    whole, fraction = divmod(abs(micros), 1_000_000)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{'-' if micros < 0 else ''}{whole:,}.{digits}"

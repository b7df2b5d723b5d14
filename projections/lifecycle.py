"""The account lifecycle as a pure state machine: ``decide(...) -> decisions``, ``apply(...) -> state``.

States (``AccountStatus``) and what moves an account between them:

    REGISTERED --funds cover the pro-rated fee (R15)--> ACTIVE
    REGISTERED --36 h without funds (R12)--> TERMINATED
    ACTIVE --period start, fee not covered (R23)--> SUSPENDED (NON_PAYMENT)
    SUSPENDED (NON_PAYMENT) --top-up within one month that covers the fee (R23)--> ACTIVE
    SUSPENDED (NON_PAYMENT) --more than one calendar month (R24)--> TERMINATED (from the unpaid period's start)
    ACTIVE / REGISTERED / SUSPENDED --FraudHoldPlaced (R27)--> FRAUD_HOLD --FraudHoldReleased--> the status before
    ACTIVE --no activity for inactivity_days (R28)--> TERMINATED (INACTIVITY)
    any but TERMINATED --AccountSuspended / AccountResumed / AccountTerminated (operator)--> as the event says

Time comes only from events: hourly ``PeriodTicked`` events (``voiceledger tick``) and the
times of payments and operator events. At each tick an account looks at its own calendar, in
its own time zone: a new period (R13) charges the monthly fee in advance (R14) and renews the
plan (R22); deadlines (R12, R24, R28) are checked. A tick that changes nothing changes nothing,
so ticks are idempotent and a repeated tick for the same hour is harmless.

Money the lifecycle moves is a *decision* (``FeeCharged``, ``FeeCredited``, ``BalanceRefunded``),
which the fold turns into journal entries, and every status change is an ``AccountStatusChanged``
for the ``account.status`` topic, so switches can block and unblock numbers.

Conventions (README, "Account lifecycle"):

- Day-based proration (R15, R25): a month of D days costs ``fee * days / D``; the day of a start
  and the day of a termination are both charged (inclusive); rounding is **down** for charges
  and **down** for credits - the customer is never charged a sub-micro-unit they cannot see,
  and a credit never exceeds what was charged.
- R22: a customer who cancels after the 26th (local day) owes the next month, charged in full;
  no pro-rated credit is given for the current month.
- R26 (breach): the current month stays charged in full, plus the plan's termination fee.
- R27: a fraud hold refuses recharges; a termination for fraud refunds nothing.
- R25: on any other termination the unused (positive) balance is refunded.
- Several periods without a tick (an outage of the scheduler) are charged one after another at
  the next tick, in order, until one cannot be paid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from projections.events import (
    AccountResumed,
    AccountStatus,
    AccountSuspended,
    AccountTerminated,
    FraudHoldPlaced,
    FraudHoldReleased,
    SuspensionReason,
    TerminationReason,
)
from projections.periods import (
    days_in_period,
    in_effect,
    local_time,
    next_period,
    one_month_later_ms,
    period_of,
    period_start_ms,
)
from projections.records import fast_init

HOUR_MS = 3_600_000
R22_LAST_DAY = 26


@dataclass(frozen=True, slots=True)
class Policy:
    """What the lifecycle needs of the account's plan and the provider's settings."""

    monthly_fee_micros: int = 0  # in the account's currency (R14), until the first of later_fees
    termination_fee_micros: int = 0  # R26
    registration_grace_ms: int = 36 * HOUR_MS  # R12
    inactivity_ms: int = 0  # R28; 0: never deactivated
    # Price changes: (first period "YYYY-MM", the monthly fee from it), periods ascending. A
    # period is charged the fee in effect for it, whenever it is charged (on a late tick, a
    # top-up, a rebuild), so a change dated before a period begins gives the same charge live
    # and rebuilt.
    later_fees: tuple[tuple[str, int], ...] = ()
    # R26's fee changes, the same way: (first period, the termination fee from it).
    later_termination_fees: tuple[tuple[str, int], ...] = ()

    def fee(self, period: str) -> int:
        """R14: the monthly fee of ``period``."""
        return in_effect(self.monthly_fee_micros, self.later_fees, period)

    def termination_fee(self, period: str) -> int:
        """R26: the termination fee of a breach taking effect in ``period``."""
        return in_effect(self.termination_fee_micros, self.later_termination_fees, period)


@fast_init  # made per event: projections/records.py
@dataclass(frozen=True, slots=True)
class Lifecycle:
    status: AccountStatus = AccountStatus.ACTIVE
    reason: str = ""
    since_ms: int = 0
    fee_period: str = ""  # the newest period whose monthly fee is charged
    unpaid_period: str = ""  # R23: the period whose fee could not be paid
    held_from: str = ""  # R27: the status a fraud hold returns to
    last_activity_ms: int = 0  # R28: the newest call or payment
    interim_due: bool = False  # R18: owed above the threshold (announced once per crossing)

    def with_last_activity(self, at_ms: int) -> Lifecycle:
        """A copy with ``last_activity_ms`` set: hot (once per call), so not ``dataclasses.replace``."""
        return Lifecycle(self.status, self.reason, self.since_ms, self.fee_period, self.unpaid_period,
                         self.held_from, at_ms, self.interim_due)


@fast_init  # made once per account and batch part, and per payment: projections/records.py
@dataclass(frozen=True, slots=True)
class Context:
    """The rest of the account the decisions read (never write)."""

    account_id: str
    billing_mode: str
    time_zone: str
    opened_at_ms: int
    balance_micros: int


# --- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeeCharged:
    kind: str  # "monthly" | "prorated" | "next_period" (R22) | "termination" (R26)
    period: str
    amount_micros: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class FeeCredited:
    """R25: the unused days of a month whose fee was charged in advance."""

    period: str
    amount_micros: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class BalanceRefunded:
    """R25: the unused balance, owed back to the customer."""

    amount_micros: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class StatusChanged:
    new: AccountStatus
    reason: str
    at_ms: int
    effective_at_ms: int
    unpaid_period: str = ""


Decision = FeeCharged | FeeCredited | BalanceRefunded | StatusChanged


class InvalidTransition(ValueError):
    code = "invalid_transition"


def balance_change(decision: Decision) -> int:
    """How a decision moves the account's balance (micro-units; charges are negative)."""
    if isinstance(decision, FeeCharged):
        return -decision.amount_micros
    if isinstance(decision, FeeCredited):
        return decision.amount_micros
    if isinstance(decision, BalanceRefunded):
        return -decision.amount_micros
    return 0


def apply(lc: Lifecycle, decision: Decision) -> Lifecycle:
    if isinstance(decision, FeeCharged) and decision.kind in ("monthly", "prorated", "next_period"):
        return replace(lc, fee_period=max(lc.fee_period, decision.period))
    if isinstance(decision, StatusChanged):
        held_from = lc.status.value if decision.new is AccountStatus.FRAUD_HOLD else ""
        unpaid = decision.unpaid_period if decision.new is AccountStatus.SUSPENDED else ""
        return replace(lc, status=decision.new, reason=decision.reason, since_ms=decision.at_ms,
                       held_from=held_from, unpaid_period=unpaid)
    return lc


def prorated(fee_micros: int, days: int, period: str) -> int:
    """``fee * days / days_in_month``, rounded down (see the module docstring)."""
    return fee_micros * days // days_in_period(period)


def _days_left_including(at_ms: int, time_zone: str) -> tuple[str, int]:
    local = local_time(at_ms, time_zone)
    period = f"{local.year:04d}-{local.month:02d}"
    return period, days_in_period(period) - local.day + 1


def opening(billing_mode: str, opened_at_ms: int, time_zone: str, policy: Policy) -> tuple[Lifecycle, list[Decision]]:
    """The lifecycle of a new account. Postpaid starts ACTIVE with a pro-rated first fee (R15);
    prepaid waits, REGISTERED, for funds (R12)."""
    if billing_mode == "postpaid":
        period, days = _days_left_including(opened_at_ms, time_zone)
        return (Lifecycle(AccountStatus.ACTIVE, "opened", opened_at_ms, period, last_activity_ms=opened_at_ms),
                [FeeCharged("prorated", period, prorated(policy.fee(period), days, period), opened_at_ms)])
    return Lifecycle(AccountStatus.REGISTERED, "awaiting_funds", opened_at_ms, last_activity_ms=opened_at_ms), []


def _run(lc: Lifecycle, ctx: Context, decisions: list[Decision]) -> tuple[Lifecycle, int]:
    balance = ctx.balance_micros
    for d in decisions:
        lc = apply(lc, d)
        balance += balance_change(d)
    return lc, balance


def termination(lc: Lifecycle, ctx: Context, reason: TerminationReason, at_ms: int, effective_at_ms: int,
                policy: Policy) -> list[Decision]:
    """R22, R24-R27: what a termination charges, credits and refunds, then the status change."""
    out: list[Decision] = []
    period, days_left = _days_left_including(effective_at_ms, ctx.time_zone)
    fee = policy.fee(period)
    if reason is TerminationReason.BREACH:  # R26: the month stays charged, plus the termination fee
        if policy.termination_fee(period):
            out.append(FeeCharged("termination", period, policy.termination_fee(period), at_ms))
    elif reason is TerminationReason.CUSTOMER_REQUEST and local_time(effective_at_ms, ctx.time_zone).day > R22_LAST_DAY:
        following = next_period(period)  # R22: cancelled after the 26th: the next month is owed
        if lc.fee_period < following and policy.fee(following):
            out.append(FeeCharged("next_period", following, policy.fee(following), at_ms))
    elif reason in (TerminationReason.CUSTOMER_REQUEST, TerminationReason.PROVIDER_WITHOUT_REASON,
                    TerminationReason.INACTIVITY):
        # R25: charges only up to the termination date: credit the month's unused days.
        if lc.fee_period == period and fee and days_left > 1:
            out.append(FeeCredited(period, prorated(fee, days_left - 1, period), at_ms))
    _, balance = _run(lc, ctx, out)
    if reason is not TerminationReason.FRAUD and balance > 0:  # R27: no refund for fraud
        out.append(BalanceRefunded(balance, at_ms))
    out.append(StatusChanged(AccountStatus.TERMINATED, reason.value, at_ms, effective_at_ms))
    return out


def _due_fees(lc: Lifecycle, ctx: Context, at_ms: int, policy: Policy) -> list[Decision]:
    """R14, R22, R23: each period begun since the last fee: charge it in advance, or suspend."""
    now_period = period_of(at_ms, ctx.time_zone)
    period = next_period(lc.fee_period) if lc.fee_period else now_period
    out: list[Decision] = []
    balance = ctx.balance_micros
    while period <= now_period:
        fee = policy.fee(period)
        if ctx.billing_mode == "prepaid" and balance < fee:
            out.append(StatusChanged(AccountStatus.SUSPENDED, SuspensionReason.NON_PAYMENT.value, at_ms, at_ms,
                                     unpaid_period=period))
            break
        out.append(FeeCharged("monthly", period, fee, at_ms))
        balance -= fee
        period = next_period(period)
    return out


def on_tick(lc: Lifecycle, ctx: Context, at_ms: int, policy: Policy) -> list[Decision]:
    """Time passed to ``at_ms``: deadlines and period starts."""
    status = lc.status
    if status is AccountStatus.REGISTERED and at_ms - ctx.opened_at_ms >= policy.registration_grace_ms:
        return termination(lc, ctx, TerminationReason.NO_FUNDS_AFTER_REGISTRATION, at_ms, at_ms, policy)  # R12
    if status is AccountStatus.SUSPENDED and lc.reason == SuspensionReason.NON_PAYMENT.value \
            and at_ms > one_month_later_ms(lc.since_ms, ctx.time_zone):
        # R24: effective from the start of the unpaid period.
        return termination(lc, ctx, TerminationReason.NON_PAYMENT, at_ms,
                           period_start_ms(lc.unpaid_period, ctx.time_zone), policy)
    if status is AccountStatus.ACTIVE:
        if policy.inactivity_ms and at_ms - lc.last_activity_ms >= policy.inactivity_ms:
            return termination(lc, ctx, TerminationReason.INACTIVITY, at_ms, at_ms, policy)  # R28
        return _due_fees(lc, ctx, at_ms, policy)
    return []


NEVER_MS = 2**63 - 1  # no deadline: later than any event's time (an Avro long)


def quiet_until(lc: Lifecycle, opened_at_ms: int, time_zone: str, policy: Policy) -> int:
    """The earliest time at which ``on_tick`` can decide something for ``lc``: at every time
    before it, it decides nothing. Each deadline is ``on_tick``'s own test solved for the time
    (R12 grace, R24 one month suspended, R28 inactivity, R14/R22 the next period's fee).

    Why (issue 22): a tick reaches every account; knowing when one can next matter lets a worker
    leave it out of ticks until then (``projections/account.py: tick_quiet_until``)."""
    status = lc.status
    if status is AccountStatus.REGISTERED:
        return opened_at_ms + policy.registration_grace_ms
    if status is AccountStatus.SUSPENDED and lc.reason == SuspensionReason.NON_PAYMENT.value:
        return one_month_later_ms(lc.since_ms, time_zone) + 1  # "more than" one month
    if status is AccountStatus.ACTIVE:
        # No fee charged yet: the current period's is due at once (_due_fees).
        fees = period_start_ms(next_period(lc.fee_period), time_zone) if lc.fee_period else 0
        return min(fees, lc.last_activity_ms + policy.inactivity_ms) if policy.inactivity_ms else fees
    return NEVER_MS


def payment_refusal(lc: Lifecycle) -> tuple[str, str] | None:
    """R27: no recharge on hold; a terminated account takes no money (it goes back by hand)."""
    if lc.status is AccountStatus.FRAUD_HOLD:
        return "recharge_blocked", "the account is on a fraud hold: no recharge until it is released (R27)"
    if lc.status is AccountStatus.TERMINATED:
        return "account_terminated", f"the account is terminated ({lc.reason}); refund the payment by hand"
    return None


def refund_refusal(lc: Lifecycle) -> tuple[str, str] | None:
    """R27: no refund while a fraud hold is investigated, nor after a termination for fraud."""
    if lc.status is AccountStatus.FRAUD_HOLD:
        return "refund_blocked", "the account is on a fraud hold: no refund until it is released (R27)"
    if lc.status is AccountStatus.TERMINATED and lc.reason == TerminationReason.FRAUD.value:
        return "refund_blocked", "the account was terminated for fraud: it gets no refund (R27)"
    return None


def on_funds(lc: Lifecycle, ctx: Context, at_ms: int, policy: Policy) -> list[Decision]:
    """After a payment is credited (``ctx.balance_micros`` includes it)."""
    if lc.status is AccountStatus.REGISTERED:
        period, days = _days_left_including(at_ms, ctx.time_zone)
        first_fee = prorated(policy.fee(period), days, period)  # R15
        if ctx.balance_micros >= first_fee:
            return [FeeCharged("prorated", period, first_fee, at_ms),
                    StatusChanged(AccountStatus.ACTIVE, "funded", at_ms, at_ms)]
        return []
    if lc.status is AccountStatus.SUSPENDED and lc.reason == SuspensionReason.NON_PAYMENT.value:
        unpaid_fee = policy.fee(lc.unpaid_period)
        if ctx.balance_micros >= unpaid_fee:  # R23: the top-up debits the fee and resumes
            return [FeeCharged("monthly", lc.unpaid_period, unpaid_fee, at_ms),
                    StatusChanged(AccountStatus.ACTIVE, "topped_up", at_ms, at_ms)]
    return []


def before_funds(lc: Lifecycle, ctx: Context, at_ms: int, policy: Policy) -> list[Decision]:
    """Deadlines a payment's time may have passed without a tick (R24: too late to resume)."""
    if lc.status is AccountStatus.SUSPENDED and lc.reason == SuspensionReason.NON_PAYMENT.value \
            and at_ms > one_month_later_ms(lc.since_ms, ctx.time_zone):
        return on_tick(lc, ctx, at_ms, policy)
    return []


OPERATOR_EVENTS = (AccountSuspended, AccountResumed, AccountTerminated, FraudHoldPlaced, FraudHoldReleased)


def on_operator(lc: Lifecycle, ctx: Context, event: object, policy: Policy) -> list[Decision]:
    """An operator's (or the fraud system's) lifecycle event. Raises ``InvalidTransition``."""
    status = lc.status
    if status is AccountStatus.TERMINATED:
        raise InvalidTransition(f"{type(event).__name__}: the account is already terminated ({lc.reason})")
    at = event.occurred_at_ms  # type: ignore[attr-defined]
    if isinstance(event, AccountTerminated):
        return termination(lc, ctx, event.reason, at, event.effective_at_ms, policy)
    if isinstance(event, (FraudHoldPlaced, AccountSuspended)) and (
            isinstance(event, FraudHoldPlaced) or event.reason is SuspensionReason.FRAUD_HOLD):
        if status is AccountStatus.FRAUD_HOLD:
            raise InvalidTransition("the account is already on a fraud hold")
        return [StatusChanged(AccountStatus.FRAUD_HOLD, SuspensionReason.FRAUD_HOLD.value, at, at)]
    if isinstance(event, FraudHoldReleased):
        if status is not AccountStatus.FRAUD_HOLD:
            raise InvalidTransition(f"FraudHoldReleased: the account is {status.value}, not on a fraud hold")
        return [StatusChanged(AccountStatus(lc.held_from or AccountStatus.ACTIVE.value), "hold_released", at, at,
                              unpaid_period=lc.unpaid_period)]
    if isinstance(event, AccountSuspended):
        if status is not AccountStatus.ACTIVE:
            raise InvalidTransition(f"AccountSuspended: the account is {status.value}, not ACTIVE")
        unpaid = period_of(at, ctx.time_zone) if event.reason is SuspensionReason.NON_PAYMENT else ""
        return [StatusChanged(AccountStatus.SUSPENDED, event.reason.value, at, at, unpaid_period=unpaid)]
    if isinstance(event, AccountResumed):
        if status is not AccountStatus.SUSPENDED:
            raise InvalidTransition(f"AccountResumed: the account is {status.value}, not SUSPENDED")
        return [StatusChanged(AccountStatus.ACTIVE, "resumed", at, at)]
    raise InvalidTransition(f"{type(event).__name__} is not a lifecycle event")

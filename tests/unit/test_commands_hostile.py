"""Operators' commands on hostile values (the API's and the CLI's inputs, ``streams/edge/commands.py``):
each either refuses in one line (``CommandRefused``) or makes an event the worker takes as it is,
within every bound and the same after an Avro round trip. Never another exception (a traceback
at the CLI, a 500 at the API), never an event the worker would dead-letter for its form.

Each example is a command's valid arguments with none, one or two of them made hostile, so that
both outcomes are drawn often (``--hypothesis-show-statistics`` shows the split)."""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings as hyp_settings, strategies as st

from projections.validation import check_bounds
from schemas.codec import EventCodec
from streams.edge import commands

CODEC = EventCodec()
NOW = 1_796_000_000_000  # 2026-12
# Any text a form or an argument can carry: control characters, separators, markup, long runs.
HOSTILE_TEXT = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
                         st.sampled_from(["", "a" * 300, "<script>", "a\x00b", "x\ny", "usd", "ZZZ", "Mars/Olympus",
                                          "café", "🙂" * 70, " basic", "a:b", "a,b"]))
HOSTILE_AMOUNT = st.one_of(st.integers(-2**70, 2**70), st.sampled_from([0, -1, 10**15, 10**15 + 1, -10**15 - 1]))
HOSTILE_AT = st.one_of(st.integers(-2**63, 2**63), st.sampled_from([0, -1, 946_684_799_999, 4_102_444_800_000]))
HOSTILE = {str: HOSTILE_TEXT, int: HOSTILE_AMOUNT, "at": HOSTILE_AT, list: st.lists(HOSTILE_TEXT, max_size=120)}


def _valid(*values):  # noqa: ANN002, ANN202 - (kind, valid value) per argument
    return list(values)


# Per command: how to call it, and its arguments as (kind, a valid value).
COMMANDS = {
    "opening": (lambda a, c, p, m, n, z, co, t, k, at: commands.opening(a, c, p, m, n, z, co, t, k, at, plans=()),
                _valid((str, "acct-1"), (str, "USD"), (str, "basic"), (str, "prepaid"), (list, ["+15550000001"]),
                       (str, "Europe/Brussels"), (str, "BE"), (str, "BE"), (str, "k1"), ("at", NOW))),
    "opening_sold": (lambda a, p, at: commands.opening(a, "USD", p, "prepaid", [], "UTC", "US", "", "k", at,
                                                       plans=("basic", "business")),
                     _valid((str, "acct-1"), (str, "business"), ("at", NOW))),
    "details": (lambda a, n, ad, tx, k, at: commands.details(a, commands.Customer(n, ad, tx), k, at),
                _valid((str, "acct-1"), (str, "ACME"), (str, "1 Main St\nSpringfield"), (str, "US12"), (str, "k"),
                       ("at", NOW))),
    "payment": (commands.payment, _valid((str, "acct-1"), (int, 25_000_000), (str, "USD"), (str, "ref"), (str, "k"),
                                         ("at", NOW))),
    "refund": (commands.refund, _valid((str, "acct-1"), (int, 5_000_000), (str, "EUR"), (str, "pay:1"), (str, "why"),
                                       (str, "k"), ("at", NOW))),
    "chargeback": (commands.chargeback, _valid((str, "acct-1"), (int, 5_000_000), (str, "USD"), (str, "pay:1"),
                                               (str, "4837"), (str, "k"), ("at", NOW))),
    "adjustment": (commands.adjustment, _valid((str, "acct-1"), (int, -1_500_000), (str, "USD"), (str, "goodwill"),
                                               (str, "outage"), (str, "k"), ("at", NOW))),
    "compensation": (lambda a, m, c, mal, r, k, at: commands.compensation(a, m, c, mal, lambda _: 10**12, r, k, at),
                     _valid((str, "acct-1"), (int, 2_000_000), (str, "USD"), ("at", NOW - 86_400_000),
                            (str, "outage"), (str, "k"), ("at", NOW))),
    "plan_change": (lambda a, p, k, at: commands.plan_change(a, p, k, at, plans=()),
                    _valid((str, "acct-1"), (str, "business"), (str, "k"), ("at", NOW))),
    "dispute": (commands.dispute, _valid((str, "acct-1"), (str, "VL-2026-000001"), (int, 1_000_000), (str, "USD"),
                                         (str, "not mine"), (str, "k"), ("at", NOW))),
    "dispute_resolution": (commands.dispute_resolution,
                           _valid((str, "acct-1"), (str, "dispute:" + "0" * 32), (str, "CUSTOMER_FAVOUR"),
                                  (int, 1_000_000), (str, "USD"), (str, "k"), ("at", NOW))),
    "deal": (lambda a, c, k, at: commands.deal(a, c, k, at, kept=frozenset({"acme-deal"})),
             _valid((str, "acct-1"), (str, "acme-deal"), (str, "k"), ("at", NOW))),
    "credit_limit": (lambda a, m, c, r, k, at: commands.credit_limit(a, m, c, r, k, at),
                     _valid((str, "acct-1"), (int, 500_000_000), (str, "EUR"), (str, "credit check"), (str, "k"),
                            ("at", NOW))),
    "status_change": (lambda ac, a, case, k, at, r: commands.status_change(ac, a, case, k, at, reason=r),
                      _valid((str, "terminate"), (str, "acct-1"), (str, "case-1"), (str, "k"), ("at", NOW),
                             (str, "BREACH"))),
}


@hyp_settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(COMMANDS)))
def test_a_command_refuses_in_one_line_or_makes_an_event_the_worker_takes_as_it_is(data, name):
    build, arguments = COMMANDS[name]
    values = [value for _, value in arguments]
    hostile = data.draw(st.lists(st.integers(0, len(arguments) - 1), max_size=2, unique=True), label="hostile")
    for i in hostile:
        values[i] = data.draw(HOSTILE[arguments[i][0]], label=f"argument {i}")
    try:
        made = build(*values)
    except commands.CommandRefused as refused:
        assert str(refused) and "\n" not in str(refused)
        event(f"{name}: refused")
        return
    event(f"{name}: made")
    check_bounds(made)  # the worker's first check: an InvalidEvent here fails the test
    assert CODEC.decode(CODEC.encode(made)) == [made]

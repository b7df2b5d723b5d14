"""Benchmark: a page of ``GET /v1/accounts`` on the 18.16 server at many accounts; prints JSON.

Fills the ``accounts`` read model with ``--accounts`` accounts of two rows each (an older row and
the newest, unmerged, as a live table mostly is; generated inside ClickHouse), then times
``read_model.list_accounts`` for a page of 500 (the API's largest) in the cases a CRM and a
collections run ask for: the first page, a page from the middle, a common filter (ACTIVE), a
filter 2% of the accounts match (SUSPENDED), one nobody matches (the worst case: the whole table
after ``after``), owing, and a prefix. The best of ``--repeat`` runs each. This is a benchmark,
not a test: nothing here asserts a time.

    python bench/accounts_list.py --accounts 1000000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from streams.api import read_model as rm  # noqa: E402
from streams.clickhouse.client import connect  # noqa: E402
from streams.clickhouse.migrations import migrate  # noqa: E402
from streams.dev.embedded import ClickHouseServer  # noqa: E402

OPENED_S = 1_790_812_800  # 2026-10-01


def fill(ch, accounts: int) -> None:  # noqa: ANN001 - a ClickHouse client
    """Row ``n`` of account ``n % accounts``; the second row of an account is its newest
    (``version`` = ``n``), suspended for one account in 50, owing for 30% of them."""
    ch.execute(
        "INSERT INTO accounts (account_id, currency, plan, pending_plan, billing_mode, status, status_reason, "
        "status_since, time_zone, country_code, tax_jurisdiction, opened_at, balance_micros, paid_micros, "
        "charged_micros, calls_charged, open_disputes, newest_event_at, credit_limit_micros, version) SELECT "
        f"concat('acct-', substring(toString(10000000 + number % {accounts}), 2, 7)), 'USD', "
        "if(number % 7 = 0, 'business', 'basic'), '', if(number % 10 = 0, 'postpaid', 'prepaid'), "
        f"if(number < {accounts}, 'ACTIVE', if(number % 50 = 0, 'SUSPENDED', 'ACTIVE')), '', toDateTime({OPENED_S}), "
        f"'UTC', '1', '', toDateTime({OPENED_S}), toInt64(number % 1000) - 300, 0, 0, 0, 0, toDateTime({OPENED_S}), "
        f"-1, number FROM numbers({2 * accounts})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=within(1_000, 10_000_000), default=1_000_000)
    parser.add_argument("--repeat", type=within(1, 20), default=3)
    args = parser.parse_args()
    middle = f"acct-{args.accounts // 2:07d}"
    cases = {"first_page": (rm.AccountFilter(), ""), "middle_page": (rm.AccountFilter(), middle),
             "active": (rm.AccountFilter(status="ACTIVE"), ""), "suspended_2pct": (rm.AccountFilter(status="SUSPENDED"), ""),
             "nobody": (rm.AccountFilter(plan="gold"), ""), "owing": (rm.AccountFilter(owing=True), middle),
             "prefix_and_plan": (rm.AccountFilter(plan="business", prefix="acct-09"), "")}
    with removed_after_success(), ClickHouseServer(str(scratch_dir("vl-bench-accounts-"))) as server:
        url = f"clickhouse://default@127.0.0.1:{server.tcp_port}/bench_accounts"
        ch = connect(url)
        migrate(ch)
        fill(ch, args.accounts)
        reader = rm.Reader(url, opener=lambda u, c: ch)
        out: dict = {"accounts": args.accounts, "rows": 2 * args.accounts, "page": 500, "server": "18.16",
                     "windows_rows": list(getattr(rm, "WINDOWS_ROWS", ())), "cases": {}}
        for name, (selected, after) in cases.items():
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                page = rm.list_accounts(reader, selected, after, 501)  # the API asks one more: is there a next page
                times.append(time.perf_counter() - started)
            out["cases"][name] = {"seconds": round(min(times), 3), "accounts": len(page),
                                  "first": page[0].account_id if page else None}
        ch.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

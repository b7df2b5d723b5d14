"""Who reads what in ClickHouse (R34, R35), on a real server started with the users file we ship
(deploy/clickhouse/voiceledger-users.xml): the analyst reads the anonymised call log in the
analysts' database and nothing else, finance reads the ledger's database, neither can write.

Debian's 18.16 server has no SQL roles, so access is per user and per database. It also checks
a view's underlying database against the reader, which is why the analysts get a table fed on
insert (streams/clickhouse/call_log.py) and not a view of call_log: the last part shows a view is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

from streams.clickhouse import cluster
from streams.clickhouse.call_log import CALL_LOG_COLUMNS
from streams.clickhouse.migrations import migrate
from streams.clickhouse.client import connect
from streams.dev.embedded import ClickHouseServer
from streams.clickhouse.journal import JOURNAL_COLUMNS

USERS = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse" / "voiceledger-users.xml"
T = 1_790_812_800  # 2026-10-01T00:00:00Z
NOT_ALLOWED = 291  # ClickHouse: DATABASE_ACCESS_DENIED
READONLY = 164  # ClickHouse: READONLY


@pytest.fixture(params=["server", pytest.param("cluster", marks=pytest.mark.cluster)])
def server(request, tmp_path):
    """A server of its own, or the first node of the cluster (whose nodes all have the users
    file: the cluster fixture starts them so). ``cluster``: the name to connect with."""
    if request.param == "cluster":
        nodes = request.getfixturevalue("clickhouse_cluster")
        node = nodes.nodes[1, 1]
        node.cluster = nodes.name
        yield node
        return
    with ClickHouseServer(str(tmp_path / "ch"), users_snippets=(str(USERS),)) as s:
        s.cluster = ""
        yield s


def refused(client: Client, sql: str) -> int:
    with pytest.raises(ServerException) as err:
        client.execute(sql)
    return err.value.code


def test_R34_R35_analysts_read_only_anonymised_calls_and_finance_only_the_ledger(server):
    # On the cluster: the only test that uses the database named voiceledger, which the users file names.
    ch = connect(f"clickhouse://default@127.0.0.1:{server.tcp_port}/voiceledger", server.cluster)
    try:
        migrate(ch)
        calls = []
        for n, (caller, callee) in enumerate((("15550000001", "12125550100"), ("15550000002", "442079460000"))):
            values = {c: 0 for c in CALL_LOG_COLUMNS}
            values.update(call_key=f"c/{n}", carrier_id="c", call_id=str(n), account_id=f"acct-{n}", event_id=f"e{n}",
                          caller=caller, callee=callee, start_at=T + n, answer_at=T + n, end_at=T + n + 60,
                          disposition="ANSWERED", direction="OUTBOUND", trunk="t", destination_prefix=callee[:4],
                          destination_name="d", currency="USD", rate_card_id="usd", charge_micros=10_000 * (n + 1),
                          plan="basic", category="domestic")
            calls.append(tuple(values[c] for c in CALL_LOG_COLUMNS))
        ch.insert("call_log", CALL_LOG_COLUMNS, calls)
        ch.insert("journal", JOURNAL_COLUMNS, [("u:1", 0, "acct-0", "usage", T, "USD", "customer:acct-0", 10_000),
                                               ("u:1", 1, "acct-0", "usage", T, "USD", "revenue:usage", -10_000)])
        # The analyst's and finance's clients read any replica (ClickHouse's default balancing):
        # on a cluster, every replica first fetches what its shard took (seen in CI: 1 row of 2).
        for table in ("voiceledger_analytics.calls", "journal"):
            cluster.sync_replicas(ch, table)
    finally:
        ch.close()

    analyst = Client(host="127.0.0.1", port=server.tcp_port, user="analyst", password="change-me-analyst",
                     database="voiceledger_analytics")
    assert analyst.execute("SELECT count(), sum(charge_micros) FROM calls FINAL") == [(2, 30_000)]
    rows = analyst.execute("SELECT * FROM calls FINAL")
    assert not any("5550000" in str(v) or "2079460000" in str(v) for row in rows for v in row)  # no number
    assert refused(analyst, "SELECT callee FROM voiceledger.call_log") == NOT_ALLOWED
    assert refused(analyst, "SELECT * FROM voiceledger.journal") == NOT_ALLOWED
    assert refused(analyst, "DROP TABLE voiceledger_analytics.calls") == READONLY

    finance = Client(host="127.0.0.1", port=server.tcp_port, user="finance", password="change-me-finance",
                     database="voiceledger")
    assert finance.execute("SELECT sum(amount_micros) FROM journal FINAL") == [(0,)]
    assert finance.execute("SELECT count() FROM call_log FINAL") == [(2,)]
    assert refused(finance, "INSERT INTO journal (entry_id) VALUES ('forged')") == READONLY
    assert refused(finance, "SELECT count() FROM voiceledger_analytics.calls") == NOT_ALLOWED

    wrong = Client(host="127.0.0.1", port=server.tcp_port, user="analyst", password="not-the-password")
    with pytest.raises(ServerException):
        wrong.execute("SELECT 1")

    # Why a table and not a view: on this server a view in the analysts' database that reads
    # call_log is refused to them, because call_log's database is not theirs.
    admin = Client(host="127.0.0.1", port=server.tcp_port)
    admin.execute("CREATE VIEW voiceledger_analytics.plain_view AS SELECT charge_micros FROM voiceledger.call_log")
    if tuple(int(x) for x in admin.execute("SELECT version()")[0][0].split(".")[:2]) < (20, 0):
        assert refused(analyst, "SELECT sum(charge_micros) FROM plain_view") == NOT_ALLOWED

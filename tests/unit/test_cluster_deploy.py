"""The cluster configuration shipped in deploy/clickhouse/cluster/ has the shape of the one the tests
run (streams/dev/cluster.py writes it with loopback ports), so what the tests prove holds for it:
the cluster's name, internal replication on every shard, ZooKeeper, each node's macros."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from streams.dev.cluster import CLUSTER_NAME, cluster_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse" / "cluster"


def paths(element: ET.Element, prefix: str = "") -> set[str]:
    """Every element's path below ``element``, without the root's name (18.16 reads <yandex>,
    current servers <clickhouse>; both merge a config.d file whatever its root is called)."""
    out = set()
    for child in element:
        path = f"{prefix}/{child.tag}"
        out |= {path} | paths(child, path)
    return out


def node_config(shard: int = 1, replica: int = 1) -> ET.Element:
    return ET.fromstring(cluster_config(CLUSTER_NAME, 2181, [[9001, 9002], [9003, 9004]], shard, replica))


def test_the_shipped_cluster_has_the_tested_shape():
    shipped = ET.parse(DEPLOY / "voiceledger-cluster.xml").getroot()
    macros = ET.parse(DEPLOY / "macros-ch-1-1.xml").getroot()
    assert paths(node_config()) <= paths(shipped) | paths(macros)
    shards = shipped.findall(f"remote_servers/{CLUSTER_NAME}/shard")
    assert len(shards) == 2 and all(s.findtext("internal_replication") == "true" for s in shards)
    assert all(len(s.findall("replica")) == 2 for s in shards)
    assert {m.tag for m in macros.find("macros")} == {"shard", "replica"}


def test_every_tested_node_has_a_replica_name_of_its_own_across_the_cluster():
    names = {node_config(s, r).findtext("macros/replica") for s in (1, 2) for r in (1, 2)}
    assert len(names) == 4, "schema_migrations has every node as a replica of one table"
    assert {node_config(s, 1).findtext("macros/shard") for s in (1, 2)} == {"01", "02"}


def test_keeper_replaces_zookeeper_with_three_voters():
    keeper = ET.parse(DEPLOY / "keeper.xml").getroot()
    assert len(keeper.findall("keeper_server/raft_configuration/server")) == 3

"""The same CrdtReplication, unchanged, on the trio runtime: three hosts in this process
talk over loopback TCP, each updates a counter and a set once, and gossip makes them
agree (judged by the convergence checker)."""

from __future__ import annotations

import trio

from dsys.demos.crdt import Replica
from dsys.replication.crdt import check_crdt_convergence, crdt_states
from dsys.runtime import parse_cluster
from tests.runtime.conftest import running
from tests.runtime.helpers import cluster_text, wait_until


class Starter(Replica):
    def on_start(self) -> None:
        self.crdts.counter("likes").increment(2)
        self.crdts.orset("seen-by").add(self.id)


async def test_replicas_converge_over_a_real_network() -> None:
    cluster = parse_cluster(cluster_text({"a": None, "b": None, "c": None}))
    with trio.fail_after(30):
        async with running(cluster, {n: Starter for n in ("a", "b", "c")}) as hosts:
            def agreed() -> bool:
                nodes = {n: host.node for n, host in hosts.items() if host.node is not None}
                states = crdt_states(nodes)
                return len(states) == 3 and all(
                    s.get("likes") is not None and s["likes"].value == 6
                    and s["seen-by"].value == ("a", "b", "c") for s in states.values()) \
                    and bool(check_crdt_convergence(states))

            await wait_until(agreed, 20, "the three replicas agree")

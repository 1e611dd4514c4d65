"""The same servers, balancer and generator, unchanged, on the trio runtime: five hosts in
this process talk over loopback TCP; a server is removed mid-run and drains; every request
is answered once."""

from __future__ import annotations

import trio

from dsys.runtime import parse_cluster
from dsys.scaling import Balancer, Constant, OpenLoop, Server
from tests.runtime.conftest import running
from tests.runtime.helpers import cluster_text, wait_until

SERVERS = ("s0", "s1", "s2")
REQUESTS = 120


async def test_a_balanced_pool_over_a_real_network() -> None:
    names = {"lb": None, "gen": None, **dict.fromkeys(SERVERS)}
    cluster = parse_cluster(cluster_text(names))
    factories = {
        "lb": lambda: Balancer(SERVERS, "two-choices"),
        "gen": lambda: OpenLoop("lb", rate=200.0, limit=REQUESTS),
        **{s: (lambda: Server(Constant(0.005))) for s in SERVERS},
    }
    with trio.fail_after(30):
        async with running(cluster, factories) as hosts:
            def generator() -> OpenLoop:
                node = hosts["gen"].node
                assert isinstance(node, OpenLoop)
                return node

            await wait_until(lambda: hosts["gen"].node is not None
                             and len(generator().completions) >= REQUESTS // 3, 15,
                             "a third of the answers")
            balancer = hosts["lb"].node
            assert isinstance(balancer, Balancer)
            balancer.remove_server("s0")  # between two handlers: the host runs one at a time
            removed_at = generator().now  # on the generator's clock
            await wait_until(lambda: len(generator().completions) == REQUESTS, 15,
                             "every answer", lambda: f"{len(generator().completions)} answers")
            gen = generator()
            assert sorted(c.id for c in gen.completions) == list(range(REQUESTS))
            assert not gen.in_flight and "s0" not in balancer.draining
            # sent after the removal: they reach the balancer after it, and go elsewhere
            assert all(c.server != "s0" for c in gen.completions if c.sent > removed_at)
            assert {c.server for c in gen.completions} == set(SERVERS)

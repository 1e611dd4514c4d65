"""Hierarchical resolution (dsys.naming.dns): message counts, correctness under loss and
the Nemesis, and the staleness a TTL allows, judged by dsys.naming.checkers.

* a cold lookup of a name ``d`` zones deep takes ``2·d`` messages either way; warm caches
  take what the design says (0 for a known name, 2 for a new name of a known zone in
  iterative mode, 2 for a new resolver when the servers cache in recursive mode);
* under loss (and partitions and crashes) every answer is right, or at worst a bounded
  time stale after a move; no answer is staler than ``TTL + hops · in flight``, and some
  are stale (the test sees caching at work);
* a resolver that ignores TTLs and a server that hands its cached answers on with the
  full TTL are caught by the same check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from dsys import Nemesis, Network, Node, Simulation
from dsys.demos.naming import NAME, depth, resolution_counts, zones
from dsys.demos.quorum import scheduled
from dsys.errors import ConfigError
from dsys.naming import (
    LocalResolver,
    Query,
    Refused,
    StubClient,
    Zone,
    ZoneServer,
    ZoneUpdater,
    answer_staleness,
    check_domain_name,
    check_staleness,
)
from dsys.testing import NodeHarness
from tests.naming.broken import FullTTLFromCache, IgnoresTTL

TTL = 1.0
LATENCY = (0.001, 0.010)
IN_FLIGHT = LATENCY[1]
SEEDS = range(8)
SOAK_SEEDS = range(8, 108)
#: The names the clients ask for, and their records in :func:`zones`.
RECORDS = {"www.cs.example": "10.0.2.1", "ftp.cs.example": "10.0.2.2",
           "www.example": "10.0.1.1", "nope.cs.example": None}
#: The links an answer crosses from the zone server that holds it to the resolver.
HOPS = {"iterative": 1, "recursive": depth(NAME)}


# ----- message counts ------------------------------------------------------------------------


def test_message_counts_of_iterative_and_recursive_resolution() -> None:
    d = depth(NAME)
    assert d == 3
    iterative = [step.messages for step in resolution_counts("iterative")]
    recursive = [step.messages for step in resolution_counts("recursive")]
    # cold: a query and a reply per zone; the same name again: the resolver's cache; a new
    # name of the same zone: iterative asks the zone's server at once (a cached referral),
    # recursive asks the root again; a new resolver: iterative starts cold, recursive finds
    # the answer in the root's cache.
    assert iterative == [2 * d, 0, 2, 2 * d]
    assert recursive == [2 * d, 0, 2 * d, 2]


def test_message_counts_without_caches() -> None:
    d = depth(NAME)
    no_server_cache = [s.messages for s in resolution_counts("recursive", server_cache=False)]
    assert no_server_cache == [2 * d, 0, 2 * d, 2 * d]
    no_resolver_cache = [s.messages for s in resolution_counts("iterative",
                                                               resolver_cache=False)]
    assert no_resolver_cache == [2 * d] * 4
    # the root's cache still answers a recursive resolver that keeps nothing
    assert [s.messages for s in resolution_counts("recursive", resolver_cache=False)] == [
        2 * d, 2, 2 * d, 2]


def test_where_the_load_falls_iterative_spares_the_root() -> None:
    iterative = resolution_counts("iterative")
    recursive = resolution_counts("recursive")
    assert sum(s.root for s in iterative) < sum(s.root for s in recursive)


# ----- correctness under loss, partitions and crashes -----------------------------------------


def dns(seed: int, mode: str, *, drop: float = 0.0, ttl: float = TTL,
        resolver: Callable[..., Node] = LocalResolver,
        server: Callable[..., Node] = ZoneServer, clients: int = 2,
        names: Sequence[str] = tuple(RECORDS), think: float = 0.05, ops: int | None = None,
        updates: Sequence[tuple[float, dict[str, Any]]] = ()) -> Simulation:
    """The zones of :func:`zones` (TTL ``ttl``), two resolvers in ``mode``, and
    ``clients`` stub clients per resolver asking for ``names`` in turn."""
    sim = Simulation(seed=seed, network=Network(latency=LATENCY, drop=drop))
    for server_id, zone in zones(ttl=ttl, referral_ttl=3 * ttl).items():
        sim.add_node(server_id, functools.partial(server, [zone]))
    for r in ("r1", "r2"):
        sim.add_node(r, functools.partial(resolver, "root", mode=mode, retry=0.1))
        for i in range(clients):
            turn = iter(range(10**9))
            sim.add_client(f"{r}-c{i}", functools.partial(StubClient, resolver=r, retry=0.5,
                                                          op_timeout=10.0),
                           ops=ops, think=think, workload=lambda rng, turn=turn: {
                               "f": "resolve", "key": names[next(turn) % len(names)],
                               "value": None})
    if updates:
        plan, think_time = scheduled(sim, updates)
        sim.add_client("admin", functools.partial(ZoneUpdater, server="ns-cs"), workload=plan,
                       think=think_time, ops=len(updates))
    return sim


@pytest.mark.parametrize("mode", ["iterative", "recursive"])
def test_resolution_is_right_under_loss_with_retries(mode: str) -> None:
    for seed in SEEDS:
        sim = dns(seed, mode, drop=0.15, ops=12)
        sim.run_until(lambda s: len(s.history) == 2 * 4 * 12, timeout=60.0)
        done = [e for e in sim.history if e["type"] != "invoke"]
        assert len(done) == 4 * 12, f"seed {seed}: {len(done)} of 48 lookups completed"
        for event in done:
            assert event["type"] == "ok", (seed, event)
            assert event["value"] == RECORDS[event["key"]], (seed, event)
        assert check_staleness(sim.trace, bound=TTL + HOPS[mode] * IN_FLIGHT)


#: www.cs.example moves every 0.9 s; a name is created, another deleted.
MOVES: list[tuple[float, dict[str, Any]]] = [
    (0.7 + 0.9 * i, {"f": "update", "key": "www.cs.example", "value": f"10.0.2.{10 + i}"})
    for i in range(8)] + [
    (2.0, {"f": "update", "key": "nope.cs.example", "value": "10.0.2.99"}),  # created
    (4.0, {"f": "update", "key": "ftp.cs.example", "value": None}),  # deleted
]


def judge_moves(sim: Simulation, mode: str) -> float:
    """The staleness check with the bound of ``mode``; returns the stalest answer."""
    bound = TTL + HOPS[mode] * IN_FLIGHT
    report = check_staleness(sim.trace, bound=bound)
    assert report, report.explain()
    return max(a.stale or 0.0 for a in answer_staleness(sim.trace))


@pytest.mark.parametrize("mode", ["iterative", "recursive"])
def test_no_answer_is_staler_than_the_ttl_under_moves_loss_and_the_nemesis(mode: str) -> None:
    stalest = 0.0
    for seed in SEEDS:
        sim = dns(seed, mode, drop=0.1, updates=MOVES)
        Nemesis(faults=("partition", "isolate", "crash"), interval=(0.5, 1.5),
                duration=(0.2, 1.0), stop=8.0).install(sim)
        sim.run(until=10.0)
        stalest = max(stalest, judge_moves(sim, mode))
        # after the faults stop, everyone resolves again
        late = [e for e in sim.history if e["type"] != "invoke" and e["time"] > 9.0]
        assert late and all(e["type"] == "ok" for e in late), seed
    assert stalest > TTL / 2, "no answer was much stale: the caches were not exercised"


@pytest.mark.soak
@pytest.mark.parametrize("mode", ["iterative", "recursive"])
def test_staleness_soak(mode: str) -> None:
    for seed in SOAK_SEEDS:
        sim = dns(seed, mode, drop=0.1, updates=MOVES)
        Nemesis(faults=("partition", "isolate", "crash"), interval=(0.5, 1.5),
                duration=(0.2, 1.0), stop=8.0).install(sim)
        sim.run(until=10.0)
        judge_moves(sim, mode)


# ----- broken caches are caught ----------------------------------------------------------------


class ForgetfulResolver(LocalResolver):
    """A local resolver whose cache ignores TTLs."""

    def __init__(self, root: str = "root", *, mode: str = "iterative", retry: float = 0.2
                 ) -> None:
        Node.__init__(self)
        self.resolver = self.add_component(IgnoresTTL(root, mode=mode, retry=retry))


@pytest.mark.parametrize("mode", ["iterative", "recursive"])
def test_a_resolver_that_ignores_the_ttl_is_caught(mode: str) -> None:
    sim = dns(1, mode, updates=MOVES, resolver=ForgetfulResolver)
    sim.run(until=10.0)
    report = check_staleness(sim.trace, bound=TTL + HOPS[mode] * IN_FLIGHT)
    assert not report and "s stale, more than" in report.violations[0].text


def test_a_server_that_hands_on_the_full_ttl_is_caught() -> None:
    """r1 makes the root cache the name at t = 0.1; the name moves at 0.3; r2 asks at
    0.95, when the root's copy has 0.15 s left: it must cache it no longer than that."""
    plan = [(0.3, {"f": "update", "key": NAME, "value": "10.0.2.77"})]

    def run(server: Callable[..., Node]) -> Simulation:
        sim = Simulation(seed=1, network=Network(latency=LATENCY))
        for server_id, zone in zones(ttl=TTL).items():
            sim.add_node(server_id, functools.partial(server, [zone]))
        for r, start in (("r1", 0.1), ("r2", 0.95)):
            sim.add_node(r, functools.partial(LocalResolver, "root", mode="recursive"))
            sim.add_client(f"{r}-c", functools.partial(StubClient, resolver=r), think=0.1,
                           ops=None, start=start,
                           workload=lambda rng: {"f": "resolve", "key": NAME, "value": None})
        ops, think = scheduled(sim, plan)
        sim.add_client("admin", functools.partial(ZoneUpdater, server="ns-cs"),
                       workload=ops, think=think, ops=1)
        sim.run(until=3.0)
        return sim

    bound = TTL + HOPS["recursive"] * IN_FLIGHT
    assert check_staleness(run(ZoneServer).trace, bound=bound)
    report = check_staleness(run(FullTTLFromCache).trace, bound=bound)
    assert not report, "the broken server went unnoticed"


# ----- details ---------------------------------------------------------------------------------


def test_no_such_name_is_an_answer_and_is_cached() -> None:
    sim = dns(1, "iterative", names=["nope.cs.example"], clients=1, ops=2, think=0.2)
    sim.run(until=2.0)
    assert [e["value"] for e in sim.history if e["type"] == "ok"
            and e["client"] == "r1-c0"] == [None, None]
    r1 = [e.data["source"] for e in sim.trace if e.kind == "note"
          and e.data["event"] == "answer" and e.node == "r1"]
    assert r1 == ["network", "cache"]


def test_a_server_refuses_names_outside_its_zones_and_the_client_hears_servfail() -> None:
    h = NodeHarness(lambda: ZoneServer([zones()["ns-cs"]]), "ns-cs", ["r"])
    h.start()
    h.deliver("r", Query("www.example", recursive=False))
    assert h.sent(Refused)[-1].msg == Refused("www.example")
    sim = Simulation(seed=1, network=Network(latency=LATENCY))
    sim.add_node("ns-cs", functools.partial(ZoneServer, [zones()["ns-cs"]]))
    sim.add_node("r", functools.partial(LocalResolver, "ns-cs"))  # not a root server
    sim.add_client("c", functools.partial(StubClient, resolver="r"), ops=1,
                   workload=lambda rng: {"f": "resolve", "key": "www.example", "value": None})
    sim.run(until=1.0)
    assert [e["type"] for e in sim.history] == ["invoke", "fail"]


def test_updates_survive_a_crash_of_the_zone_server() -> None:
    sim = dns(1, "iterative", clients=0,
              updates=[(0.1, {"f": "update", "key": NAME, "value": "10.0.2.50"}),
                       (0.2, {"f": "update", "key": "www.other", "value": "10.0.0.1"})])
    sim.at(0.5, sim.crash, "ns-cs")
    sim.at(0.6, sim.restart, "ns-cs")
    sim.run(until=1.0)
    assert [e["type"] for e in sim.history if e["type"] != "invoke"] == ["ok", "fail"]
    server = sim.nodes["ns-cs"]
    assert isinstance(server, ZoneServer)
    assert server.records["cs.example"][NAME] == "10.0.2.50"


def test_bad_names_and_zones_get_a_clear_error() -> None:
    for bad in ("WWW.example", "www..example", "www.example.", "-x.example", "a" * 64, 7):
        with pytest.raises(ConfigError, match="is not a domain name"):
            check_domain_name(bad)
    with pytest.raises(ConfigError, match=r"cannot hold a record of www\.other"):
        Zone("example", records={"www.other": "10.0.0.1"})
    with pytest.raises(ConfigError, match="only delegate zones below it"):
        Zone("example", delegations={"other": "ns"})
    with pytest.raises(ConfigError, match="ttl must be a positive number"):
        Zone("example", ttl=0)
    with pytest.raises(ConfigError, match="mode must be one of"):
        LocalResolver("root", mode="sideways")
    with pytest.raises(ConfigError, match="at least one zone"):
        ZoneServer([])


# ----- on the trio runtime ---------------------------------------------------------------------


async def test_resolution_runs_on_the_trio_runtime() -> None:
    import trio

    from dsys.runtime import parse_cluster, run_client
    from tests.runtime.conftest import running
    from tests.runtime.helpers import cluster_text

    tree = zones()
    cluster = parse_cluster(cluster_text({**dict.fromkeys(tree), "resolver": None},
                                         clients=("c1",)))
    factories: dict[str, Callable[[], Node]] = {
        server: functools.partial(ZoneServer, [zone]) for server, zone in tree.items()}
    factories["resolver"] = functools.partial(LocalResolver, "root", mode="recursive")
    names = iter(["www.cs.example", "www.example", "nope.cs.example", "www.cs.example"])
    with trio.fail_after(30):
        async with running(cluster, factories):
            history = await run_client(
                lambda: StubClient(resolver="resolver"), cluster, "c1", ops=4, echo_logs=False,
                workload=lambda rng: {"f": "resolve", "key": next(names), "value": None})
    assert [e["value"] for e in history if e["type"] == "ok"] == [
        "10.0.2.1", "10.0.1.1", None, "10.0.2.1"]

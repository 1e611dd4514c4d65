"""The name service with leases (dsys.naming.registry), judged by dsys.naming.checkers.

* a crashed owner's name expires exactly one lease after the last registration that
  reached the server, and a standby takes it over; lookups never name a crashed owner
  longer than a lease (plus a message in flight) after its crash;
* owners that live and renew never lose their names, under loss and a seeded Nemesis of
  partitions and crashes (the name server's too: its table is soft state);
* three broken variants (a lease that never expires, one that renewals do not extend,
  an owner that renews too rarely) are each caught;
* the same nodes run on the trio runtime.
"""

from __future__ import annotations

import functools
from random import Random

import pytest

from dsys import Nemesis, Network, Node, Simulation
from dsys.errors import ConfigError
from dsys.naming import (
    Deregister,
    Lookup,
    LookupReply,
    NameClient,
    NameServer,
    Register,
    Registered,
    Registration,
    check_leases,
    check_names_kept,
)
from dsys.testing import NodeHarness
from tests.naming.broken import LazyRegistration, LeaseFromFirstGrant, NeverExpires

LEASE = 1.0
LATENCY = (0.001, 0.010)
IN_FLIGHT = LATENCY[1]
SEEDS = range(10)
SOAK_SEEDS = range(10, 210)


class Owner(Node):
    """A server that registers ``names`` (with ``registration``, a Registration class)."""

    def __init__(self, names: list[str], registration: type[Registration] = Registration
                 ) -> None:
        super().__init__()
        self.registration = self.add_component(registration(names, server="names"))


def name_service(seed: int, owners: dict[str, list[str]], *, drop: float = 0.0,
                 server: type[NameServer] = NameServer,
                 registration: type[Registration] = Registration,
                 starts: dict[str, float] | None = None) -> Simulation:
    """A name server ``names``, the ``owners`` (id -> names it registers; each starts at
    0, or at its time in ``starts``), and a client ``c1`` that looks every name up in
    turn, every 0.1 s."""
    sim = Simulation(seed=seed, network=Network(latency=LATENCY, drop=drop))
    sim.add_node("names", functools.partial(server, lease=LEASE))
    for owner, names in owners.items():
        sim.add_node(owner, functools.partial(Owner, names, registration),
                     start=(starts or {}).get(owner))
    everything = sorted({name for names in owners.values() for name in names})
    turn = iter(range(10**9))
    sim.add_client("c1", NameClient, ops=None, think=0.1, workload=lambda rng: {
        "f": "lookup", "key": everything[next(turn) % len(everything)], "value": None})
    return sim


def answers(sim: Simulation, name: str, start: float = 0.0) -> list[tuple[float, str | None]]:
    """``(time, address)`` of the lookups of ``name`` the server answered from ``start``."""
    return [(e.time, e.data["address"]) for e in sim.trace
            if e.kind == "note" and e.data["event"] == "lookup" and e.data["name"] == name
            and e.time >= start]


def expiries(sim: Simulation, owner: str) -> list[float]:
    return [e.time for e in sim.trace if e.kind == "note" and e.data["event"] == "expire"
            and e.data["owner"] == owner]


# ----- a crash: the name expires, a standby takes it ------------------------------------------


def crash_scenario(seed: int, server: type[NameServer] = NameServer) -> tuple[Simulation, float]:
    """p1 holds ``svc-1`` (p1b, started later, stands by for it), p2 holds ``svc-2``; 5%
    loss; p1 crashes at a seeded time between 1 and 3 s."""
    sim = name_service(seed, {"p1": ["svc-1"], "p1b": ["svc-1"], "p2": ["svc-2"]},
                       drop=0.05, server=server, starts={"p1b": 0.5})
    crash = Random(f"{seed}/crash").uniform(1.0, 3.0)
    sim.at(crash, sim.crash, "p1")
    sim.run(until=crash + 4 * LEASE)
    return sim, crash


def judge_crash(sim: Simulation, crash: float) -> None:
    report = check_leases(sim.trace, lease=LEASE, in_flight=IN_FLIGHT)
    assert report, report.explain()
    kept = check_names_kept(sim.trace, lease=LEASE)
    assert kept, kept.explain()
    # p1's name expired, exactly when the checker says, within a lease (plus a message in
    # flight) of the crash
    [expired] = expiries(sim, "p1")
    assert crash < expired <= crash + LEASE + IN_FLIGHT
    # and the standby has it a while later (it asks every lease/3, retries every 0.1 s)
    late = answers(sim, "svc-1", start=expired + LEASE)
    assert late and all(address == "p1b" for _, address in late), late
    assert all(address == "p2" for _, address in answers(sim, "svc-2", start=0.5))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_crashed_owners_name_expires_after_one_lease_and_the_standby_takes_it(
        seed: int) -> None:
    judge_crash(*crash_scenario(seed))


def test_a_lease_that_never_expires_is_caught() -> None:
    for seed in SEEDS[:3]:
        sim, crash = crash_scenario(seed, server=NeverExpires)
        report = check_leases(sim.trace, lease=LEASE, in_flight=IN_FLIGHT)
        assert not report
        assert "has been down" in report.violations[0].text
        with pytest.raises(AssertionError):
            judge_crash(sim, crash)


# ----- live owners keep their names, whatever the Nemesis does ------------------------------


def nemesis_scenario(seed: int, *, server: type[NameServer] = NameServer,
                     registration: type[Registration] = Registration) -> Simulation:
    """Three owners, 5% loss, and a Nemesis of partitions, isolations and crashes (of the
    owners and of the name server) until t = 8 s; then 4 s of calm."""
    sim = name_service(seed, {f"p{i}": [f"svc-{i}"] for i in (1, 2, 3)}, drop=0.05,
                       server=server, registration=registration)
    Nemesis(faults=("partition", "isolate", "crash"), interval=(0.3, 1.5),
            duration=(0.3, 2.5), stop=8.0).install(sim)
    sim.run(until=12.0)
    return sim


@pytest.mark.parametrize("seed", SEEDS)
def test_live_renewing_owners_keep_their_names_under_loss_and_the_nemesis(seed: int) -> None:
    judge_nemesis(nemesis_scenario(seed))


def judge_nemesis(sim: Simulation) -> None:
    # Losing a name needs every registration of a whole lease lost: about 6 tries at 5%
    # loss, 0.05**6 = 1.6e-8 per lease; over 10 seeds of 3 owners and 12 s, < 1e-5.
    for report in (check_leases(sim.trace, lease=LEASE, in_flight=IN_FLIGHT),
                   check_names_kept(sim.trace, lease=LEASE)):
        assert report, report.explain()
    # After the Nemesis stopped (everything healed and restarted at t = 8 s), every name
    # is back within a renewal period and stays so.
    for i in (1, 2, 3):
        found = answers(sim, f"svc-{i}", start=8.0 + LEASE)
        assert found and all(address == f"p{i}" for _, address in found), (i, found)


@pytest.mark.soak
def test_names_and_leases_soak() -> None:
    for seed in SOAK_SEEDS:
        judge_crash(*crash_scenario(seed))
        judge_nemesis(nemesis_scenario(seed))


def test_a_lease_that_renewals_do_not_extend_is_caught() -> None:
    sim = nemesis_scenario(1, server=LeaseFromFirstGrant)
    leases = check_leases(sim.trace, lease=LEASE, in_flight=IN_FLIGHT)
    kept = check_names_kept(sim.trace, lease=LEASE)
    assert not leases and "before the lease" in leases.violations[0].text
    assert not kept


def test_an_owner_that_renews_too_rarely_is_caught() -> None:
    sim = nemesis_scenario(1, registration=LazyRegistration)
    assert check_leases(sim.trace, lease=LEASE, in_flight=IN_FLIGHT)  # the server is right
    kept = check_names_kept(sim.trace, lease=LEASE)
    assert not kept and "could reach names" in kept.violations[0].text


def test_a_run_is_the_same_under_any_hash_seed() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = ("from tests.naming.test_registry import nemesis_scenario\n"
              "print(nemesis_scenario(3).trace.digest())")
    digests = set()
    for hashseed in ("0", "77"):
        result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
                                env={**os.environ, "PYTHONHASHSEED": hashseed})
        assert result.returncode == 0, result.stderr
        digests.add(result.stdout.strip())
    assert digests == {nemesis_scenario(3).trace.digest()}


# ----- the server's handlers, one event at a time ----------------------------------------------


def test_a_late_copy_of_a_registration_does_not_revive_a_deregistered_name() -> None:
    h = NodeHarness(lambda: NameServer(lease=LEASE), "names", ["p1", "p2"], clients=["c"])
    h.start()
    h.deliver("p1", Register("svc", "p1", "i1", 1))
    h.deliver("p1", Deregister("svc", "i1", 2))
    h.deliver("p1", Register("svc", "p1", "i1", 1))  # the network copied the first one
    h.deliver("c", Lookup("svc", 1))
    assert h.sent(LookupReply)[-1].msg.address is None
    h.deliver("p2", Register("svc", "p2", "j1", 1))  # someone else may take it at once
    h.deliver("c", Lookup("svc", 2))
    assert h.sent(LookupReply)[-1].msg.address == "p2"


def test_a_taken_name_is_refused_and_the_holder_named() -> None:
    h = NodeHarness(lambda: NameServer(lease=LEASE), "names", ["p1", "p2"])
    h.start()
    h.deliver("p1", Register("svc", "10.0.0.1", "i1", 1))
    h.deliver("p2", Register("svc", "10.0.0.2", "j1", 1))
    refused = h.sent(Registered, to="p2")[-1].msg
    assert (refused.granted, refused.holder) == (False, "p1")
    h.advance(LEASE)  # p1 did not renew: its lease ran out
    h.deliver("p2", Register("svc", "10.0.0.2", "j1", 2))
    assert h.sent(Registered, to="p2")[-1].msg.granted


def test_bad_configuration_gets_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="lease must be a positive number"):
        NameServer(lease=0)
    with pytest.raises(ConfigError, match="printable characters"):
        Registration("")
    with pytest.raises(ConfigError, match="at least one name"):
        Registration([])
    with pytest.raises(ConfigError, match="retry must be"):
        Registration("svc", retry=0)


# ----- on the trio runtime ----------------------------------------------------------------------


async def test_the_same_nodes_run_on_the_trio_runtime() -> None:
    import trio

    from dsys.runtime import parse_cluster, run_client
    from tests.runtime.conftest import running
    from tests.runtime.helpers import cluster_text, wait_until

    lease = 0.5
    cluster = parse_cluster(cluster_text({"names": None, "p1": None, "p2": None},
                                         clients=("c1",)))
    lookups = ["svc-1", "svc-2"] * 2

    async def look_up() -> list[str | None]:
        ops = iter(lookups)
        history = await run_client(lambda: NameClient(server="names"), cluster, "c1",
                                   workload=lambda rng: {"f": "lookup", "key": next(ops),
                                                         "value": None},
                                   ops=len(lookups), echo_logs=False)
        return [e["value"] for e in history if e["type"] == "ok"]

    with trio.fail_after(30):
        async with running(cluster, {"names": lambda: NameServer(lease=lease),
                                     "p1": lambda: Owner(["svc-1"]),
                                     "p2": lambda: Owner(["svc-2"])}) as hosts:
            server = hosts["names"]
            await wait_until(lambda: server.node is not None and {"svc-1", "svc-2"} <= set(
                server.node.bindings), 10, "both names registered")  # type: ignore[attr-defined]
            assert await look_up() == ["p1", "p2", "p1", "p2"]
            hosts["p1"].stop()  # p1 stops renewing, as a crashed process would
            await wait_until(lambda: "svc-1" not in server.node.bindings,  # type: ignore
                             10, "p1's name to expire")
            assert await look_up() == [None, "p2", None, "p2"]

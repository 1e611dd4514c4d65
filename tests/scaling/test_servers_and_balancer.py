"""Servers with service times and the balancer in front of them (dsys.scaling), in the
simulator: the queue is FIFO with k workers and counts what is inside; the balancer relays
every answer, routes by key, changes its pool at run time, drains removed servers
without losing a request (and a balancer that keeps routing to a removed server is
caught), and saturates at 1/cost; the same seed gives the same trace, under any
PYTHONHASHSEED."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsys import Network, Simulation
from dsys.core import Node
from dsys.demos.scaling import BALANCER, GENERATOR, at_node, measure_throughput, names, pool
from dsys.errors import ConfigError
from dsys.scaling import (
    Balancer,
    Bimodal,
    ClosedLoop,
    Constant,
    OpenLoop,
    RateSchedule,
    Rejected,
    Reply,
    Request,
    Server,
    Uniform,
    check_drained,
    check_every_request_answered,
)
from tests.scaling.broken import RoutesToRemoved

ROOT = Path(__file__).resolve().parents[2]


class Burst(Node):
    """Sends ``count`` requests to ``target`` at once and logs each answer."""

    def __init__(self, target: str, count: int) -> None:
        super().__init__()
        self.target, self.count = target, count
        self.answers: list[tuple[float, int, str, int]] = []

    def on_start(self) -> None:
        for n in range(self.count):
            self.send(self.target, Request(n, f"k{n}"))

    def on_message(self, src: str, msg: object) -> None:
        assert isinstance(msg, Reply)
        self.answers.append((round(self.now, 6), msg.id, msg.server, msg.queue))


def burst(count: int, server: Server, latency: float = 0.001) -> tuple[Simulation, Burst]:
    sim = Simulation(seed=1, network=Network(latency=latency))
    sim.add_node("s", lambda: server)
    sim.add_node("c", lambda: Burst("s", count))
    sim.run(until=10.0)
    client = sim.node("c")
    assert isinstance(client, Burst)
    return sim, client


def test_one_worker_serves_in_arrival_order_and_counts_its_queue() -> None:
    sim, client = burst(4, Server(Constant(0.1)))
    # arrive together at 1 ms; served one after another; each answer 1 ms on the way
    assert client.answers == [(0.102, 0, "s", 3), (0.202, 1, "s", 2), (0.302, 2, "s", 1),
                              (0.402, 3, "s", 0)]
    server = sim.node("s")
    assert isinstance(server, Server)
    assert (server.max_queue, server.served, server.queue_length) == (4, 4, 0)
    assert server.busy_time == pytest.approx(0.4)


def test_k_workers_serve_k_at_a_time() -> None:
    sim, client = burst(5, Server(Constant(0.1), workers=2))
    assert [t for t, *_ in client.answers] == [0.102, 0.102, 0.202, 0.202, 0.302]
    assert [n for _, n, *_ in client.answers] == [0, 1, 2, 3, 4]  # FIFO
    server = sim.node("s")
    assert isinstance(server, Server)
    assert server.busy_time == pytest.approx(0.5)  # five services of 0.1 s, two workers


def test_service_times_follow_their_distribution() -> None:
    sim = Simulation(seed=2, network=Network(latency=0.0))
    sim.add_node("s", lambda: Server(Uniform(0.01, 0.03)))
    sim.add_node("gen", lambda: ClosedLoop("s", users=1, until=100.0))
    sim.run(until=101.0)
    gen = sim.node("gen")
    assert isinstance(gen, ClosedLoop)
    latencies = [c.latency for c in gen.completions]
    assert min(latencies) >= 0.01 and max(latencies) <= 0.03
    mean = sum(latencies) / len(latencies)
    # ~5,000 draws of a uniform (sd 0.0058): the mean within 5 standard errors of 0.02
    assert abs(mean - 0.02) < 5 * 0.0058 / len(latencies) ** 0.5
    assert Bimodal(0.001, 0.1, 0.5).mean == pytest.approx(0.0505)


def test_a_machine_that_is_off_answers_nothing() -> None:
    sim, client = burst(2, Server(Constant(0.1), active=False))
    assert client.answers == []
    refused = [e for e in sim.trace if e.kind == "note" and e.data["event"] == "refused"]
    assert len(refused) == 2
    assert not check_drained(sim.trace)  # the checker calls them lost


def test_the_balancer_relays_every_answer_under_the_clients_own_ids() -> None:
    sim = pool(1, 3, "round-robin", lambda: OpenLoop(BALANCER, rate=200.0, until=2.0),
               trace=True)
    sim.add_node("other", lambda: OpenLoop(BALANCER, rate=100.0, until=2.0))
    sim.run(until=3.0)
    report = check_every_request_answered(sim.trace)
    assert report, report.explain()
    assert report.judged > 500
    for gen in ("gen", "other"):  # both generators number from 0: the balancer keeps
        node = sim.node(gen)      # them apart with its tickets
        assert isinstance(node, OpenLoop)
        assert sorted(c.id for c in node.completions) == list(range(node.issued))


def test_sticky_routing_through_the_balancer_keeps_each_key_on_one_server() -> None:
    sim = pool(2, 6, "consistent-hash", lambda: OpenLoop(BALANCER, rate=500.0, keys=50,
                                                         until=2.0))
    sim.run(until=3.0)
    gen = sim.node(GENERATOR)
    lb = sim.node(BALANCER)
    assert isinstance(gen, OpenLoop) and isinstance(lb, Balancer)
    served: dict[str, set[str]] = {}
    for c in gen.completions:
        served.setdefault(c.key, set()).add(c.server)
    assert len(served) == 50 and all(len(s) == 1 for s in served.values())
    assert all(lb.policy.choose(k, lb.outstanding, lb.rng) in s for k, s in served.items())


def test_a_removed_server_drains_and_gets_nothing_new_and_one_added_gets_work() -> None:
    sim = pool(3, 4, "least-outstanding",
               lambda: OpenLoop(BALANCER, rate=350.0, until=3.0), spares=1, trace=True)
    servers = names(5)
    at_node(sim, 1.0, BALANCER, "remove_server", servers[0])
    at_node(sim, 2.0, BALANCER, "add_server", servers[4])
    sim.run(until=4.0)
    for report in (check_every_request_answered(sim.trace), check_drained(sim.trace)):
        assert report, report.explain()
    drained = [e for e in sim.trace if e.kind == "note" and e.data["event"] == "drained"]
    assert len(drained) == 1 and 1.0 <= drained[0].time < 1.5
    gen = sim.node(GENERATOR)
    assert isinstance(gen, OpenLoop)
    assert all(c.server != servers[0] for c in gen.completions if c.sent > 1.0001)
    assert any(c.server == servers[4] for c in gen.completions)
    assert all(c.server != servers[4] for c in gen.completions if c.sent < 2.0)


def test_a_balancer_that_keeps_routing_to_a_removed_server_is_caught() -> None:
    sim = Simulation(seed=4, network=Network(latency=0.0002))
    servers = names(3)
    for name in servers:
        sim.add_node(name, lambda: Server(0.01))
    sim.add_node(BALANCER, lambda: RoutesToRemoved(servers, "round-robin"))
    sim.add_node(GENERATOR, lambda: OpenLoop(BALANCER, rate=200.0, until=2.0))
    at_node(sim, 1.0, BALANCER, "remove_server", servers[0])
    sim.run(until=3.0)
    report = check_drained(sim.trace)
    assert not report and "which it removed at t=1.000000" in report.explain()


def test_with_no_server_in_service_requests_are_rejected() -> None:
    sim = pool(5, 1, "random", lambda: OpenLoop(BALANCER, rate=100.0, until=1.0), trace=True)
    at_node(sim, 0.5, BALANCER, "remove_server", names(1)[0])
    sim.run(until=2.0)
    gen = sim.node(GENERATOR)
    assert isinstance(gen, OpenLoop)
    assert gen.rejected > 20 and gen.rejected + len(gen.completions) == gen.issued
    assert check_every_request_answered(sim.trace)
    assert not check_every_request_answered(sim.trace, allow_rejected=False)
    assert isinstance(Rejected(1, "x"), Rejected)


def test_throughput_grows_with_servers_until_the_balancer_saturates() -> None:
    cost = 0.0005  # the balancer can forward 2,000 requests a second; a server does 100
    runs = {n: measure_throughput(n, cost=cost, requests=2000) for n in (2, 4, 8, 40)}
    # Closed loop, 4 users a server: servers are busy nearly all the time.
    for n in (2, 4, 8):
        assert 0.85 * n * 100 < runs[n].throughput <= n * 100 * 1.05
    # 40 servers could do 4,000 a second: the balancer caps it at 2,000.
    assert 0.9 * 2000 < runs[40].throughput <= 2000 * 1.02


DIGESTS = (
    "from dsys.demos.scaling import pool, BALANCER\n"
    "from dsys.scaling import OpenLoop\n"
    "for policy in ('round-robin', 'random', 'least-outstanding', 'two-choices',\n"
    "               'consistent-hash'):\n"
    "    sim = pool(9, 5, policy, lambda: OpenLoop(BALANCER, rate=300.0, until=1.0),\n"
    "               trace=True)\n"
    "    sim.run(until=1.5)\n"
    "    print(sim.trace.digest())\n"
)


def test_the_same_seed_gives_the_same_trace_under_any_hash_seed(
        capsys: pytest.CaptureFixture[str]) -> None:
    exec(DIGESTS, {})  # here, under this process's hash seed
    here = capsys.readouterr().out
    other = "7" if os.environ.get("PYTHONHASHSEED") == "12345" else "12345"
    env = {**os.environ, "PYTHONHASHSEED": other}
    out = subprocess.run([sys.executable, "-c", DIGESTS], capture_output=True, text=True,
                         timeout=120, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == here and len(set(here.split())) == 5


def test_bad_configurations_are_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="workers >= 1"):
        Server(0.01, workers=0)
    with pytest.raises(ConfigError, match="positive number of seconds"):
        Constant(-1.0)
    with pytest.raises(ConfigError, match="cost per request"):
        Balancer(["a"], cost=-1.0)
    with pytest.raises(ConfigError, match="times must not decrease"):
        RateSchedule(((5, 1.0), (1, 2.0)))
    with pytest.raises(ConfigError, match="rate must be a finite number > 0"):
        OpenLoop("lb", rate=0.0)
    with pytest.raises(ConfigError, match="users must be"):
        ClosedLoop("lb", users=0)

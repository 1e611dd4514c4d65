"""A balancer under faults (dsys.scaling), in the simulator, over many seeds:

* a server crashes while it holds requests: the balancer ejects it after its timeout,
  sends those requests to another server (or rejects them with a reason that names the
  server), and every request's outcome reaches its client exactly once; without a timeout
  they are lost, and the checker says so;
* the crashed server restarts, registers again and serves again;
* a slow server gets far less than its round-robin share under least-outstanding and two
  choices (and a "two choices" that ignores load does not pass);
* the balancer itself crashes: clients with a timeout see failures, never a hang, and
  service resumes when it restarts and the servers register again;
* random network faults on top of server crashes: the counts still add up, and once the
  faults stop every server is back in service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from random import Random
from typing import Any

import pytest

from dsys import Nemesis, Network, Simulation
from dsys.demos.scaling import names
from dsys.scaling import (
    Balancer,
    ClosedLoop,
    Constant,
    Exponential,
    OpenLoop,
    Policy,
    Server,
    TwoChoices,
    check_drained,
    check_every_request_answered,
    percentile,
)
from dsys.scaling.workload import _Generator
from dsys.trace import Trace

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("round-robin", "random", "least-outstanding", "two-choices", "consistent-hash")
SERVERS = names(4)
LB, GEN = "lb", "gen"
SEEDS = range(4)
SOAK_SEEDS = range(4, 104)


def setup(seed: int, policy: str | Callable[[], Policy], generator: Callable[[], _Generator], *,
          timeout: float | None = 0.4, retries: int = 1, initial: bool = True,
          heartbeat: float = 0.5, service: Callable[[str], Any] | None = None,
          max_ejected: float = 0.5) -> Simulation:
    """Four servers that register with ``lb`` every ``heartbeat`` seconds, the balancer
    (with ``timeout`` and ``retries``; ``initial``: it knows the servers from the start,
    else only from their registrations), and the generator ``gen``."""
    sim = Simulation(seed=seed, network=Network(latency=(0.0005, 0.002)))
    for name in SERVERS:
        sim.add_node(name, partial(Server, service(name) if service else Exponential(0.010),
                                   register=LB, heartbeat=heartbeat))
    pool = SERVERS if initial else ()
    sim.add_node(LB, lambda: Balancer(pool, policy if isinstance(policy, str) else policy(),
                                      timeout=timeout, retries=retries,
                                      max_ejected=max_ejected))
    sim.add_node(GEN, generator)
    return sim


def node(sim: Simulation, node_id: str, kind: type) -> Any:
    found = sim.node(node_id)
    assert isinstance(found, kind), found
    return found


def notes(trace: Trace, event: str, **where: object) -> list[Any]:
    return [e for e in trace if e.kind == "note" and e.data["event"] == event
            and all(e.data.get(k) == v for k, v in where.items())]


def sends(trace: Trace, src: str, dst: str, start: float, end: float) -> int:
    return sum(1 for e in trace if e.kind == "send" and e.node == src and e.data["to"] == dst
               and e.message_name == "Request" and start <= e.time < end)


def crash_one_server(sim: Simulation, seed: int) -> tuple[str, float, float]:
    """Crash a random server at a random time, restart it a little later (all drawn from
    the seed); return (server, crashed at, restarted at)."""
    rng = Random(f"{seed}/crash")
    victim = rng.choice(SERVERS)
    crashed = rng.uniform(0.5, 1.0)
    restarted = crashed + rng.uniform(1.0, 1.5)
    sim.at(crashed, lambda: sim.crash(victim))
    sim.at(restarted, lambda: sim.restart(victim))
    return victim, crashed, restarted


def books_balanced(lb: Balancer) -> None:
    """Everything answered: the balancer counts no request anywhere."""
    assert not lb._tickets
    assert all(n == 0 for n in lb.outstanding.values()), lb.outstanding
    assert all(n == 0 for n in lb.ejected.values()), lb.ejected
    assert not lb.draining


# ----- a server crashes with requests outstanding, then restarts ----------------------------


def crashed_server_run(seed: int, policy: str) -> None:
    sim = setup(seed, policy, lambda: OpenLoop(LB, rate=150.0, keys=100, until=3.0,
                                               timeout=2.0))
    victim, crashed, restarted = crash_one_server(sim, seed)
    sim.run(until=4.0)
    context = f"seed {seed}, {policy}, {victim} down {crashed:.3f}-{restarted:.3f}"
    gen, lb = node(sim, GEN, OpenLoop), node(sim, LB, Balancer)
    for report in (check_every_request_answered(sim.trace, allow_rejected=False),
                   check_drained(sim.trace)):
        assert report, f"{context}: {report.explain()}"
    # Every request answered by a server: the ones the crash caught were retried elsewhere.
    assert (len(gen.completions), gen.rejected, gen.failed) == (gen.issued, 0, 0), context
    assert lb.timed_out >= 1 and lb.retried == lb.timed_out and lb.failed == 0, context
    # The first request sent to the dead server times out 0.4 s later: it is ejected then.
    ejected = notes(sim.trace, "eject", server=victim)
    first = min(e.time for e in sim.trace if e.kind == "send" and e.node == LB
                and e.data["to"] == victim and e.time >= crashed)
    assert ejected and crashed < ejected[0].time <= first + 0.4 + 1e-6, context
    # Once ejected, nothing new goes to the dead server until it registers again...
    added = notes(sim.trace, "add", server=victim)
    assert added and restarted <= added[0].time < restarted + 0.01, context
    assert sends(sim.trace, LB, victim, ejected[0].time, added[0].time) == 0, context
    # ...and after that it serves again.
    assert any(c.server == victim and c.sent > added[0].time for c in gen.completions), context
    assert lb.in_service == tuple(SERVERS)
    books_balanced(lb)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_crashed_servers_requests_go_elsewhere_and_it_rejoins_after_restart(
        policy: str) -> None:
    for seed in SEEDS:
        crashed_server_run(seed, policy)


@pytest.mark.soak
@pytest.mark.parametrize("policy", POLICIES)
def test_soak_a_crashed_servers_requests_go_elsewhere(policy: str) -> None:
    for seed in SOAK_SEEDS:
        crashed_server_run(seed, policy)


def test_without_retries_the_caught_requests_fail_with_a_reason_once_each() -> None:
    for seed in SEEDS:
        sim = setup(seed, "round-robin", lambda: OpenLoop(LB, rate=150.0, until=3.0,
                                                          timeout=2.0), retries=0)
        victim, _, _ = crash_one_server(sim, seed)
        sim.run(until=4.0)
        gen, lb = node(sim, GEN, OpenLoop), node(sim, LB, Balancer)
        assert check_every_request_answered(sim.trace), seed
        reasons = [e.data["reason"] for e in notes(sim.trace, "rejected")]
        assert reasons and all(r == f"{victim} did not answer within 0.4 s (tried 1 server(s))"
                               for r in reasons), (seed, reasons)
        assert gen.rejected == len(reasons) == lb.failed == lb.timed_out, seed
        assert len(gen.completions) + gen.rejected == gen.issued and gen.failed == 0, seed
        books_balanced(lb)


def test_without_a_timeout_the_requests_at_a_crashed_server_are_lost() -> None:
    sim = setup(1, "round-robin", lambda: OpenLoop(LB, rate=200.0, until=3.0), timeout=None)
    crash_one_server(sim, 1)
    sim.run(until=4.0)
    report = check_every_request_answered(sim.trace)
    assert not report and "was never answered (lost)" in report.explain()
    lb = node(sim, LB, Balancer)
    assert lb.timed_out == 0 and sum(lb.outstanding.values()) > 0  # it still waits


def test_a_late_answer_after_a_retry_is_dropped_not_relayed_twice() -> None:
    # Every server takes 600 ms, beyond the balancer's 400 ms timeout: every request times
    # out, is retried once, times out again and is rejected; the servers' answers all come
    # late. Exactly one outcome per request still reaches the client.
    for seed in SEEDS:
        sim = setup(seed, "round-robin", lambda: OpenLoop(LB, rate=20.0, until=1.0),
                    service=lambda name: Constant(0.600), max_ejected=0.0)
        sim.run(until=3.0)
        gen, lb = node(sim, GEN, OpenLoop), node(sim, LB, Balancer)
        assert check_every_request_answered(sim.trace), seed
        assert gen.rejected == gen.issued > 10 and not gen.completions, seed
        assert lb.timed_out == 2 * gen.issued and lb.retried == gen.issued, seed
        books_balanced(lb)


def test_a_timeout_of_a_request_sent_before_a_server_came_back_does_not_eject_it_again(
        ) -> None:
    # s0 is cut off for 0.2 s: what the balancer sent it then is lost. The first loss
    # ejects it; it registers again (every 0.1 s) while the later losses are still
    # timing out. Those are old news: it stays in service.
    for seed in SEEDS:
        sim = setup(seed, "round-robin", lambda: OpenLoop(LB, rate=200.0, until=3.0),
                    heartbeat=0.1)
        others = [n for n in (*SERVERS, LB, GEN) if n != SERVERS[0]]
        sim.at(1.0, partial(sim.partition, [SERVERS[0]], others))
        sim.at(1.2, sim.heal)
        sim.run(until=4.0)
        ejected = notes(sim.trace, "eject", server=SERVERS[0])
        added = notes(sim.trace, "add", server=SERVERS[0])
        # (the first loss: a request or an answer in flight at 1.0 s)
        assert len(ejected) == 1 and 1.0 < ejected[0].time < 1.41, (seed, ejected)
        assert len(added) == 1 and ejected[0].time < added[0].time < ejected[0].time + 0.11
        lb = node(sim, LB, Balancer)
        assert lb.timed_out > 5 and lb.in_service == tuple(SERVERS), seed
        assert check_every_request_answered(sim.trace, allow_rejected=False), seed
        books_balanced(lb)


# ----- a slow server ----------------------------------------------------------------------------


class IgnoresLoad(TwoChoices):
    """"Two choices" that samples two servers and takes the first, whatever their load."""

    def choose(self, key: str, load: Any, rng: Random) -> str:
        return self.sample(rng)[0]


def slow_server_share(seed: int, policy: str | Callable[[], Policy]) -> tuple[float, float]:
    """Share of the requests served by the one slow server (40 ms against 10 ms), and the
    p99 latency, at 200 requests a second for 5 s (capacity: 325 a second)."""
    sim = setup(seed, policy, lambda: OpenLoop(LB, rate=200.0, until=5.0), timeout=None,
                service=lambda name: Exponential(0.040 if name == SERVERS[0] else 0.010))
    sim.run(until=20.0)
    gen = node(sim, GEN, OpenLoop)
    assert len(gen.completions) == gen.issued > 800, seed
    slow = sum(1 for c in gen.completions if c.server == SERVERS[0])
    return slow / gen.issued, percentile([c.latency for c in gen.completions], 0.99)


def test_a_slow_server_gets_less_under_least_outstanding_and_two_choices() -> None:
    for seed in range(3):
        rr_share, rr_p99 = slow_server_share(seed, "round-robin")
        assert 0.24 < rr_share < 0.26  # its turn, whatever its speed: its queue grows
        for policy in ("least-outstanding", "two-choices"):
            share, p99 = slow_server_share(seed, policy)
            assert share < 0.6 * rr_share, (seed, policy, share, rr_share)
            assert p99 < 0.2 * rr_p99, (seed, policy, p99, rr_p99)


def test_two_choices_that_ignores_load_gives_the_slow_server_its_full_share() -> None:
    share, _ = slow_server_share(0, lambda: IgnoresLoad(SERVERS))
    assert share > 0.2  # the test above would catch it


# ----- the balancer crashes ---------------------------------------------------------------------


def balancer_crash_run(seed: int, generator: Callable[[], _Generator]) -> None:
    rng = Random(f"{seed}/lb-crash")
    crashed = rng.uniform(0.8, 1.2)
    restarted = crashed + rng.uniform(0.3, 0.8)
    # The balancer knows no server at the start: it learns them from registrations, so
    # after its restart it learns them again.
    sim = setup(seed, "two-choices", generator, initial=False, heartbeat=0.2)
    sim.at(crashed, lambda: sim.crash(LB))
    sim.at(restarted, lambda: sim.restart(LB))
    sim.run(until=4.0)
    context = f"seed {seed}, lb down {crashed:.3f}-{restarted:.3f}"
    gen, lb = node(sim, GEN, _Generator), node(sim, LB, Balancer)
    report = check_every_request_answered(sim.trace)
    assert report, f"{context}: {report.explain()}"
    assert not gen.in_flight, context  # no client hangs
    assert len(gen.completions) + gen.rejected + gen.failed == gen.issued, context
    # Requests the crash caught, or sent while it was down, failed after the client's
    # timeout (0.3 s); none other did.
    failed = [gen.in_flight_sent[e.data["id"]] for e in notes(sim.trace, "failed")]
    assert failed and all(crashed - 0.3 - 0.005 <= t <= restarted for t in failed), context
    # Until the servers register again the new balancer has none: it says so at once.
    reasons = {e.data["reason"] for e in notes(sim.trace, "rejected")}
    assert reasons <= {"no server in service"}, context
    # Service resumes: all four servers back within a heartbeat, requests answered.
    assert lb.in_service == tuple(SERVERS), context
    assert sum(1 for c in gen.completions if c.sent > restarted + 0.25) > 100, context
    books_balanced(lb)


def test_a_restarted_balancer_does_not_relay_old_answers_to_new_requests() -> None:
    # Overloaded servers (100 a second for 40) still hold many requests when the balancer
    # restarts, 20 ms after it crashed. Their answers come back to the new balancer; if it
    # numbered its tickets from 0 again, an old answer would be relayed as the answer to a
    # new request with the same number: faster than any server can serve (100 ms).
    for seed in SEEDS:
        sim = setup(seed, "round-robin", lambda: OpenLoop(LB, rate=100.0, until=1.5,
                                                          timeout=5.0),
                    service=lambda name: Constant(0.100), timeout=None)
        sim.at(0.5, partial(sim.crash, LB))
        sim.at(0.52, partial(sim.restart, LB))
        sim.run(until=8.0)
        gen = node(sim, GEN, OpenLoop)
        assert check_every_request_answered(sim.trace), seed
        assert len(gen.completions) > 100 and gen.failed > 10, seed  # the crash lost some
        too_fast = [c for c in gen.completions if c.latency < 0.100]
        assert not too_fast, (seed, too_fast[:3])


class RecordsSends(ClosedLoop):
    """A closed loop that remembers when it sent each request (for the assertions)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight_sent: dict[int, float] = {}

    def issue(self) -> int:
        request_id = super().issue()
        self.in_flight_sent[request_id] = self.now
        return request_id


class OpenRecordsSends(OpenLoop):
    """An open loop that remembers when it sent each request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight_sent: dict[int, float] = {}

    def issue(self) -> int:
        request_id = super().issue()
        self.in_flight_sent[request_id] = self.now
        return request_id


def test_when_the_balancer_crashes_clients_see_failures_not_hangs() -> None:
    for seed in SEEDS:
        balancer_crash_run(seed, lambda: RecordsSends(LB, users=8, until=3.0, timeout=0.3))
        balancer_crash_run(seed, lambda: OpenRecordsSends(LB, rate=150.0, until=3.0,
                                                          timeout=0.3))


def test_a_client_without_a_timeout_hangs_on_a_dead_balancer() -> None:
    sim = setup(1, "two-choices", lambda: ClosedLoop(LB, users=8, until=3.0), initial=False)
    sim.at(1.0, lambda: sim.crash(LB))
    sim.at(1.5, lambda: sim.restart(LB))
    sim.run(until=4.0)
    gen = node(sim, GEN, ClosedLoop)
    assert len(gen.in_flight) == 8  # every user waits forever for an answer lost in the crash
    assert not check_every_request_answered(sim.trace)


# ----- random network faults on top of a server crash -------------------------------------------


def nemesis_run(seed: int, policy: str) -> Simulation:
    sim = setup(seed, policy, lambda: OpenLoop(LB, rate=200.0, keys=100, until=5.0,
                                               timeout=1.0), heartbeat=0.2)
    crash_one_server(sim, seed)
    nemesis = Nemesis(faults=("partition", "isolate", "oneway"), interval=(0.2, 0.6),
                      duration=(0.1, 0.5), stop=3.5).install(sim)
    sim.run(until=6.0)
    context = f"seed {seed}, {policy}, faults {nemesis.history}"
    gen, lb = node(sim, GEN, OpenLoop), node(sim, LB, Balancer)
    report = check_every_request_answered(sim.trace)
    assert report, f"{context}: {report.explain()}"
    assert not gen.in_flight and len(gen.completions) + gen.rejected + gen.failed == gen.issued
    # What the balancer rejected, the client counted; never more than it was sent.
    assert gen.rejected <= lb.rejected + lb.failed, context
    # Healed at 3.5 s: every server registered again, and every request sent from 4.0 s
    # on (once the queues built up during the faults have drained) was answered.
    assert lb.in_service == tuple(SERVERS), context
    late = {e.data["id"] for e in notes(sim.trace, "issue") if e.time >= 4.0}
    answered = {c.id for c in gen.completions}
    assert len(late) > 150 and late <= answered, f"{context}: lost {sorted(late - answered)}"
    books_balanced(lb)
    return sim


@pytest.mark.parametrize("policy", ("round-robin", "least-outstanding", "two-choices"))
def test_under_random_network_faults_every_outcome_is_reported_once(policy: str) -> None:
    for seed in SEEDS:
        nemesis_run(seed, policy)


@pytest.mark.soak
@pytest.mark.parametrize("policy", POLICIES)
def test_soak_under_random_network_faults(policy: str) -> None:
    for seed in SOAK_SEEDS:
        nemesis_run(seed, policy)


DIGEST = ("from tests.scaling.test_faults import nemesis_run\n"
          "print(nemesis_run(3, 'two-choices').trace.digest())\n")


def test_the_same_seed_gives_the_same_faulty_run_under_any_hash_seed() -> None:
    digests = set()
    for hash_seed in ("1", "4242"):
        out = subprocess.run([sys.executable, "-c", DIGEST], capture_output=True, text=True,
                             timeout=120, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout)
    assert len(digests) == 1

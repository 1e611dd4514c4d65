"""Grader of lab 0: reliable delivery over a lossy network.

Every test builds the same small system, a ``Server`` (node ``server``) and a ``Client``
(node ``client``) that must deliver a list of requests to it, puts it on a hostile network,
and judges the run with two kinds of checks:

Safety, checked after *every* event with ``sim.add_invariant``:

* the server's deliveries are always a prefix of the client's requests: request 0, then
  request 1, and so on, each exactly once, nothing invented;
* a client that says it is ``done`` is right: the server has delivered everything.

Liveness, checked at the end: once the faults stop, the server delivers every request and
the client learns it within ``LIVENESS_TIMEOUT`` virtual seconds.

Each test runs over many seeds; a seed fixes the network's every choice (which message is
lost, which is duplicated, how late each one is), so a failing seed replays exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dsys import Nemesis, Network, Simulation
from dsys.labs import Trial, graded

SERVER = "server"
CLIENT = "client"

#: Virtual seconds the system gets, after the last fault, to deliver everything.
LIVENESS_TIMEOUT = 30.0


# ----- building and judging a run ----------------------------------------------------------


def make_requests(trial: Trial, count: int) -> list[str]:
    """``count`` distinct requests, such as ``'#3 put x=41'``."""
    keys = "xyz"
    return [f"#{i} put {trial.rng.choice(keys)}={trial.rng.randrange(100)}" for i in range(count)]


def server_of(sim: Simulation) -> Any:
    """The server node (typed Any: its attributes are the implementation's), or None
    before it starts."""
    return sim.node(SERVER)


def client_of(sim: Simulation) -> Any:
    """The client node, or None before it starts."""
    return sim.node(CLIENT)


def _done(client: Any) -> bool:
    done = client.done
    if callable(done):
        raise AssertionError("Client.done must be an attribute or a property, not a method")
    return bool(done)


def build(trial: Trial, network: Network, requests: Sequence[str]) -> Simulation:
    """The system under test, with its safety invariants installed."""
    sim = trial.simulation(network=network)
    impl = trial.impl
    sim.add_node(SERVER, impl.Server)
    sim.add_node(CLIENT, lambda: impl.Client(SERVER, list(requests)))
    expected = list(requests)

    def deliveries_follow_requests(sim: Simulation) -> None:
        server = server_of(sim)
        delivered = list(server.delivered) if server is not None else []
        if delivered == expected[: len(delivered)]:
            return
        recent = ", ".join(repr(d) for d in delivered[-4:])
        for i, got in enumerate(delivered):
            if i >= len(expected):
                raise AssertionError(
                    f"the server delivered {len(delivered)} requests but the client has only "
                    f"{len(expected)}: delivery #{i} ({got!r}) is one too many, a duplicate "
                    f"that got through? (last deliveries: {recent})"
                )
            if got != expected[i]:
                if i > 0 and got == expected[i - 1]:
                    why = f"request #{i - 1} was delivered twice: a copy was not suppressed"
                elif got in expected[i + 1 :]:
                    why = f"a later request overtook request #{i}: deliver in the client's order"
                elif got in expected[:i]:
                    why = "an old request was delivered again: a copy was not suppressed"
                else:
                    why = "that is not a request the client sent"
                raise AssertionError(
                    f"delivery #{i} is {got!r}, but request #{i} is {expected[i]!r}: {why} "
                    f"(last deliveries: {recent})"
                )

    def done_means_delivered(sim: Simulation) -> None:
        server, client = server_of(sim), client_of(sim)
        if server is None or client is None:
            return  # not started yet
        count = len(server.delivered)
        if _done(client) and count < len(expected):
            raise AssertionError(
                f"the client says it is done, but the server has delivered only {count} of "
                f"{len(expected)} requests: the client took an acknowledgement for a request "
                "the server had not delivered"
            )

    sim.add_invariant(deliveries_follow_requests, "deliveries follow the requests")
    sim.add_invariant(done_means_delivered, "done means delivered")
    return sim


def _complete(sim: Simulation, count: int) -> bool:
    server, client = server_of(sim), client_of(sim)
    if server is None or client is None:
        return False  # not started yet
    return len(server.delivered) == count and _done(client)


def finish(trial: Trial, sim: Simulation, requests: Sequence[str], *,
           faults_end: float = 0.0) -> None:
    """Run until everything is delivered and the client knows it; fail if that does not
    happen within ``LIVENESS_TIMEOUT`` virtual seconds after ``faults_end``."""
    if sim.now < faults_end:
        trial.run(sim, faults_end)
    deadline = faults_end + LIVENESS_TIMEOUT
    if trial.run_until(sim, lambda s: _complete(s, len(requests)),
                       timeout=max(0.0, deadline - sim.now)):
        return
    count = len(server_of(sim).delivered)
    when = f"faults stopped at {faults_end:g} s and " if faults_end else ""
    if count < len(requests):
        raise AssertionError(
            f"{when}by virtual time {deadline:g} s the server had delivered only {count} of "
            f"{len(requests)} requests (request #{count}, {requests[count]!r}, never arrived "
            "in order). Is every lost request retransmitted, again and again, until its "
            "acknowledgement arrives?"
        )
    raise AssertionError(
        f"{when}the server delivered all {count} requests, but by virtual time {deadline:g} s "
        "the client still did not know it (done is false). Does every acknowledgement that "
        "matters reach the client, and does the client count it?"
    )


# ----- the graded tests ----------------------------------------------------------------------


@graded(points=10, runs=10)
def perfect_network(trial: Trial) -> None:
    """Every request is delivered once and in order when the network loses nothing."""
    requests = make_requests(trial, 10)
    sim = build(trial, Network(), requests)
    finish(trial, sim, requests)


@graded(points=20, runs=50)
def lossy_network(trial: Trial) -> None:
    """Every request is delivered once and in order when 30% of messages are lost."""
    requests = make_requests(trial, 20)
    sim = build(trial, Network(drop=0.3), requests)
    finish(trial, sim, requests)


@graded(points=20, runs=50)
def duplicates_and_reordering(trial: Trial) -> None:
    """Copies and late messages are never delivered twice or out of order."""
    requests = make_requests(trial, 20)
    network = Network(duplicate=0.3, reorder=0.5, reorder_delay=0.2)
    sim = build(trial, network, requests)
    finish(trial, sim, requests)


@graded(points=10, runs=40)
def repeated_requests(trial: Trial) -> None:
    """Two requests with the same contents are still two requests: both are delivered."""
    requests = [trial.rng.choice(["deposit 10", "withdraw 5", "balance?"]) for _ in range(20)]
    network = Network(drop=0.1, duplicate=0.2, reorder=0.3, reorder_delay=0.1)
    sim = build(trial, network, requests)
    finish(trial, sim, requests)


@graded(points=15, runs=40)
def partitions(trial: Trial) -> None:
    """Delivery resumes after the client and server are cut off from each other."""
    requests = make_requests(trial, 20)
    sim = build(trial, Network(), requests)
    start = 0.0
    for _ in range(3):
        start += trial.rng.uniform(0.01, 0.1)
        end = start + trial.rng.uniform(0.2, 0.8)
        sim.at(start, sim.partition, [CLIENT], [SERVER])
        sim.at(end, sim.heal)
        start = end
    finish(trial, sim, requests, faults_end=start)


@graded(points=15, runs=60)
def everything_at_once(trial: Trial) -> None:
    """Loss, copies, reordering and partitions together, then a calm network: all delivered."""
    requests = make_requests(trial, 25)
    network = Network(drop=0.2, duplicate=0.2, reorder=0.3, reorder_delay=0.1)
    sim = build(trial, network, requests)
    calm = 3.0
    Nemesis(faults=("partition", "isolate", "oneway"), interval=(0.1, 0.5),
            duration=(0.1, 0.6), stop=calm).install(sim)
    sim.at(calm, lambda: network.update(drop=0.0, duplicate=0.0, reorder=0.0))
    finish(trial, sim, requests, faults_end=calm)


@graded(points=10, runs=20)
def quiet_when_done(trial: Trial) -> None:
    """Once every request is acknowledged, the client stops sending."""
    requests = make_requests(trial, 10)
    sim = build(trial, Network(drop=0.2, duplicate=0.2), requests)
    finish(trial, sim, requests)
    sent = sim.statistics().by_node.get(CLIENT, {}).get("sent", 0)
    trial.run(sim, sim.now + 2.0)
    more = sim.statistics().by_node.get(CLIENT, {}).get("sent", 0) - sent
    assert more == 0, (
        f"the client was done at {sim.now - 2.0:.3f} s, yet it sent {more} more messages in "
        "the next 2 s: stop (cancel) the retry timer once everything is acknowledged"
    )

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

Efficiency: once the client is done, no node sends anything more; on a calm network (no
loss, every message 10 ms late) each request costs at most ``BUDGET`` messages each way.

Sizes: an empty list of requests, more requests than one byte can number, a partition
longer than 2 s, and copies held up in the network for more than a second.

Each test runs over many seeds; a seed fixes the network's every choice (which message is
lost, which is duplicated, how late each one is), so a failing seed replays exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from dsys import Nemesis, Network, Simulation
from dsys.labs import Trial, graded
from dsys.search import Search

SERVER = "server"
CLIENT = "client"

#: Virtual seconds the system gets, after the last fault, to deliver everything.
LIVENESS_TIMEOUT = 30.0

#: Messages per request each node may send on a calm network. Stop-and-wait sends exactly
#: one request and one acknowledgement per request there; the margin is for other designs.
BUDGET = 1.2

#: The calm network of ``message_budget``: no loss, no copies, and every message takes the
#: longest latency of the default network, so a round trip takes exactly 20 ms.
CALM_LATENCY = 0.01

#: Virtual seconds of silence the quiet test wants, once the client is done and the
#: copies still in the network have arrived (``SETTLE`` seconds later).
QUIET_FOR = 2.0
SETTLE = 0.5

#: Trace kinds of a message's arrival at a node (the newer name first).
ARRIVALS = ("recv", "deliver")


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
    seen = traffic(sim, since=faults_end)
    if count < len(requests):
        raise AssertionError(
            f"{when}by virtual time {deadline:g} s the server had delivered only {count} of "
            f"{len(requests)} requests (request #{count}, {requests[count]!r}, never arrived "
            f"in order). {seen.story()} {seen.stuck_delivery_hint()}"
        )
    raise AssertionError(
        f"{when}the server delivered all {count} requests, but by virtual time {deadline:g} s "
        f"the client still did not know it (done is false). {seen.story()} "
        f"{seen.unaware_client_hint()}"
    )


@attrs.frozen
class Traffic:
    """The messages between client and server from time ``since`` to the end of a run, as
    the trace shows them: what each node sent, and what reached it."""

    since: float
    client_sent: int
    server_got: int
    server_sent: int
    client_got: int
    client_last_send: float | None

    def story(self) -> str:
        after = f"after t={self.since:g} s" if self.since else "in the whole run"
        return (f"The trace shows, {after}: the client sent {plural(self.client_sent)}, "
                f"{self.server_got} reached the server; the server sent {self.server_sent}, "
                f"{self.client_got} reached the client.")

    @property
    def client_stopped(self) -> bool:
        """True if the client sent nothing in the second half of the liveness window."""
        return self.client_last_send is None or (
            self.client_last_send < self.since + LIVENESS_TIMEOUT / 2)

    def _stopped(self) -> str:
        last = ("" if self.client_last_send is None
                else f" (its last send was at t={self.client_last_send:.3f} s)")
        return (f"The client stopped sending{last} while a request was still "
                "unacknowledged: is the retry timer re-armed every time it fires, for as "
                "long as it takes, with no limit on the number of tries?")

    def stuck_delivery_hint(self) -> str:
        if self.client_stopped:
            return self._stopped()
        if self.server_got and 2 * self.server_sent < self.server_got:
            return ("The server answered few of the messages it received: the client kept "
                    "sending a request the server would not take. Which number does the "
                    "client send, and which does the server expect next? Does the client move "
                    "on only on the acknowledgement of the request in flight?")
        if self.client_got:
            return ("Acknowledgements reached the client, yet the request was never "
                    "delivered: does the server acknowledge only requests it has delivered, "
                    "and does the client move on only on the acknowledgement of the request "
                    "in flight?")
        return "Do the server's acknowledgements reach the client, and does it count them?"

    def unaware_client_hint(self) -> str:
        if self.client_stopped:
            return self._stopped()
        if self.client_got:
            return ("Acknowledgements reached the client: does it count the acknowledgement "
                    "of the last request, and set done?")
        return ("Does the server acknowledge the copies it receives of requests it has "
                "delivered already? The client retransmits exactly when an acknowledgement "
                "was lost.")


def traffic(sim: Simulation, since: float = 0.0) -> Traffic:
    """Count, from the trace, the messages between client and server after ``since``."""
    counts = {"client_sent": 0, "server_got": 0, "server_sent": 0, "client_got": 0}
    last_send = None
    for event in sim.trace:
        if event.time < since or event.node not in (CLIENT, SERVER):
            continue
        who = "client" if event.node == CLIENT else "server"
        if event.kind == "send":
            counts[f"{who}_sent"] += 1
            if who == "client":
                last_send = event.time
        elif event.kind in ARRIVALS:
            counts[f"{who}_got"] += 1
    return Traffic(since, client_last_send=last_send, **counts)


def plural(count: int, word: str = "message") -> str:
    """``1 message``, ``2 messages``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def sent_by(sim: Simulation) -> dict[str, int]:
    """How many messages each node has sent so far."""
    return {node: counts.get("sent", 0) for node, counts in sim.statistics().by_node.items()}


# ----- the graded tests ----------------------------------------------------------------------


@graded(points=8, runs=10)
def perfect_network(trial: Trial) -> None:
    """Every request is delivered once and in order when the network loses nothing."""
    requests = make_requests(trial, 10)
    sim = build(trial, Network(), requests)
    finish(trial, sim, requests)


@graded(points=10, runs=50)
def lossy_network(trial: Trial) -> None:
    """Every request is delivered once and in order when 30% of messages are lost."""
    requests = make_requests(trial, 20)
    sim = build(trial, Network(drop=0.3), requests)
    finish(trial, sim, requests)


@graded(points=10, runs=50)
def duplicates_and_reordering(trial: Trial) -> None:
    """Copies and late messages are never delivered twice or out of order."""
    requests = make_requests(trial, 20)
    network = Network(duplicate=0.3, reorder=0.5, reorder_delay=0.2)
    sim = build(trial, network, requests)
    finish(trial, sim, requests)


@graded(points=8, runs=40)
def repeated_requests(trial: Trial) -> None:
    """Two requests with the same contents are still two requests: both are delivered."""
    requests = [trial.rng.choice(["deposit 10", "withdraw 5", "balance?"]) for _ in range(20)]
    network = Network(drop=0.1, duplicate=0.2, reorder=0.3, reorder_delay=0.1)
    sim = build(trial, network, requests)
    finish(trial, sim, requests)


@graded(points=10, runs=40)
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


@graded(points=12, runs=60)
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


@graded(points=6, runs=20)
def quiet_when_done(trial: Trial) -> None:
    """Once every request is acknowledged, no node sends anything more: client or server."""
    requests = make_requests(trial, 10)
    sim = build(trial, Network(drop=0.2, duplicate=0.2), requests)
    finish(trial, sim, requests)
    done_at = sim.now
    # Copies still in the network may arrive and be answered; after that, silence.
    trial.run(sim, done_at + SETTLE)
    before = sent_by(sim)
    trial.run(sim, sim.now + QUIET_FOR)
    after = sent_by(sim)
    noisy = {node: after[node] - before.get(node, 0) for node in after
             if after[node] > before.get(node, 0)}
    if noisy:
        trial.focus(start=done_at, nodes=sorted(noisy))
        who = ", ".join(f"the {node} sent {plural(count)}"
                        for node, count in sorted(noisy.items()))
        raise AssertionError(
            f"the client was done at t={done_at:.3f} s, yet from t={done_at + SETTLE:.3f} s "
            f"to t={sim.now:.3f} s {who}. Once everything is acknowledged "
            "there is nothing left to say: cancel every timer that retransmits (the "
            "client's retry timer, and any timer of the server's own).")


@graded(points=5, runs=10)
def message_budget(trial: Trial) -> None:
    """On a calm network, each request costs one request and one acknowledgement, or close."""
    requests = make_requests(trial, 30)
    sim = build(trial, Network(latency=CALM_LATENCY), requests)
    finish(trial, sim, requests)
    sent = sent_by(sim)
    budget = int(BUDGET * len(requests))
    for node, what in ((CLIENT, "requests"), (SERVER, "acknowledgements")):
        count = sent.get(node, 0)
        assert count <= budget, (
            f"on a network that loses nothing and where every message takes "
            f"{CALM_LATENCY * 1000:g} ms (a round trip: {2 * CALM_LATENCY * 1000:g} ms), the "
            f"{node} sent {count} messages for {len(requests)} requests; the budget is "
            f"{budget} ({BUDGET:g} per request). "
            + ("Is RETRY_TIMEOUT longer than a round trip? A shorter one retransmits every "
               "request before its acknowledgement can arrive." if node == CLIENT else
               f"Does the server send more than one acknowledgement per request it receives? "
               f"({what} only answer requests)"))


@graded(points=4, runs=5)
def empty_workload(trial: Trial) -> None:
    """With no requests at all, the client is done at once, and nothing is sent."""
    sim = build(trial, Network(), [])
    assert trial.run_until(sim, lambda s: _complete(s, 0), timeout=1.0), (
        "the client was given no requests, yet after 1 s it is not done: with nothing to "
        "deliver, everything is delivered, so done must be true from the start (does "
        "done become true only when an acknowledgement arrives?)")
    trial.run(sim, sim.now + 1.0)
    sent = sent_by(sim)
    assert not any(sent.values()), (
        f"the client was given no requests, yet the nodes sent {sent}: with nothing to "
        "deliver, nothing needs to be said")


@graded(points=6, runs=5)
def many_requests(trial: Trial) -> None:
    """320 requests, more than one byte can number: all delivered, once and in order."""
    requests = make_requests(trial, 320)
    sim = build(trial, Network(drop=0.1, duplicate=0.1), requests)
    finish(trial, sim, requests)


@graded(points=5, runs=10)
def long_partition(trial: Trial) -> None:
    """After a partition of 2.5 to 4 seconds, delivery resumes and completes."""
    requests = make_requests(trial, 15)
    sim = build(trial, Network(), requests)
    start = trial.rng.uniform(0.03, 0.1)
    end = start + trial.rng.uniform(2.5, 4.0)
    sim.at(start, sim.partition, [CLIENT], [SERVER])
    sim.at(end, sim.heal)
    finish(trial, sim, requests, faults_end=end)


@graded(points=6, runs=15)
def long_reordering_delays(trial: Trial) -> None:
    """Copies held up in the network for up to 1.5 s, 80 requests: none delivered twice."""
    requests = make_requests(trial, 80)
    network = Network(duplicate=0.3, reorder=0.3, reorder_delay=1.5)
    sim = build(trial, network, requests)
    finish(trial, sim, requests)


# ----- a search test ------------------------------------------------------------------------


@graded(points=10, runs=1, seeded=False)
def search_every_order(trial: Trial) -> None:
    """Every order of deliveries and timers, with up to two lost and one copied message.

    A model checker, not seeds: two requests with the same contents, searched breadth-first
    (so a failure shows a shortest path) with the safety invariant in every state, and no
    state may be stuck before everything is delivered.
    """
    impl = trial.impl
    requests = ["put x=1", "put x=1"]
    search = Search({SERVER: impl.Server, CLIENT: lambda: impl.Client(SERVER, list(requests))},
                    drops=2, duplicates=1, seed=trial.seed)

    def deliveries_follow_requests(view: Any) -> None:
        delivered = list(server_of(view).delivered)
        assert delivered == requests[: len(delivered)], \
            f"the server delivered {delivered}, but the client's requests are {requests}"
        if _done(client_of(view)):
            assert delivered == requests, f"the client is done, but the server has {delivered}"

    def everything_delivered(view: Any) -> bool:
        return _done(client_of(view)) and list(server_of(view).delivered) == requests

    search.add_invariant(deliveries_follow_requests)
    search.add_goal(everything_delivered)
    # Bounded by states, not time: a grade must not depend on how busy the machine is.
    trial.search(search.bfs(deadlock=True, max_depth=14, max_states=100_000))


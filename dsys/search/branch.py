"""Branching: a search that starts from a simulation's state *now*, not from the start.

A random run that fails, or comes close to failing, has already done the hard part: it
has brought the system into an interesting state. ``Search.from_simulation(sim)`` takes
that state as the search's first one and explores every way on from there.

Rules of this file:

* The simulation is read, never changed: the search gets copies (of the nodes, their
  storage, their random generators), taken the way the search copies its own states.
* What is carried over: every node's object (components and layers included) and its
  storage (durable contents and unsynced writes), its ``rng`` (so a node draws next what
  it would have drawn in the run), its incarnation, its armed timers (their deadlines in
  virtual time; the search's time starts at ``sim.now``), every message in flight (as its
  wire form: its latency is forgotten, the order of arrival is the search's choice),
  crashed nodes (with what their storage kept: they may restart, as in any search),
  clients (the operation in progress and the rest of their workload, drawn now from a
  copy of the client's generator, as the run would draw them), and the simulation's
  invariants.
* What is not: scripted calls and faults still pending (``sim.at(...)``, a nemesis's
  schedule) never happen in the search; partitions are not modelled (the search's network
  reaches everyone, losing messages only within its ``drops`` budget); latencies and
  think times are not modelled (they are choices of order, which the search makes). The
  fault budgets count from the branch point. Node clocks must be ideal (no offset, no
  drift): the search has one clock.
* Invariants are called on :class:`~dsys.search.engine.StateView` s of states reached by
  many paths, in no particular order, so an invariant must be a function of the state it
  is shown. One that remembers what it saw in earlier calls (a harness that records each
  term's leader, say) would mix up states of different paths and report violations that
  never happened, and the search changes what the simulation's invariants remember. Pass
  ``invariants=`` with state-only ones instead (such as ``dsys.raft.invariants()``
  where a harness checks ``dsys.raft.run_invariants()`` or its own "raft safety"), and
  confirm a violation with ``result.replay(check=True)``: the replay checks the rebuilt
  run's own invariants, which saw that run and that path only.
* A path is replayed on ``rebuild()``, a fresh simulation in the same state (checked: a
  different state is an error), made to follow the search's rules: no latency, no loss,
  no partition, pending deliveries and invocations due now, clients drawing the
  operations the search drew, the schedule tape (:mod:`dsys.sim.schedule`) detached.

Example: a random run stops at t=0.25 with a message in flight; from there, the search
finds the one order of events that counts a vote twice.

    >>> from dsys import Network, Node, Simulation, message
    >>> from dsys.search import Search
    >>> @message(name="doc:Ballot")
    ... class Ballot:
    ...     pass
    >>> class Tally(Node):
    ...     def on_start(self) -> None:
    ...         self.votes = 0
    ...     def on_message(self, src: str, msg: Ballot) -> None:
    ...         self.votes += 1                       # the bug: a resent vote counts twice
    >>> class Elector(Node):
    ...     def on_start(self) -> None:
    ...         self.set_timer("vote", 0.2)
    ...     def on_timer(self, name: str) -> None:
    ...         self.send("tally", Ballot())
    ...         if name == "vote":
    ...             self.set_timer("resend", 0.5)     # not cancelled on an answer: a bug
    >>> def at_most_one_vote(sim) -> bool:
    ...     return sim.node("tally").votes <= 1
    >>> def run() -> Simulation:
    ...     sim = Simulation(seed=3, network=Network(latency=(0.1, 0.2)))
    ...     sim.add_node("tally", Tally)
    ...     sim.add_node("elector", Elector)
    ...     sim.add_invariant(at_most_one_vote)
    ...     sim.run(until=0.25)
    ...     return sim
    >>> sim = run()
    >>> sim.in_flight, sim.node("tally").votes
    (1, 0)
    >>> result = Search.from_simulation(sim, rebuild=run).bfs()
    >>> for step in result.path:
    ...     print(step.describe())
    deliver Ballot() elector -> tally
    timer 'resend' of elector
    deliver Ballot() elector -> tally
    >>> replayed = result.replay()                   # the run, then the path
    >>> replayed.now, replayed.node("tally").votes
    (0.7, 2)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from random import Random
from typing import TYPE_CHECKING, Any, cast

from dsys.core.client import normalize_op
from dsys.errors import ConfigError, UsageError
from dsys.search.engine import Search, Step, _Replayed, _State
from dsys.sim.events import Deliver, Invoke, Start, Timer
from dsys.sim.network import Constant, Network
from dsys.sim.simulation import Clock, Simulation

if TYPE_CHECKING:
    from dsys.search.engine import Predicate

__all__ = ["branch", "replay_branch"]


def branch(cls: type[Search], sim: Simulation, *, drops: int, duplicates: int, crashes: int,
           symmetry: Sequence[Sequence[str]], rebuild: Callable[[], Simulation] | None,
           invariants: Sequence[Predicate] | None, ops: int | None) -> Search:
    """``Search.from_simulation``: a search whose first state is ``sim``'s state now."""
    if not isinstance(sim, Simulation):
        raise UsageError(f"from_simulation takes a Simulation, got {type(sim).__name__}")
    if rebuild is not None and not callable(rebuild):
        raise ConfigError("rebuild must be a function that returns a fresh Simulation in the "
                          f"same state, got {rebuild!r}")
    if ops is not None and (isinstance(ops, bool) or not isinstance(ops, int) or ops < 0):
        raise ConfigError(f"ops must be an int >= 0 or None, got {ops!r}")
    _check_branchable(sim)
    driver = sim._clients
    servers = {node_id: sim._slots[node_id].factory for node_id in sim.node_ids}
    clients = {client_id: sim._slots[client_id].factory for client_id in sim.client_ids}
    workloads = {client_id: driver.clients[client_id].workload for client_id in clients}
    # ops=0: nothing drawn from the start; the clients' remaining operations come below.
    search = cls(servers, clients=cast(Any, clients), workload=workloads or None, ops=0,
                 seed=sim.seed,
                 drops=drops, duplicates=duplicates, crashes=crashes, symmetry=symmetry)
    for client_id in clients:
        search._clients[client_id] = _remaining_ops(sim, client_id, ops)
    chosen = list(sim._invariants) if invariants is None else [
        (str(getattr(check, "__name__", "invariant")), check) for check in invariants]
    for name, check in chosen:
        if not callable(check):
            raise ConfigError(f"invariant {name!r} is not a function: {check!r}")
        search.add_invariant(check, name)
    search._inherited = len(chosen) if invariants is None else 0
    search._root = _root(search, sim)
    search._rebuild = rebuild
    search._branched_at = len(sim.trace)
    return search


def replay_branch(search: Search, path: Iterable[Step], *, check: bool) -> Simulation:
    """Rebuild the run up to the branch point, then take ``path`` (see the module)."""
    if search._rebuild is None:
        raise UsageError(
            "this search started from a simulation, so replaying a path needs that run "
            "again: pass rebuild=<a function returning a fresh Simulation in the same "
            "state> to Search.from_simulation (the same code, seed and scenario, run to "
            "the same point)")
    sim = search._rebuild()
    if not isinstance(sim, Simulation):
        raise UsageError(f"rebuild() must return a Simulation, got {type(sim).__name__}")
    _check_branchable(sim)
    assert search._root is not None
    same = sorted(sim.node_ids) == sorted(search._servers) and \
        sorted(sim.client_ids) == sorted(search._clients) and \
        all(_remaining_ops(sim, client_id, len(planned)) == planned
            for client_id, planned in search._clients.items()) and \
        _root(search, sim).key == search._root.key
    if not same:
        raise UsageError(
            "rebuild() returned a simulation in another state than the one the search "
            f"branched from (now t={sim.now:.6f}): it must run the same code with the "
            "same seed and scenario to the same point (does a node use the wall clock, "
            "the global random, or set order?)")
    _follow_the_search(search, sim, check)
    search._follow(sim, path)
    return sim


# ----- reading a simulation ----------------------------------------------------------------


def _check_branchable(sim: Simulation) -> None:
    for event in sim.pending():
        if isinstance(event, Start):
            raise UsageError(
                f"cannot branch at t={sim.now:.6f}: node(s) {', '.join(event.nodes)} have not "
                "started yet (their start is pending). Branch after every node has started, "
                "e.g. after sim.run(until=...)")
    for node_id in (*sim.node_ids, *sim.client_ids):
        if sim._slots[node_id].clock != Clock():
            raise UsageError(
                f"cannot branch: node {node_id} has a skewed or drifting clock "
                f"({sim._slots[node_id].clock}); the search models one ideal clock")


def _remaining_ops(sim: Simulation, client_id: str, cap: int | None) -> list[dict[str, Any]]:
    """The operations ``client_id`` would run next, drawn as the run would draw them."""
    state = sim._clients.clients[client_id]
    left = state.ops_left
    if left is None:
        if cap is None:
            raise UsageError(
                f"client {client_id} has no limit on its operations (ops=None): pass "
                "ops=N to Search.from_simulation, the most further operations per client "
                "to explore")
        left = cap
    elif cap is not None:
        left = min(left, cap)
    rng = Random()
    rng.setstate(state.rng.getstate())  # a copy: the run's own generator is not touched
    # An idle running client has its next invocation scheduled (its think time drawn);
    # otherwise the think time comes first (after the completion, or the restart).
    think_first = not (sim._slots[client_id].node is not None and state.op is None)
    planned = []
    for index in range(left):
        if index or think_first:
            state.think.sample(rng)
        planned.append(normalize_op(client_id, state.workload(rng)))
    return planned


def _root(search: Search, sim: Simulation) -> _State:
    """``sim``'s state now, as a search state."""
    deadlines: dict[str, dict[str, float]] = {}
    network = []
    for event in sim.pending():
        if isinstance(event, Timer):
            deadlines.setdefault(event.target, {})[event.name] = event.time
        elif isinstance(event, Deliver):
            network.append((event.src, event.dst, search._wire(event.msg, event.stamps)))
    network.sort()
    nodes = []
    for node_id in search._ids:
        slot = sim._slots[node_id]
        client = None
        if slot.client is not None:  # (index into its remaining operations, op in progress)
            client = (0, dict(slot.client.op) if slot.client.op is not None else None)
        if slot.node is None:
            nodes.append(search._down(dict(slot.durable), slot.incarnation, client))
            continue
        assert slot.ctx is not None and slot.storage is not None
        rng: str | tuple[Any, ...] = slot.ctx.rng.getstate()
        label = f"{sim.seed}/node/{node_id}/{slot.incarnation}"
        if Random(label).getstate() == rng:
            rng = label  # never used: the search's own form (so keys match a fresh search)
        nodes.append(search._freeze(slot.node, slot.storage, rng, slot.incarnation,
                                    deadlines.get(node_id, {}), client))
    return search._state(tuple(nodes), tuple(network), sim.now, (0, 0, 0))


# ----- replaying on a rebuilt simulation ------------------------------------------------------


def _follow_the_search(search: Search, sim: Simulation, check: bool) -> None:
    """Make ``sim`` (in the branch state) behave by the search's rules from now on."""
    # The rebuilt run's own invariants stand for the ones the search took from the
    # original: they saw the prefix and nothing else (the originals were shown every
    # state of the search, which an invariant that remembers would have mixed up).
    own = sim._invariants if check and search._inherited else []
    sim._invariants = list(own)
    if check:
        for name, invariant in search._invariants[search._inherited:]:
            sim.add_invariant(invariant, name)
    if getattr(sim, "_tape", None) is not None:
        sim._tape = None  # a recorded schedule's latencies and losses are not the search's
    sim.network = Network(latency=0.0)
    if sim._cuts.active:
        sim.heal()
    # Messages take no time in the search, nor does a client think: what is pending is
    # due now (the queue keeps its order by sequence number among them).
    now = sim.now
    queue = sim._queue
    deliver = sim._deliver
    queue[:] = [(now, seq, handler, event)
                if handler == deliver or isinstance(event, Invoke) else (time, seq, handler, event)
                for time, seq, handler, event in queue]
    heapq.heapify(queue)
    for client_id, planned in search._clients.items():
        state = sim._clients.clients[client_id]
        state.workload = _Replayed(planned)
        state.think = Constant(0.0)
        state.ops_left = len(planned)

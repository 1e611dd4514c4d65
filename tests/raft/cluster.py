"""What the Raft tests share: a service node on Raft, a cluster builder, and probes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsys import Network, Node, Simulation
from dsys.raft import Raft, run_invariants

RAFT = {"@component": "raft"}  # the stamps of a message the "raft" component sends


class Recorder:
    """A state machine that remembers what it applied, in order (and at which log
    indexes: increasing, with gaps where the leaders' no-op entries are)."""

    def __init__(self) -> None:
        self.applied: list[Any] = []
        self.indexes: list[int] = []

    def apply(self, index: int, command: Any) -> int:
        assert not self.indexes or index > self.indexes[-1]
        self.applied.append(command)
        self.indexes.append(index)
        return index


class Server(Node):
    """A node that holds a Raft component (built by ``make``) and a recording state
    machine; ``submit`` proposes a command wherever it runs (only a leader accepts)."""

    make: Callable[[Recorder], Raft] = staticmethod(lambda sm: Raft(sm))  # type: ignore
    machine_class: type[Recorder] = Recorder

    def __init__(self) -> None:
        super().__init__()
        self.machine = type(self).machine_class()
        self.raft = self.add_component(type(self).make(self.machine))


def server_with(make: Callable[[Recorder], Raft],
                machine: type[Recorder] = Recorder) -> type[Server]:
    """A :class:`Server` subclass whose Raft component is built by ``make`` (around a
    state machine of class ``machine``)."""
    return type("CustomServer", (Server,), {"make": staticmethod(make),
                                            "machine_class": machine})


def cluster(seed: int, *, nodes: str = "abc", factory: type[Server] = Server,
            network: Network | None = None, check: bool = True) -> Simulation:
    """A simulation of Raft servers named by the letters of ``nodes``, with every Raft
    invariant checked after every event."""
    sim = Simulation(seed=seed, network=network or Network())
    for name in nodes:
        sim.add_node(name, factory)
    if check:
        for invariant in run_invariants():
            sim.add_invariant(invariant)
    return sim


def leaders(sim: Simulation) -> list[str]:
    """The running nodes that believe they lead (of any term)."""
    return [n for n, node in sim.nodes.items() if node.raft.is_leader]  # type: ignore


def one_leader(sim: Simulation) -> bool:
    """Exactly one running node leads, and every running node follows its term."""
    found = leaders(sim)
    if len(found) != 1:
        return False
    term = sim.node(found[0]).raft.term  # type: ignore[union-attr]
    return all(node.raft.term == term for node in sim.nodes.values())  # type: ignore


def leader(sim: Simulation) -> Raft | None:
    """The Raft of the leader of the highest term among running nodes, if any."""
    rafts = [node.raft for node in sim.nodes.values() if node.raft.is_leader]  # type: ignore
    return max(rafts, key=lambda r: r.term) if rafts else None


def submit(sim: Simulation, command: Any) -> tuple[int, int] | None:
    """Propose ``command`` to the current leader (None if there is none)."""
    raft = leader(sim)
    return raft.start(command) if raft is not None else None


def all_applied(sim: Simulation, index: int) -> Callable[[Simulation], bool]:
    """A predicate: every running node has applied up to ``index``."""
    return lambda s: all(node.raft.last_applied >= index  # type: ignore[attr-defined]
                         for node in s.nodes.values())


def elections(sim: Simulation, after: float = 0.0) -> list[tuple[float, str, int]]:
    """(time, node, term) of every election won after ``after``."""
    return [(e.time, e.node, e.data["term"]) for e in sim.trace
            if e.kind == "note" and e.data["event"] == "elected" and e.time > after]

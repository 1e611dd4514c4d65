"""Branching: a search that starts from a simulation's state now (``Search.from_simulation``).

Started right after the nodes' start, it is the very search that starts from scratch;
started mid-run, it carries over every node (its object, storage, random generator and
timers), the messages in flight, crashes and clients, finds a bug a random run came close
to, and its path replays on a rebuilt run, prefix and branch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from dsys import Client, Component, Nemesis, Network, Node, Simulation, message
from dsys.errors import ConfigError, UsageError
from dsys.search import Search
from dsys.sim.report import InvariantViolation
from dsys.sim.simulation import Clock

# ----- (a) a small system, searched from scratch and from a simulation after its start ----


@message(name="branchtest:Ping")
class Ping:
    n: int


@message(name="branchtest:Pong")
class Pong:
    n: int


@message(name="branchtest:Get")
class Get:
    pass


@message(name="branchtest:Value")
class Value:
    value: int


class Echo(Component):
    """A component: pings the peers once, answers pings, counts the answers."""

    messages = (Ping, Pong)

    def on_start(self) -> None:
        self.pongs: list[str] = []
        self.send_to_peers(Ping(1))

    def on_message(self, src: str, msg: Ping | Pong) -> None:
        if isinstance(msg, Ping):
            self.send(src, Pong(msg.n))
        else:
            self.pongs.append(src)


class Peer(Node):
    """A node built by composition, with a timer, storage and a random draw at start."""

    def __init__(self) -> None:
        super().__init__()
        self.echo = self.add_component(Echo())

    def on_start(self) -> None:
        self.lucky = self.rng.randrange(100)
        self.gets = 0
        self.set_timer("save", 0.1)

    def on_message(self, src: str, msg: Get) -> None:
        self.gets += 1
        self.send(src, Value(len(self.echo.pongs)))

    def on_timer(self, name: str) -> None:
        self.storage["pongs"] = len(self.echo.pongs)


class Reader(Client):
    def on_invoke(self, op: dict[str, Any]) -> None:
        self.send("a", Get())

    def on_message(self, src: str, msg: Value) -> None:
        if self.current_op is not None:  # (a duplicated answer comes after the completion)
            self.ok(msg.value)


def reads(rng: Any) -> dict[str, Any]:
    return {"f": "read", "value": None}


def small_simulation(seed: int, ops: int = 2) -> Simulation:
    """The small system on a zero-latency network, just after its start event."""
    sim = Simulation(seed=seed, network=Network(latency=0.0))
    sim.add_node("a", Peer)
    sim.add_node("b", Peer)
    sim.add_client("c", Reader, workload=reads, ops=ops)
    sim.fire(sim.pending()[0])  # the start: every node built and started
    return sim


@pytest.mark.parametrize(("budgets", "ops"), [({"duplicates": 1}, 2), ({"crashes": 1}, 1)])
def test_a_branch_after_the_start_is_the_search_from_scratch(budgets: dict[str, int],
                                                            ops: int) -> None:
    scratch = Search({"a": Peer, "b": Peer}, clients={"c": Reader}, workload=reads, ops=ops,
                     seed=4, **budgets).bfs()
    branch = Search.from_simulation(small_simulation(4, ops), **budgets).bfs()
    assert scratch.verdict == branch.verdict == "ok"
    assert scratch.states > 1_000  # every message, timer, invocation, crash, restart
    assert (branch.states, branch.transitions, branch.depth) == \
        (scratch.states, scratch.transitions, scratch.depth)


# ----- (b) a bug a random run comes close to, found from the middle of the run ------------


@message(name="branchtest:Acquire")
class Acquire:
    pass


@message(name="branchtest:Grant")
class Grant:
    pass


@message(name="branchtest:Release")
class Release:
    pass


class LockServer(Node):
    """Grants the lock to one worker at a time. The bug: it grants again to the worker it
    thinks holds the lock (meant for a retried request), so an ``Acquire`` that overtakes
    the same worker's earlier ``Release`` is granted, and the late ``Release`` then frees
    a lock that worker holds."""

    def on_start(self) -> None:
        self.holder: str | None = None

    def on_message(self, src: str, msg: Acquire | Release) -> None:
        if isinstance(msg, Acquire):
            if self.holder is None or self.holder == src:
                self.holder = src
                self.send(src, Grant())
        elif self.holder == src:
            self.holder = None


class Worker(Node):
    """Wants the lock 0.2 s after releasing it, asks again every 0.1 s, holds it 0.25 s."""

    def on_start(self) -> None:
        self.holding = False
        self.waiting = False
        self.set_timer("want", 0.1)

    def on_timer(self, name: str) -> None:
        if name == "want" or (name == "retry" and self.waiting):
            self.waiting = True
            self.send("lock", Acquire())
            self.set_timer("retry", 0.1)
        elif name == "done":
            self.holding = False
            self.send("lock", Release())
            self.set_timer("want", 0.2)

    def on_message(self, src: str, msg: Grant) -> None:
        self.waiting = False
        self.cancel_timer("retry")
        if not self.holding:
            self.holding = True
            self.set_timer("done", 0.25)


def mutual_exclusion(sim: Any) -> None:
    holders = [i for i, node in sim.nodes.items() if getattr(node, "holding", False)]
    assert len(holders) <= 1, f"{' and '.join(holders)} hold the lock"


def lock_run(seed: int, until: float, *, stop_when_held: bool = True) -> Simulation:
    """A random run (1-10 ms latency, partitions from a nemesis) to ``until``, then on to
    the moment some worker holds the lock: the vicinity of the bug."""
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.01)))
    sim.add_node("lock", LockServer)
    sim.add_node("w1", Worker)
    sim.add_node("w2", Worker)
    sim.add_invariant(mutual_exclusion)
    Nemesis(faults=("partition", "isolate"), interval=(0.5, 1.0), duration=(0.1, 0.3),
            stop=until + 10.0).install(sim)
    sim.run(until=until)
    if stop_when_held:
        sim.run_until(lambda s: any(getattr(n, "holding", False) for n in s.nodes.values()),
                      timeout=5.0)
    return sim


def branch_and_replay(seed: int) -> None:
    # Random testing does not find the bug: the Release would have to be 0.2 s late.
    lock_run(seed, 20.0, stop_when_held=False)
    sim = lock_run(seed, 2.0)
    result = Search.from_simulation(sim, rebuild=lambda: lock_run(seed, 2.0)).bfs(
        max_depth=12)
    assert result.verdict == "violation", result.summary()
    assert "hold the lock" in result.problem
    assert len(result.path) <= 12
    kinds = [step.describe() for step in result.path]
    assert any("Release" in step for step in kinds)  # the overtaken Release is in the path
    # The path replays on the rebuilt run: the prefix, then the branch, the invariant failing.
    replayed = result.replay()
    assert replayed.now >= sim.now
    with pytest.raises(AssertionError, match="hold the lock"):
        mutual_exclusion(replayed)
    with pytest.raises(InvariantViolation, match="hold the lock"):
        result.replay(check=True)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_branch_from_the_middle_of_a_run_finds_the_bug_and_replays_it(seed: int) -> None:
    branch_and_replay(seed)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(3, 30))
def test_many_seeds_branch_to_the_bug(seed: int) -> None:
    branch_and_replay(seed)


def test_the_fixed_lock_server_is_safe_from_the_same_branch_point() -> None:
    class FixedLockServer(LockServer):
        """Grants only a free lock (a retried request is answered by the first Grant)."""

        def on_message(self, src: str, msg: Acquire | Release) -> None:
            if isinstance(msg, Acquire) and self.holder == src:
                return
            super().on_message(src, msg)

    sim = lock_run(1, 2.0)
    # The same state, with the fixed server's object in place of the buggy one.
    fixed = FixedLockServer.__new__(FixedLockServer)
    fixed.__dict__.update(sim.node("lock").__dict__)
    sim._slots["lock"].node = fixed
    sim._slots["lock"].factory = FixedLockServer
    result = Search.from_simulation(sim).bfs(max_depth=10)
    assert result.verdict == "ok", result.report()


# ----- (c) random generators continue, (d) timers, crashes, messages carried over --------


@message(name="branchtest:Note")
class Note:
    n: int


class Drawer(Node):
    """Draws from its rng at start (``drawn_early``) and when its timer fires."""

    def on_start(self) -> None:
        self.draws: list[float] = []
        if self.id == "early":
            self.draws.append(self.rng.random())
        self.set_timer("draw", 0.3)
        self.set_timer("later", 0.7)

    def on_timer(self, name: str) -> None:
        if name == "draw":
            self.draws.append(self.rng.random())


class Chatty(Node):
    """Sends three notes at start, writes storage (one write synced, one not)."""

    def on_start(self) -> None:
        self.got: list[int] = []
        if self.id == "talker":
            for n in range(3):
                self.send("listener", Note(n))
        self.storage["synced"] = 1
        self.storage.sync()
        self.storage["unsynced"] = 2

    def on_message(self, src: str, msg: Note) -> None:
        self.got.append(msg.n)

    def on_recover(self) -> None:
        self.got = []  # writes nothing: what storage holds after a restart is what was kept


def mixed_simulation() -> Simulation:
    sim = Simulation(seed=9, network=Network(latency=(0.05, 0.1)))
    for name in ("early", "fresh"):
        sim.add_node(name, Drawer)
    for name in ("talker", "listener", "disk"):
        sim.add_node(name, Chatty)
    sim.run(until=0.01)
    sim.crash("disk", unsynced="lost")
    return sim


def views_after_one_step(search: Search) -> tuple[Any, list[tuple[str, float, Any]]]:
    """The first state's facts, and each one-step successor's (found by an invariant)."""
    seen: list[tuple[float, dict[str, Any], tuple[str, ...], int]] = []

    def record(view: Any) -> None:
        seen.append((view.now, {i: list(getattr(n, "draws", getattr(n, "got", [])))
                                for i, n in view.nodes.items()}, view.crashed,
                     view.in_flight))

    search.add_invariant(record)
    result = search.bfs(max_depth=1)
    assert result.verdict == "ok"
    return seen[0], seen[1:]


def test_rng_timers_crashes_and_messages_carry_over_and_the_run_is_untouched() -> None:
    sim = mixed_simulation()
    assert sim.in_flight == 3 and sim.crashed == ("disk",)
    deadlines = {(e.target, e.name): e.time for e in sim.pending() if e.kind == "timer"}
    search = Search.from_simulation(sim)
    root, children = views_after_one_step(search)
    now, _, crashed, in_flight = root
    assert (now, crashed, in_flight) == (0.01, ("disk",), 3)
    # Every pending delivery is a step (3), every node's earliest timer (2), a restart.
    assert len(children) == 6
    # (d) a timer fires at its deadline from the run; a delivery takes no time.
    timer_times = sorted(c[0] for c in children if c[0] != 0.01)
    assert timer_times == sorted([deadlines[("early", "draw")], deadlines[("fresh", "draw")]])
    assert {tuple(c[1]["listener"]) for c in children if c[0] == 0.01 and
            c[1].get("listener")} == {(0,), (1,), (2,)}
    assert any(c[2] == () for c in children)  # the crashed node restarted
    # (c) each drawer draws what the run draws next, used generator or untouched one.
    sim.run(until=0.35)
    expected = {name: sim.node(name).draws[-1] for name in ("early", "fresh")}
    drawn = {name: c[1][name][-1] for c in children for name in ("early", "fresh")
             if len(c[1][name]) == (2 if name == "early" else 1)}
    assert drawn == expected
    # The branch read the run without changing it: it goes on as if never branched.
    again = mixed_simulation()
    again.run(until=0.35)
    assert again.trace.digest() == sim.trace.digest()


def test_a_crashed_node_keeps_its_durable_storage_and_restarts_from_it() -> None:
    sim = mixed_simulation()
    kept: list[Any] = []

    def restarted(view: Any) -> bool:
        if view.is_up("disk"):
            kept.append(view.node("disk").storage.get("unsynced"))
            kept.append(view.node("disk").storage.get("synced"))
            return True
        assert view.durable_storage("disk") == {"synced": 1}
        return False

    search = Search.from_simulation(sim)
    search.add_goal(restarted)
    result = search.bfs()
    assert result.verdict == "goal" and [s.kind for s in result.path] == ["restart"]
    assert kept == [None, 1]


def test_a_client_mid_run_continues_its_workload() -> None:
    def counting(rng: Any) -> dict[str, Any]:
        return {"f": "read", "value": rng.randrange(1000)}

    def build() -> Simulation:
        sim = Simulation(seed=2, network=Network(latency=(0.01, 0.02)))
        sim.add_node("a", Peer)
        sim.add_node("b", Peer)
        sim.add_client("c", Reader, workload=counting, ops=4, think=(0.01, 0.05))
        sim.run_until(lambda s: len(s.history) == 3)  # op 2 invoked, in progress
        return sim

    sim = build()
    search = Search.from_simulation(sim, rebuild=build)
    search.add_goal(lambda view: view.clients_done)
    done = search.bfs(max_depth=8)
    assert done.verdict == "goal"
    assert [s.kind for s in done.path].count("invoke") == 2  # ops 3 and 4, not more
    replayed = done.replay()
    # The operations the search ran are the ones the run itself draws next.
    sim.run(until=10.0)
    assert [e["value"] for e in replayed.history if e["type"] == "invoke"] == \
        [e["value"] for e in sim.history if e["type"] == "invoke"]


# ----- (e) clear errors ---------------------------------------------------------------------


def test_bad_calls_are_refused_with_what_to_do() -> None:
    sim = Simulation(seed=1)
    sim.add_node("a", Peer)
    with pytest.raises(UsageError, match="not started yet"):
        Search.from_simulation(sim)
    with pytest.raises(UsageError, match="takes a Simulation"):
        Search.from_simulation("sim")  # type: ignore[arg-type]
    sim.run(until=0.05)
    with pytest.raises(ConfigError, match="rebuild must be a function"):
        Search.from_simulation(sim, rebuild=sim)  # type: ignore[arg-type]
    skewed = Simulation(seed=1)
    skewed.add_node("a", Peer, clock=Clock(offset=0.5))
    skewed.run(until=0.05)
    with pytest.raises(UsageError, match="ideal clock"):
        Search.from_simulation(skewed)
    endless = Simulation(seed=1)
    endless.add_node("a", Peer)
    endless.add_client("c", Reader, workload=reads, ops=None)
    endless.run(until=0.05)
    with pytest.raises(UsageError, match="ops=N"):
        Search.from_simulation(endless)
    assert Search.from_simulation(endless, ops=1).bfs(max_depth=3).verdict == "ok"


def test_a_replay_needs_rebuild_and_the_same_state() -> None:
    sim = lock_run(1, 2.0)
    result = Search.from_simulation(sim).bfs(max_depth=12)
    assert result.verdict == "violation"
    with pytest.raises(UsageError, match="rebuild="):
        result.replay()
    elsewhere = Search.from_simulation(sim, rebuild=lambda: lock_run(2, 2.0)).bfs(max_depth=12)
    with pytest.raises(UsageError, match="another state"):
        elsewhere.replay()


def test_an_invariant_that_reads_the_trace_is_told_the_search_has_none() -> None:
    sim = lock_run(1, 1.0)
    search = Search.from_simulation(sim, invariants=[lambda s: len(s.trace) >= 0])
    with pytest.raises(AttributeError, match="keeps no trace"):
        search.bfs(max_depth=1)


def test_a_branch_search_does_not_depend_on_the_hash_seed() -> None:
    code = ("from tests.search.test_branch import lock_run;"
            "from dsys.search import Search;"
            "r = Search.from_simulation(lock_run(1, 2.0)).bfs(max_depth=12);"
            "print(r.states, r.transitions, [s.describe() for s in r.path])")
    outputs = set()
    for hash_seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=120, check=True)
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1, outputs

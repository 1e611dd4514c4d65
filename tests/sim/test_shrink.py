"""Shrinking finds the choices a failure needs and drops the rest: the one lost message
among many, the one crash among a nemesis's faults, the first operations of a client;
it stays within its budget and refuses a schedule that does not fail."""

from __future__ import annotations

from typing import Any

import pytest

from dsys import Client, Nemesis, Network, Node, Simulation, message
from dsys.errors import ConfigError, UsageError
from dsys.sim.schedule import CLEAN, Schedule, recording, replaying, sized
from dsys.sim.shrink import shrink, signature


@message(name="test.shrink:Add")
class Add:
    n: int


@message(name="test.shrink:Set")
class Set:
    value: int


@message(name="test.shrink:Done")
class Done:
    value: int


class Sender(Node):
    def on_start(self) -> None:
        for n in range(40):
            self.send("sum", Add(n))


class Sum(Node):
    def on_start(self) -> None:
        self.seen: set[int] = set()

    def on_message(self, src: str, msg: Any) -> None:
        self.seen.add(msg.n)


def lossy(seed: int) -> None:
    sim = Simulation(seed, Network(drop=0.25))
    sim.add_node("s", Sender)
    sim.add_node("sum", Sum)
    sim.run(until=1.0)
    missing = sorted(set(range(40)) - sim.node("sum").seen)
    assert 13 not in missing, f"Add(13) was lost (and {len(missing) - 1} others)"


def failing_seed(scenario: Any, seeds: range = range(200)) -> int:
    for seed in seeds:
        try:
            scenario(seed)
        except AssertionError:
            return seed
    raise AssertionError("no failing seed")  # pragma: no cover


def record(scenario: Any, seed: int) -> Schedule:
    with recording() as schedule, pytest.raises(AssertionError):
        scenario(seed)
    return schedule


def test_the_one_loss_that_matters_is_kept_and_the_others_are_delivered() -> None:
    seed = failing_seed(lossy)
    schedule = record(lossy, seed)
    assert len(schedule.runs[0].losses()) > 5
    result = shrink(lambda: lossy(seed), schedule)
    assert result.schedule.runs[0].losses() == [("s", "sum", "Add", 13)]
    assert result.before["message losses"] == len(schedule.runs[0].losses())
    assert result.after["message losses"] == 1
    assert result.signature == "AssertionError: Add(#) was lost (and # others)"
    # The shrunk schedule replays the failure, with no other loss; the check at the end
    # needs only the run up to Add(13)'s arrival (without the loss, it passes there).
    with replaying(result.schedule), pytest.raises(AssertionError, match=r"Add\(13\) was"):
        lossy(seed)
    assert "message losses: " in result.describe()
    (stop,) = result.ends_after
    assert 0.0 < stop < 1.0 == result.ends_before[0]
    assert f"stopped at t={stop:g} s instead of t=1 s" in result.describe()
    assert result.schedule.runs[0].until == stop
    with replaying(result.schedule.edited(lambda run: {k: CLEAN for k in run.losses()})):
        lossy(seed)  # the same stop without the loss passes: the stop alone proves nothing


class Keeper(Node):
    """Keeps a value in storage; after a restart it says so. Syncs only when told."""

    def on_start(self) -> None:
        self.value = 0
        self.set_timer("tick", 0.05)

    def on_recover(self) -> None:
        self.value = self.storage.get("value", 0)
        self.set_timer("tick", 0.05)

    def on_timer(self, name: str) -> None:
        self.value += 1
        self.storage["value"] = self.value
        if self.value % 3 == 0:
            self.storage.sync()
        self.set_timer("tick", 0.05)
        for peer in self.peers:
            self.send(peer, Set(self.value))

    def on_message(self, src: str, msg: Any) -> None:
        pass


def crashy(seed: int, *, budget: list[int] | None = None) -> None:
    """Fails when k2 crashes and loses an unsynced write (its value goes back)."""
    sim = Simulation(seed, Network(drop=0.05))
    for name in ("k1", "k2", "k3", "k4", "k5"):
        sim.add_node(name, Keeper)
    Nemesis(faults=("partition", "crash", "oneway"), interval=(0.1, 0.3),
            duration=(0.1, 0.3), max_crashed=2, stop=5.0).install(sim)

    seen = [0]

    def never_back(s: Simulation) -> bool:
        new = s.trace.raw(seen[0]) if seen[0] else s.trace.raw()
        seen[0] = len(s.trace)
        return not any(node == "k2" and kind == "crash" and data.get("lost_writes")
                       for _, node, kind, data in new)

    sim.add_invariant(never_back, "k2 never loses a write")
    sim.run(until=6.0)


def test_a_nemesis_run_shrinks_to_the_crash_that_matters() -> None:
    from dsys.sim.report import InvariantViolation

    seed = next(s for s in range(100) if _fails(crashy, s))
    with recording() as schedule, pytest.raises(InvariantViolation):
        crashy(seed)
    before = schedule.runs[0]
    assert len(before.active_faults()) >= 4
    result = shrink(lambda: crashy(seed), schedule)
    after = result.schedule.runs[0]
    # Left: the one crash of k2 (nothing else is needed), one lost write, no losses.
    assert [f[:2] for f in after.active_faults()] == [("crash", "k2")]
    assert len(after.lost_writes()) == 1 and after.lost_writes()[0][0] == "k2"
    assert after.losses() == []
    with replaying(result.schedule), pytest.raises(InvariantViolation, match="k2 never"):
        crashy(seed)


def late_check(seed: int) -> None:
    """Fails at its end, at t=6, if k2 ever lost a write (its crash comes much earlier)."""
    sim = Simulation(seed, Network(drop=0.05))
    for name in ("k1", "k2", "k3", "k4", "k5"):
        sim.add_node(name, Keeper)
    Nemesis(faults=("partition", "crash", "oneway"), interval=(0.1, 0.3),
            duration=(0.1, 0.3), max_crashed=2, stop=5.0).install(sim)
    sim.run(until=6.0)
    lost = [e for e in sim.trace if e.node == "k2" and e.kind == "crash"
            and e.data.get("lost_writes")]
    assert not lost, f"k2 lost a write at t={lost[0].time:.3f}"


def test_a_failure_judged_at_the_end_stops_soon_after_its_cause() -> None:
    seed = next(s for s in range(100) if _fails(late_check, s))
    with recording() as schedule, pytest.raises(AssertionError):
        late_check(seed)
    result = shrink(lambda: late_check(seed), schedule)
    crash_time = float(result.message.rsplit("t=", 1)[1])
    (stop,) = result.ends_after
    assert result.ends_before == (6.0,)
    assert crash_time <= stop < crash_time + 6.0 / 4096 * 2  # bisected to 1/4096 of 6 s
    assert [f[:2] for f in result.schedule.runs[0].active_faults()] == [("crash", "k2")]
    assert result.events < result.original_events  # the second after the crash: gone
    with replaying(result.schedule), pytest.raises(AssertionError, match="k2 lost a write"):
        late_check(seed)


def test_a_failure_that_needs_no_choice_is_not_stopped_early() -> None:
    def always(seed: int) -> None:
        sim = Simulation(seed)
        sim.add_node("s", Sender)
        sim.add_node("sum", Sum)
        sim.run(until=1.0)
        raise AssertionError("wrong from the start")

    with recording() as schedule, pytest.raises(AssertionError):
        always(0)
    result = shrink(lambda: always(0), schedule)
    assert result.ends_after == result.ends_before == (1.0,)
    assert result.schedule.runs[0].until is None


def sized_scenario(seed: int) -> None:
    n = sized("nodes", 6, minimum=1)
    sim = Simulation(seed, Network(drop=0.2))
    sim.add_node("s", Sender)
    sim.add_node("sum", Sum)
    for i in range(n - 1):
        sim.add_node(f"extra{i}", Sum)
    sim.run(until=0.5)
    assert n < 3, f"{n} nodes are too many"


def test_a_size_the_test_allows_shrinks_to_the_smallest_that_fails(tmp_path: Any) -> None:
    assert sized("nodes", 6, minimum=1) == 6  # outside a schedule: the default
    with recording() as schedule, pytest.raises(AssertionError, match="6 nodes"):
        sized_scenario(0)
    assert schedule.sizes == {"nodes": (6, 1)}
    result = shrink(lambda: sized_scenario(0), schedule)
    assert result.schedule.sizes == {"nodes": (3, 1)}
    assert result.before["size of nodes"] == 6 and result.after["size of nodes"] == 3
    assert "size of nodes: 6 -> 3" in result.describe()
    path = result.schedule.save(tmp_path / "sized.schedule.json")
    loaded = Schedule.load(path)
    assert loaded.sizes == {"nodes": (3, 1)}
    with replaying(loaded), pytest.raises(AssertionError, match="3 nodes"):
        sized_scenario(0)
    with pytest.raises(ConfigError, match="minimum <= default"):
        sized("nodes", 2, minimum=3)


def _fails(scenario: Any, seed: int) -> bool:
    try:
        scenario(seed)
    except Exception:
        return True
    return False


class Writer(Client):
    def on_invoke(self, op: dict[str, Any]) -> None:
        self.send("store", Set(op["value"]))

    def on_message(self, src: str, msg: Any) -> None:
        self.ok(msg.value)


class Store(Node):
    """Forgets to answer the 4th write of anyone (the bug)."""

    def on_start(self) -> None:
        self.count = 0

    def on_message(self, src: str, msg: Any) -> None:
        self.count += 1
        if self.count != 4:
            self.send(src, Done(msg.value))


def stuck(seed: int) -> None:
    sim = Simulation(seed)
    sim.add_node("store", Store)
    for name in ("c1", "c2"):
        sim.add_client(name, Writer, workload=lambda rng: {"f": "w", "value": rng.randint(0, 9)},
                       ops=20, think=0.01)
    sim.run(until=5.0)
    pending = [e for e in sim.history if e["type"] == "invoke"]
    done = [e for e in sim.history if e["type"] == "ok"]
    assert len(done) == len(pending), f"{len(pending) - len(done)} write(s) never answered"


def test_client_operations_are_cut_to_the_ones_the_failure_needs() -> None:
    schedule = record(stuck, 0)
    result = shrink(lambda: stuck(0), schedule)
    # Before: one client stuck at its 4th write or earlier, the other ran its 20. After:
    # four writes in all, the fewest for the store to skip one (one client is enough).
    assert result.before["client operations"] >= 20
    assert result.after["client operations"] == 4
    assert 0 in result.schedule.runs[0].ops.values()
    with replaying(result.schedule), pytest.raises(AssertionError, match="1 write"):
        stuck(0)


def test_the_budget_is_respected() -> None:
    seed = failing_seed(lossy)
    schedule = record(lossy, seed)
    result = shrink(lambda: lossy(seed), schedule, max_runs=3)
    assert result.runs == 3
    lines: list[str] = []
    shrink(lambda: lossy(seed), schedule, max_runs=2, progress=lines.append)
    assert lines == ["stopped at the budget (2 replays)"]


def test_a_schedule_that_does_not_fail_is_refused() -> None:
    with recording() as schedule:
        lossy(next(s for s in range(200) if not _fails(lossy, s)))
    with pytest.raises(UsageError, match="does not fail"):
        shrink(lambda: lossy(0), schedule)


def test_signature() -> None:
    assert signature(ValueError("")) == "ValueError: "
    assert signature(AssertionError("x=1.5 at t=20\nmore")) == "AssertionError: x=# at t=#"

"""Schedules: recording changes nothing, a replay is the same run, choices are keyed by
identity (so an edit that adds a message disturbs no other), suppressed faults are not
made, lost writes and client caps are followed, files round-trip and bad ones are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dsys import Client, Nemesis, Network, Node, Simulation, message
from dsys.errors import ConfigError
from dsys.sim.schedule import (
    CLEAN,
    RunChoices,
    Schedule,
    StoppedClock,
    divergence,
    recording,
    replaying,
)


@message(name="test.schedule:Beat")
class Beat:
    n: int


@message(name="test.schedule:Extra")
class Extra:
    n: int


@message(name="test.schedule:Req")
class Req:
    op: int


@message(name="test.schedule:Rep")
class Rep:
    op: int


class Peer(Node):
    """Beats to every peer every 50 ms, writes each beat to storage (synced every fourth)."""

    EXTRA = False

    def on_start(self) -> None:
        self.n = 0
        self.got: list[tuple[str, int]] = []
        self.set_timer("beat", 0.05)

    def on_timer(self, name: str) -> None:
        self.n += 1
        if self.EXTRA and self.n % 5 == 0:
            for peer in self.peers:
                self.send(peer, Extra(self.n))
        for peer in self.peers:
            self.send(peer, Beat(self.n))
        self.storage[f"beat/{self.n}"] = self.n
        if self.n % 4 == 0:
            self.storage.sync()
        self.set_timer("beat", 0.05)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Beat(n=n):
                self.got.append((src, n))
            case Req(op=op):
                self.send(src, Rep(op))


class PeerWithExtra(Peer):
    """The same node after an edit: every fifth beat it also sends an Extra first."""

    EXTRA = True


class Asker(Client):
    """Asks p1, and asks again every 0.2 s until answered."""

    def on_invoke(self, op: dict[str, Any]) -> None:
        self.send("p1", Req(op["value"]))
        self.set_timer("retry", 0.2)

    def on_timer(self, name: str) -> None:
        op = self.current_op
        if op is not None:
            self.on_invoke(op)

    def on_message(self, src: str, msg: Any) -> None:
        op = self.current_op
        if isinstance(msg, Rep) and op is not None and op["value"] == msg.op:
            self.ok(msg.op)


def run(seed: int, node: type[Node] = Peer, *, until: float = 8.0) -> Simulation:
    net = Network(latency=(0.001, 0.02), drop=0.1, duplicate=0.05, reorder=0.1,
                  reorder_delay=0.05)
    sim = Simulation(seed, net)
    for name in ("p1", "p2", "p3"):
        sim.add_node(name, node)
    sim.add_client("c1", Asker, workload=lambda rng: {"f": "ask", "value": rng.randint(0, 99)},
                   ops=12, think=0.1)
    Nemesis(faults=("partition", "crash", "oneway", "clock"), interval=(0.2, 0.5),
            duration=(0.2, 0.5), stop=until - 0.5).install(sim)
    sim.run(until=until)
    return sim


def recorded(seed: int, node: type[Node] = Peer) -> tuple[Simulation, Schedule]:
    with recording({"seed": seed}) as schedule:
        sim = run(seed, node)
    return sim, schedule


@pytest.mark.parametrize("seed", range(4))
def test_recording_changes_nothing_and_a_replay_is_the_same_run(seed: int) -> None:
    plain = run(seed)
    sim, schedule = recorded(seed)
    assert sim.trace.digest() == plain.trace.digest()
    choices = schedule.runs[0]
    # The run had every kind of adversity: otherwise the test would prove little.
    assert choices.losses() and choices.duplicates() and choices.reorders()
    kinds = {kind for kind, _, _ in choices.faults}
    assert {"crash", "partition", "block"} <= kinds
    assert choices.disk
    with replaying(schedule) as session:
        again = run(seed)
    assert again.trace.digest() == plain.trace.digest()
    assert session.fallbacks == 0 and session.matched == len(choices.messages)
    assert session.met().runs[0].messages == choices.messages
    assert divergence(plain.trace, again.trace).identical


def test_the_schedule_decides_not_the_seed() -> None:
    """A schedule recorded with seed 1 replayed with seed 2's nemesis and nodes: every
    message fate recorded is the one met (the network's stream is not consulted)."""
    _, schedule = recorded(1)
    fates = schedule.runs[0].messages
    with replaying(schedule) as session:
        run(1)
    assert session.met().runs[0].messages == fates
    with replaying(Schedule([RunChoices(1)])) as session:
        fresh = run(1)
    assert session.matched == 0 and session.fallbacks > 0
    assert fresh.trace.digest() != run(1).trace.digest()


def test_fates_are_keyed_by_message_identity_so_an_edit_disturbs_no_other_message() -> None:
    old, schedule = recorded(3)
    old_fates = schedule.runs[0].messages
    # The edited node sends Extra messages too. With the seed alone, each Extra consumes
    # draws of the network's stream, so later Beats meet other fates ...
    with recording() as by_seed:
        run(3, PeerWithExtra)
    beats = {k: f for k, f in old_fates.items() if k[2] == "Beat"}
    shifted = [k for k, f in beats.items() if by_seed.runs[0].messages.get(k) != f]
    assert len(shifted) > len(beats) // 2
    # ... with the schedule, every Beat that is still sent meets its recorded fate, and
    # only the new Extras draw their own.
    with replaying(schedule) as session:
        new = run(3, PeerWithExtra)
    met = session.met().runs[0].messages
    extras = [k for k in met if k[2] == "Extra"]
    assert extras and session.fallbacks == len(extras)
    for key, fate in met.items():
        if key in old_fates:
            assert fate == old_fates[key], key
    # The new run follows the old one up to the first Extra.
    first_extra = min(e.time for e in new.trace if e.kind == "send" and
                      e.message_name == "Extra")
    followed = divergence(old.trace, new.trace)
    assert not followed.identical
    assert followed.time == pytest.approx(first_extra)
    assert "Extra" in followed.new
    # The fallback fates depend on the message's key only: replaying again is the same.
    with replaying(schedule):
        assert run(3, PeerWithExtra).trace.digest() == new.trace.digest()


def test_a_suppressed_fault_is_not_made_and_the_others_still_are() -> None:
    _, schedule = recorded(2)
    choices = schedule.runs[0]
    crashes = [f for f in choices.faults if f[0] == "crash"]
    assert crashes
    gone = crashes[0]
    edited = Schedule([RunChoices(choices.seed, choices.messages, choices.faults,
                                  frozenset({gone}), choices.disk, {})])
    with replaying(edited) as session:
        sim = run(2)
    crashed = [e for e in sim.trace if e.kind == "crash" and e.node == gone[1]]
    before = [e for e in run(2).trace if e.kind == "crash" and e.node == gone[1]]
    assert len(crashed) == len(before) - 1
    met = session.met().runs[0]
    assert gone in met.faults and gone not in met.active_faults()
    assert len(met.active_faults()) == len(met.faults) - 1


def test_lost_writes_follow_the_schedule() -> None:
    _, schedule = recorded(0)
    choices = schedule.runs[0]
    lost = choices.lost_writes()
    assert lost
    node, n = lost[0]
    keys = choices.disk[node, n]

    def crash_losses(sim: Simulation) -> list[list[str]]:
        return [e.data.get("lost_writes", []) for e in sim.trace
                if e.kind == "crash" and e.node == node]

    with replaying(schedule):
        assert crash_losses(run(0))[n] == list(keys)
    kept = Schedule([RunChoices(choices.seed, choices.messages, choices.faults,
                                choices.suppressed, {**choices.disk, (node, n): ()}, {})])
    with replaying(kept):
        assert crash_losses(run(0))[n] == []


def test_clean_fates_and_client_caps() -> None:
    _, schedule = recorded(5)
    choices = schedule.runs[0]
    lossy = choices.losses()
    duplicated = choices.duplicates()
    assert lossy and duplicated
    clean = schedule.edited(lambda r: {k: CLEAN for k in lossy + duplicated})
    clean.runs[0].ops = {"c1": 3}
    with replaying(clean) as session:
        sim = run(5)
    met = session.met().runs[0]
    present = [k for k in lossy + duplicated if k in met.messages]
    assert len(present) > len(lossy + duplicated) // 2   # (the capped client sent fewer)
    for key in present:
        fate = met.messages[key]
        assert isinstance(fate, tuple) and len(fate) == 1
        latency, extra = fate[0]
        assert 0.001 <= latency <= 0.02 and extra == 0.0
    invokes = [e for e in sim.history if e["type"] == "invoke"]
    assert len(invokes) == 3


def test_a_simulation_the_schedule_never_saw_draws_its_own_fates() -> None:
    _, schedule = recorded(4)
    with replaying(schedule) as session:
        run(4)
        second = run(4)
    assert session.tapes[1].matched == 0 and session.tapes[1].fallbacks > 0
    with replaying(Schedule([schedule.runs[0]])):
        run(4)
        assert run(4).trace.digest() == second.trace.digest()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    _, schedule = recorded(1)
    schedule.runs[0].messages[("p1", "p2", "Beat", 10_000)] = CLEAN
    schedule.runs[0].ops = {"c1": 4}
    schedule.runs[0].suppressed = frozenset(schedule.runs[0].faults[:2])
    schedule.runs[0].until = 1.25
    schedule.sizes["servers"] = (3, 2)
    path = schedule.save(tmp_path / "run.schedule.json")
    loaded = Schedule.load(path)
    assert loaded.meta == {"seed": 1}
    assert loaded.runs[0] == schedule.runs[0] and loaded.sizes == {"servers": (3, 2)}
    with replaying(loaded):
        a = run(1)
    with replaying(schedule):
        b = run(1)
    assert a.trace.digest() == b.trace.digest()
    assert "messages" in loaded.summary() and "faults" in loaded.summary()


@pytest.mark.parametrize("content, problem", [
    ("not json", "cannot read"),
    ('{"format": "other"}', "not a dsys schedule"),
    ('{"format": "dsys-schedule", "version": 99}', "version 99"),
    ('{"format": "dsys-schedule", "version": 1, "runs": [{"seed": 1}]}', "malformed"),
    ('{"format": "dsys-schedule", "version": 1, "runs": [{"seed": 1, "messages": '
     '[["a", "b", "T", 0, "teleported"]], "faults": [], "suppressed": [], "disk": [], '
     '"ops": {}}]}', "unknown fate"),
])
def test_bad_schedule_files_are_refused_clearly(tmp_path: Path, content: str,
                                                problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=problem):
        Schedule.load(path)


def test_a_saved_schedule_is_the_same_under_any_hash_seed(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.path.insert(0, '.');"
        "from tests.sim.test_schedule import recorded;"
        "_, s = recorded(2); s.save(sys.argv[1])"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"s{hash_seed}.json"
        subprocess.run([sys.executable, "-c", code, str(out)], check=True,
                       env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
                       cwd=Path(__file__).resolve().parents[2])
        outputs.append(json.loads(out.read_text()))
    assert outputs[0] == outputs[1]


def test_a_stopped_clock_stops_every_run_call_and_a_test_that_loops_on_it_fails() -> None:
    _, schedule = recorded(1)
    schedule.runs[0].until = 0.5
    with replaying(schedule):
        sim = Simulation(1, Network())
        sim.add_node("a", Node)
        sim.run(until=3.0)
        assert sim.now == 0.5
        assert sim.run_until(lambda s: s.now > 1.0, timeout=2.0) is False
        assert sim.now == 0.5
        with pytest.raises(StoppedClock, match=r"stops this simulation's clock at t=0.5 s"):
            while True:  # "run a little more until ..." would loop forever
                sim.run(until=sim.now + 0.1)
    plain = Simulation(1, Network())
    plain.add_node("a", Node)
    plain.run(until=3.0)
    assert plain.now == 3.0  # no schedule: no stop

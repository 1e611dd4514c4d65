"""``dsys demo raft`` (dsys.demos.raft): every phase happens on every seed, the Raft
checkers pass, the output is the same byte for byte across runs and PYTHONHASHSEED, and
the service's client and server do what they say, one handler at a time; and Figure 8 as
the docs draw it (docs/gen_raft_pictures.py)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsys.demos.raft import (
    CLIENT,
    CLIENT_TIMEOUT,
    SERVERS,
    UNTIL,
    CountsOldTerms,
    RaftDemo,
    Server,
    Write,
    Writer,
    WriteReply,
    figure_8,
    figure_8_drawing,
    scenario,
)
from dsys.raft import Raft, check_all, check_state_machine_safety
from dsys.testing import NodeHarness

TITLES = ["Election", "Commands commit", "The leader crashes", "It comes back",
          "A partition cuts the leader into a minority", "The partition heals",
          "A follower falls behind", "A snapshot, and catching up from it"]


def played(seed: int) -> RaftDemo:
    sim = scenario(seed)  # Raft's invariants are checked after every event
    sim.run(until=UNTIL)
    return sim


@pytest.mark.parametrize("seed", range(12))
def test_every_phase_happens_and_the_checkers_pass(seed: int) -> None:
    sim = played(seed)
    director = sim.director
    assert director.stuck is None and director.current is None
    assert [phase.title for phase in director.finished] == TITLES
    report = check_all(sim.trace)
    assert report.ok, f"seed {seed}: {report.explain()}"
    crashed, partition, healed, snapshot = (director.finished[i] for i in (2, 4, 5, 7))
    # 3: the crashed leader is down at the end of its phase; a new leader, higher term.
    assert {s.id for s in crashed.states if not s.up} == {director.facts["crashed"]}
    # 5: the old leader still leads its term and holds an entry it cannot commit, while
    # the majority's leader has committed past it.
    old = next(s for s in partition.states if s.id == director.facts["cut leader"])
    new = next(s for s in partition.states if s.id == director.facts["third leader"])
    assert old.role == "leader" and old.term < new.term
    assert len(old.log) > old.commit_index and new.commit_index > old.commit_index
    # 6: every log is the same; the old leader follows; the value it took during the
    # partition is applied once, everywhere.
    assert len({s.log for s in healed.states}) == 1
    assert {s.role for s in healed.states if s.id != director.facts["third leader"]} == {
        "follower"}
    [(_, taken)] = director.facts["pending"]
    for server in SERVERS:
        values = sim.node(server).machine.values  # type: ignore[union-attr]
        assert values.count(taken) == 1 and len(values) == len(set(values))
    # 8: the follower that fell behind got the leader's snapshot, restored it, and caught
    # up; every server holds the same snapshot and the same log after it.
    behind = director.facts["behind"]
    window = sim.trace.filter(start=snapshot.start, end=snapshot.end)
    assert [e.data["index"] for e in window if e.node == behind and e.kind == "note"
            and e.data["event"] == "restore"] == [
        director.facts["snapshots"][director.facts["third leader"]]]
    assert len({(s.snapshot_index, s.log) for s in snapshot.states}) == 1
    assert all(s.snapshot_index > 0 for s in snapshot.states)


def test_each_phase_has_a_story_told_from_the_run() -> None:
    director = played(1).director
    stories = {phase.title: phase.story for phase in director.finished}
    leader = director.facts["first leader"]
    assert f"{leader} won term 1" in stories["Election"]
    assert "(done)" in stories["Commands commit"]
    assert f"{director.facts['crashed']} crashes" in stories["The leader crashes"]
    assert f"{director.facts['cut leader']} (no answer)" in stories[
        "A partition cuts the leader into a minority"]
    assert "step down" in stories["The partition heals"]
    assert "InstallSnapshot (in one chunk)" in stories["A snapshot, and catching up from it"]


def run_demo(*args: str, hashseed: str = "0") -> str:
    env = {**os.environ, "COLUMNS": "140", "PYTHONHASHSEED": hashseed}
    result = subprocess.run([sys.executable, "-m", "dsys.cli", "demo", "raft", *args],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_output_is_the_same_across_runs_and_hash_seeds() -> None:
    first = run_demo("--seed", "3", hashseed="0")
    assert first == run_demo("--seed", "3", hashseed="4242")
    for number, title in enumerate(TITLES, start=1):
        assert f"{number}. {title}" in first
    for shown in ("LEADER, term 1", "crashed", "partition", "heal", "steps down",
                  "snapshot up to", "InstallSnapshot to", "restores snapshot",
                  "Raft checkers: election safety", ": ok (", "trace digest:"):
        assert shown in first
    assert first != run_demo("--seed", "4")


def test_a_short_until_says_where_the_story_stopped() -> None:
    out = run_demo("--seed", "1", "--until", "0.5")
    assert "1. Election" in out and "The leader crashes" not in out
    assert "The run ended (--until) during the phase 'Commands commit'" in out


# ----- the service, one handler at a time ----------------------------------------------------


def test_a_follower_points_the_client_at_the_leader_it_knows() -> None:
    h = NodeHarness(Server, "n1", peers=[s for s in SERVERS if s != "n1"], clients=[CLIENT])
    h.start()
    h.node.raft.leader = "n3"  # type: ignore[attr-defined]
    h.clear()
    assert h.deliver(CLIENT, Write(1, "a"))[-1].msg == WriteReply(1, False, leader="n3")


def test_the_client_follows_hints_and_gives_up_on_a_silent_server() -> None:
    h = NodeHarness(Writer, CLIENT, peers=list(SERVERS))
    h.start()
    h.invoke({"f": "write", "value": "a"})
    assert [s.dst for s in h.sent()] == ["n1"]
    h.deliver("n1", WriteReply(1, False, leader="n3"))
    h.advance(0.05)  # the retry pause
    assert [s.dst for s in h.sent()] == ["n1", "n3"]
    h.advance(CLIENT_TIMEOUT)  # n3 says nothing: suspect, try the next server
    assert [s.dst for s in h.sent()][-1] == "n4"
    h.deliver("n4", WriteReply(1, False, leader="n3"))  # a hint back at the suspect
    h.advance(0.05)
    assert [s.dst for s in h.sent()][-1] == "n5"
    assert {s.msg for s in h.sent()} == {Write(1, "a")}  # one write, retried as is


# ----- Figure 8, as the docs draw it ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_figure_8_breaks_safety_with_the_bug_and_not_with_the_rule(seed: int) -> None:
    bug, fix = figure_8(CountsOldTerms, seed), figure_8(Raft, seed)
    safety = check_state_machine_safety(bug.sim.trace)
    assert "applied 'y' (term 3) at index 3, but a applied 'x' (term 2)" in safety.explain()
    assert check_all(fix.sim.trace).ok
    assert list(bug.steps) == list(fix.steps) == ["a", "b", "c", "d"]


def test_the_figure_8_drawing_keeps_what_carries_an_entry() -> None:
    run = figure_8(CountsOldTerms, 0)
    start, end = run.steps["c"]
    drawn = figure_8_drawing(run.sim.trace, start, end)
    labels = [e.message_name for e in drawn if e.kind == "recv"]
    texts = [e.data["text"] for e in drawn if e.kind == "log"]
    assert "#3 'x' (t2)" in labels and "have #3" in labels and "yes, t4" in labels
    assert all(label for label in labels)  # no heartbeat: every arrow says what it carries
    assert "LEADER, term 4" in texts and "commit 3 (t2) 'x'" in texts
    carried = [(e.data["from"], e.node, e.message_name) for e in drawn
               if e.kind == "recv" and str(e.message_name).startswith("#")]
    assert len(carried) == len(set(carried))  # each entry once per link: no repeats


def test_the_docs_generator_draws_five_pictures(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_raft_pictures", Path(__file__).parents[2] / "docs" / "gen_raft_pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    drawn = sorted(p.name for p in tmp_path.iterdir())
    assert drawn == ["raft-figure8-ab.svg", "raft-figure8-c-bug.svg", "raft-figure8-c-fix.svg",
                     "raft-figure8-d-bug.svg", "raft-figure8-d-fix.svg"]
    assert all((tmp_path / name).read_text().startswith("<svg") for name in drawn)

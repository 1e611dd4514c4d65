"""Fault coverage: the table counts what happened, on hand-made traces and simulated Raft.

The simulated runs are judged against an oracle that reads the live Raft state at the
moment the nemesis crashes a node (who leads, whether its log holds uncommitted entries),
not against the trace the rules read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsys import Nemesis
from dsys.check.coverage import (
    RAFT,
    CoverageError,
    coverage,
    require_coverage,
)
from dsys.cli import main
from dsys.trace import Trace, TraceEvent
from tests.raft.cluster import cluster
from tests.raft.test_scenarios import keep_submitting

LEADER_CRASH = "a leader crashed"
UNCOMMITTED = "a leader crashed with uncommitted entries"
FOLLOWER_CRASH = "a follower crashed"
CUT_OFF = "a partition cut the leader off from a majority"
MAJORITY = "a partition left the leader with a majority"
TO_CANDIDATE = "a message to a node in the middle of an election was lost"
CRASHES = (LEADER_CRASH, UNCOMMITTED, FOLLOWER_CRASH, "a node crashed during an election")


def ev(time: float, node: str, kind: str, **data: Any) -> TraceEvent:
    return TraceEvent(time, node, kind, data)


def note(time: float, node: str, name: str, **data: Any) -> TraceEvent:
    return ev(time, node, "note", event=name, **data)


START = [ev(0.0, n, "start") for n in "abc"]


# --- hand-made traces: each rule fires when it should, and only then ---------------------------


def test_leader_crash_with_and_without_uncommitted_entries() -> None:
    uncommitted = Trace([*START, note(0.1, "a", "elected", term=1),
                                 note(0.2, "a", "start", index=1, term=1),
                                 ev(0.3, "a", "crash")])
    committed = Trace([*START, note(0.1, "a", "elected", term=1),
                               note(0.2, "a", "start", index=1, term=1),
                               note(0.25, "a", "commit", index=1, term=1),
                               ev(0.3, "a", "crash")])
    follower = Trace([*START, note(0.1, "a", "elected", term=1), ev(0.3, "b", "crash")])
    report = coverage([uncommitted, committed, follower], RAFT)
    assert report.count(UNCOMMITTED) == 1
    assert report.count(LEADER_CRASH) == 2
    assert report.count(FOLLOWER_CRASH) == 1
    assert report.runs[LEADER_CRASH] == 2 and report.traces == 3
    assert report.faults == {"crashes": 3}


def test_a_leader_that_stepped_down_or_crashed_is_no_longer_leader() -> None:
    stepped_down = Trace([*START, note(0.1, "a", "elected", term=1),
                                  note(0.2, "a", "step down", term=1, reason="lost quorum"),
                                  ev(0.3, "a", "crash")])
    report = coverage([stepped_down], RAFT)
    assert report.count(LEADER_CRASH) == 0
    assert report.count(FOLLOWER_CRASH) == 0  # no leader known: neither
    # A crashed leader restarts as a follower: its second crash is not a leader's.
    restarted = Trace([*START, note(0.1, "a", "elected", term=1), ev(0.3, "a", "crash"),
                               ev(0.4, "a", "restart"), ev(0.5, "a", "crash")])
    assert coverage([restarted], RAFT).count(LEADER_CRASH) == 1


def test_partitions_against_the_leader() -> None:
    trace = Trace([*START,
        note(0.1, "a", "elected", term=1),
        ev(0.2, "", "partition", groups=[["a", "b"], ["c"]]),   # a keeps a majority
        ev(0.3, "", "heal"),
        ev(0.4, "", "partition", groups=[["a"], ["b", "c"]]),   # a is cut off
        ev(0.5, "", "heal"),
        ev(0.6, "", "block", **{"from": "b", "to": "a"}),       # one-way: a still has c
        ev(0.7, "", "block", **{"from": "c", "to": "a"}),       # now a hears nobody
        ev(0.8, "", "heal"),
        ev(0.9, "", "block", **{"from": "b", "to": "c"}),       # not the leader's link
    ])
    report = coverage([trace], RAFT)
    assert report.count(CUT_OFF) == 2
    assert report.count(MAJORITY) == 2  # the first partition and the first block
    assert report.faults == {"partitions": 2, "one-way blocks": 3}


def test_message_lost_to_a_candidate() -> None:
    vote = {"type": "dsys.raft.messages:RequestVote",
            "body": {"term": 2, "candidate": "b", "pre_vote": False}}
    trace = Trace([*START,
        note(0.1, "a", "elected", term=1),
        ev(0.2, "c", "drop", **{"from": "c", "to": "b", "type": "AppendEntriesReply"}),
        ev(0.3, "b", "send", to="c", id=5, msg=vote),
        ev(0.4, "c", "drop", **{"from": "c", "to": "b", "type": "RequestVoteReply"}),
        note(0.5, "b", "elected", term=2),
        ev(0.6, "c", "drop", **{"from": "c", "to": "b", "type": "AppendEntriesReply"}),
    ])
    report = coverage([trace], RAFT)
    assert report.count(TO_CANDIDATE) == 1  # only while b stood for election
    assert report.count("a vote request or vote was lost") == 1


def test_require_coverage_passes_fails_and_rejects_unknown_names() -> None:
    report = coverage([Trace([*START, note(0.1, "a", "elected", term=1),
                                      ev(0.2, "a", "crash")])], RAFT)
    require_coverage(report, {LEADER_CRASH: 1})
    with pytest.raises(CoverageError) as failure:
        require_coverage(report, {LEADER_CRASH: 2, CUT_OFF: 1})
    text = str(failure.value)
    assert f"{LEADER_CRASH}: 1 of the 2 required" in text
    assert f"{CUT_OFF}: 0 of the 1 required" in text
    assert isinstance(failure.value, AssertionError)  # a grader's test fails on it
    with pytest.raises(ValueError, match="no situation 'a leader exploded'"):
        require_coverage(report, {"a leader exploded": 1})


# --- simulated Raft: the counts match what the live cluster was doing -------------------------


def raft_run(seed: int, faults: tuple[str, ...]) -> tuple[Trace, dict[str, int]]:
    """A 5-node Raft run under the nemesis; and, from the live nodes at each crash, how
    many crashes hit a leader, a leader with uncommitted entries, a follower."""
    sim = cluster(seed, nodes="abcde")
    truth = {LEADER_CRASH: 0, UNCOMMITTED: 0, FOLLOWER_CRASH: 0}
    real_crash = sim.crash

    def crash(node_id: str, **kwargs: Any) -> None:
        node = sim.nodes.get(node_id)
        if node is not None:
            raft = node.raft  # type: ignore[attr-defined]
            if raft.is_leader:
                truth[LEADER_CRASH] += 1
                truth[UNCOMMITTED] += raft.last_log_index > raft.commit_index
            elif any(n.raft.is_leader for n in sim.nodes.values()):  # type: ignore[attr-defined]
                truth[FOLLOWER_CRASH] += 1
        real_crash(node_id, **kwargs)

    sim.crash = crash  # type: ignore[method-assign]
    if faults:
        Nemesis(faults=faults, interval=(0.2, 1.0), duration=(0.2, 1.0), stop=4.0).install(sim)
    keep_submitting(sim, 0.3, 5.0)
    sim.run(until=5.0)
    return sim.trace, truth


def test_crash_situations_match_the_live_cluster() -> None:
    runs = [raft_run(seed, ("partition", "isolate", "crash")) for seed in (0, 1, 2)]
    report = coverage([trace for trace, _ in runs], RAFT)
    for name in (LEADER_CRASH, UNCOMMITTED, FOLLOWER_CRASH):
        assert report.count(name) == sum(truth[name] for _, truth in runs), name
    assert report.faults["crashes"] == sum(
        1 for trace, _ in runs for e in trace if e.kind == "crash")
    assert report.count(LEADER_CRASH) >= 1  # these seeds do crash a leader
    assert report.count(CUT_OFF) + report.count(MAJORITY) >= 1


def test_a_run_without_crashes_shows_zero_crash_situations(tmp_path: Path) -> None:
    trace, _ = raft_run(3, ("partition", "isolate"))
    report = coverage([trace], RAFT)
    for name in CRASHES:
        assert report.count(name) == 0, name
    assert report.count(CUT_OFF) + report.count(MAJORITY) >= 1
    assert "crashes" not in report.faults
    # A saved and loaded trace (messages as dicts) gives the same counts.
    path = trace.save(tmp_path / "run.jsonl")
    assert coverage([Trace.load(path)], RAFT) == report
    quiet = coverage([raft_run(3, ())[0]], RAFT)
    assert all(quiet.count(name) == 0 for name in quiet.names)


def test_dsys_check_coverage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = Trace([*START, note(0.1, "a", "elected", term=1),
                           note(0.2, "a", "start", index=1, term=1), ev(0.3, "a", "crash")])
    path = trace.save(tmp_path / "t.jsonl")
    assert main(["check", "coverage", str(path), "--require", f"{UNCOMMITTED}=1"]) == 0
    out = capsys.readouterr().out
    assert UNCOMMITTED in out and "Faults in the traces: crashes 1." in out
    assert main(["check", "coverage", str(path), "--require", f"{CUT_OFF}=1"]) == 1
    assert f"{CUT_OFF}: 0 of the 1 required" in capsys.readouterr().out
    assert main(["check", "coverage", str(path), "--require", "nonsense"]) == 3
    assert main(["check", "coverage", str(tmp_path / "missing.jsonl")]) == 3

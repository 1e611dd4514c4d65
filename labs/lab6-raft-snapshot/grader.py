"""Grader of lab 6: Raft log compaction (snapshots), MIT 6.5840 lab 3D style, in virtual time.

Every test runs a cluster of the student's ``RaftNode`` under the Raft harness of
:mod:`dsys.testing.raft` (MIT's ``config.go``, in virtual time): the harness acts as the
service on each server. It applies the committed commands to a hash chain, hands Raft a
snapshot of its state every ``SNAPSHOT_EVERY`` commands (``snapshot(index, data)``, from
inside ``apply``), and takes a snapshot back when Raft calls ``restore(index, data)``.
After *every* event the harness checks:

* election safety: two servers never lead one term;
* state machine safety: two servers never apply different commands at one index;
* each server applies every index in order, with no gap but where it restored a
  snapshot, and never restores a snapshot older than what it applied (its state must
  not go back);
* the data of every restored snapshot is the canonical state at its index (the hash
  chain of the agreed commands up to it): a snapshot garbled in transit, or installed at
  the wrong index, fails here.

The tests are MIT's lab 3D tests (:mod:`dsys.testing.raft_scenarios`): snapshots, then
followers that fall behind the leader's snapshot (disconnected, on an unreliable network,
crashed), every server crashing at once, a restart right after a snapshot; a few of lab
5's (3B and 3C) tests at low weight, first with no snapshot taken (the offset log must
not break replication), and again at the end with snapshots; and tests of their own:

* ``install_snapshot_receiver``: a scripted leader sends one follower entries and
  snapshots (an older one than its commit index, one with a duplicated chunk that keeps
  the entries after it, one from a deposed leader, one past its log's end) and the test
  checks what it applies and restores, step by step of Figure 13;
* ``chunks_of_two_snapshots_do_not_mix``: the same scripted leader sends the first chunk
  of one snapshot, the first chunk of a newer one, and a late chunk of the older one at
  the offset the newer one has reached: it must not go into the newer one's text;
* ``snapshot_term_counts``: the grader plays a leader and a stale candidate for one
  follower whose log is empty after its snapshot: the snapshot's last included term is
  its last log term in votes (§5.4.1) and at ``prevLogIndex = lastIncludedIndex`` in the
  consistency check, before and after a restart; a late AppendEntries inside the
  snapshot cuts nothing off;
* ``lagging_follower_gets_snapshot``: a follower down since the leader's election (its
  nextIndex stays put) gets InstallSnapshot once the leader's snapshot passes it;
* ``log_stays_small``: the storage a server keeps stays small over 200 commands;
* ``chunks``: snapshots larger than a chunk travel in several InstallSnapshot messages
  of at most ``CHUNK_SIZE`` characters;
* ``crash_between_writes``: a crash between two of a server's storage syncs (while it
  snapshots, or installs a snapshot) leaves it able to restart, consistent.

Each test runs over many seeds; a seed fixes every choice of the network, the faults and
the commands, so a failing seed replays exactly.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from dsys import Network, Node, Simulation
from dsys.core.storage import Storage
from dsys.labs import Trial, graded
from dsys.testing.raft import RaftAdapter, RaftCluster, canonical_data
from dsys.testing.raft_scenarios import (
    MAX_LOG_BYTES,
    SCENARIOS,
    SNAPSHOT_EVERY,
    cluster_factory,
)

# SNAPSHOT_EVERY (10: the service snapshots every this many commands, MIT's
# SnapShotInterval) and MAX_LOG_BYTES (2000: the most bytes of storage a server may keep,
# keys and JSON values, the snapshot included; MIT's MAXLOGSIZE) are the scenarios'. A
# snapshot of the harness's service is about 130 bytes and SNAPSHOT_EVERY entries about
# 200 more: a log compacted at every snapshot stays far below it; one never trimmed in
# storage passes it after about 100 commands.

#: The handout's chunk size: the most characters of a snapshot's JSON text that one
#: InstallSnapshot may carry.
CHUNK_SIZE = 64

#: How long (virtual seconds) a test lets the servers settle before it checks sizes.
SETTLE = 2.0


# ----- building clusters -------------------------------------------------------------------


def adapter(trial: Trial, *, snapshot_every: int | None = SNAPSHOT_EVERY) -> RaftAdapter:
    """The harness's adapter for the implementation under test."""
    return RaftAdapter.for_lab(trial.impl.RaftNode, snapshot_every=snapshot_every)


def make_cluster(trial: Trial, n: int, *, reliable: bool = True,
                 raft: RaftAdapter | None = None) -> RaftCluster:
    """``n`` servers of the implementation under test, in a simulation of this trial."""
    return RaftCluster(trial.simulation(), raft or adapter(trial), n,
                       run_until=trial.run_until, reliable=reliable)


def commands(trial: Trial) -> Iterator[int]:
    """Distinct commands (random ints of the trial's seed, never repeated)."""
    seen: set[int] = set()
    while True:
        command = trial.rng.randrange(10**9)
        if command not in seen:
            seen.add(command)
            yield command


def install_snapshots(trial: Trial) -> list[tuple[str, Any]]:
    """Every InstallSnapshot sent in the trial's last simulation: (sender, message)."""
    sim = trial.sims[-1]
    return [(event.node, event.data["msg"]) for event in sim.trace
            if event.kind == "send" and type(event.data["msg"]).__name__ == "InstallSnapshot"]


def check_chunk_sizes(trial: Trial) -> None:
    """No InstallSnapshot carries more than CHUNK_SIZE characters of snapshot text."""
    for sender, msg in install_snapshots(trial):
        data = getattr(msg, "data", None)
        size = len(data) if isinstance(data, str | bytes | list) else None
        if size is None or size > CHUNK_SIZE:
            what = (f"{size} characters" if size is not None
                    else f"a {type(data).__name__}, not a string")
            raise AssertionError(
                f"{sender} sent an InstallSnapshot whose data is {what}: each chunk carries "
                f"at most CHUNK_SIZE = {CHUNK_SIZE} characters of the snapshot's JSON text "
                "(cut the text into chunks: offset, data, done; Figure 13)")


def scenario(trial: Trial, *names: str, snapshot_every: int | None = SNAPSHOT_EVERY) -> None:
    """Run MIT's scenarios ``names`` (of :data:`~dsys.testing.raft_scenarios.SCENARIOS`),
    one after another, each in a simulation of its own, the service snapshotting every
    ``snapshot_every`` commands (None: never)."""
    raft = adapter(trial, snapshot_every=snapshot_every)
    make = cluster_factory(raft, trial.simulation, run_until=trial.run_until)
    for name in names:
        SCENARIOS[name](make)


#: Lab 5's tests (MIT's 3B and 3C) that the grader runs again: agreement, persistence,
#: an unreliable network. (Not the churn tests: the harness counts a command as applied
#: by a server only if it applied it, not if it got it inside a snapshot.)
AGREEMENT = ("basic_agree", "fail_agree", "rejoin", "backup")
PERSISTENCE = ("persist1", "persist2", "persist3", "figure8")
UNRELIABLE = ("unreliable_agree",)


# ----- lab 5 still works (3B, 3C), before any snapshot ------------------------------------


@graded(points=3, runs=10)
def replication_still_works(trial: Trial) -> None:
    """With no snapshot taken, lab 5's agreement tests pass: basic, failures, rejoin, backup."""
    scenario(trial, *AGREEMENT, snapshot_every=None)


@graded(points=3, runs=10)
def persistence_still_works(trial: Trial) -> None:
    """With no snapshot taken, lab 5's persistence tests pass: restarts, Figure 8 with crashes."""
    scenario(trial, *PERSISTENCE, snapshot_every=None)


@graded(points=3, runs=10)
def unreliable_still_works(trial: Trial) -> None:
    """With no snapshot taken, lab 5's agreement on an unreliable network passes."""
    scenario(trial, *UNRELIABLE, snapshot_every=None)


# ----- MIT's lab 3D tests ---------------------------------------------------------------------


@graded(points=8, runs=30)
def snapshot_basic(trial: Trial) -> None:
    """Snapshots every 10 commands: the log is trimmed, nothing else changes (no faults)."""
    scenario(trial, "snapshot_basic")


# ----- Figure 13, receiver implementation, step by step ---------------------------------------


#: How far apart (virtual seconds) the scripted leader sends its messages; the network
#: delivers each in exactly LATENCY seconds, so they arrive in the order sent. The whole
#: script takes less than the lowest election timeout of the starter (0.3 s).
STEP = 0.012
LATENCY = 0.002


class Probe(Node):
    """A server the grader plays itself: it sends what the test's script says, and keeps
    what it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[tuple[str, Any]] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.inbox.append((src, msg))


def follower_group(trial: Trial, *, snapshot_every: int | None) -> Simulation:
    """A simulation of this trial with the implementation under test as ``s1`` (under the
    harness's service, snapshotting every ``snapshot_every`` commands) and the grader's
    :class:`Probe` servers ``s0`` and ``s2``, on a network that delivers every message in
    exactly LATENCY seconds (so they arrive in the order sent)."""
    sim = trial.simulation(network=Network(latency=(LATENCY, LATENCY)))
    sim.add_node("s0", Probe)
    sim.add_node("s1", adapter(trial, snapshot_every=snapshot_every).factory)
    sim.add_node("s2", Probe)
    trial.run(sim, 0.001)  # every server starts
    return sim


def probe(sim: Simulation, name: str) -> Probe:
    """The grader's server ``name`` of a :func:`follower_group`."""
    node = sim.node(name)
    assert isinstance(node, Probe), f"{name} is not one of the grader's servers"
    return node


#: One step of a script the grader plays: what it does (in words, for the failure
#: messages), and a function that does it (sends a message, crashes a server, checks an
#: answer).
Step = tuple[str, Callable[[], None]]


def sends(sender: Probe, msg: Any) -> Callable[[], None]:
    """A step's action: the grader's server ``sender`` sends ``msg`` to ``s1``."""
    return lambda: sender.send("s1", msg)


def play(trial: Trial, sim: Simulation, script: Sequence[Step]) -> None:
    """Do the steps of ``script``, one every STEP seconds (a message and its answer take
    2 * LATENCY, less than STEP: an answer is in before the next step), ``s0`` noting
    each step in the trace as it is done (:func:`check_steps` reads the notes)."""
    notary = probe(sim, "s0")
    for number, (what, act) in enumerate(script):
        trial.run(sim, sim.now + STEP)
        notary.note("script", step=number, what=what)
        act()
    trial.run(sim, sim.now + 2 * STEP)


#: The starter's messages the grader's servers build, and read, themselves.
MESSAGES = ("Entry", "AppendEntries", "InstallSnapshot", "RequestVote", "RequestVoteReply")


def message_classes(trial: Trial) -> Any:
    """The implementation's message classes the grader's servers send and read (Entry,
    AppendEntries, InstallSnapshot, RequestVote, RequestVoteReply): found in its module,
    or else in the module of a class RaftNode derives from (where its handlers match
    them)."""
    modules = [trial.impl] + [sys.modules.get(cls.__module__)
                              for cls in getattr(trial.impl.RaftNode, "__mro__", ())]
    found = {}
    for name in MESSAGES:
        cls = next((getattr(m, name) for m in modules if m is not None and hasattr(m, name)),
                   None)
        if cls is None:
            raise AssertionError(
                f"the grader found no {name} class beside RaftNode: this test sends your "
                f"node the starter's {', '.join(MESSAGES)} messages itself (and reads "
                "RequestVoteReply's granted); keep their names and fields")
        found[name] = cls
    return types.SimpleNamespace(**found)


@contextlib.contextmanager
def your_classes() -> Iterator[None]:
    """Wrap the building of a test's messages with the implementation's classes: a class
    whose fields differ from the starter's fails the test with a clear message."""
    try:
        yield
    except (TypeError, AttributeError) as exc:
        raise AssertionError(
            f"the grader could not build the messages of this test with your "
            f"{', '.join(MESSAGES)} classes ({exc}): this test sends your node these "
            "messages itself; keep the starter's names and fields for them") from None


def chunked(impl: Any, index: int, data: Any, *, term: int = 1, leader_term: int = 1,
            repeat_first: bool = False) -> list[Any]:
    """The InstallSnapshot chunks of ``data`` (CHUNK_SIZE characters each), built with
    the implementation's message class; the first one twice if ``repeat_first``."""
    text = json.dumps(data, separators=(",", ":"))
    offsets = list(range(0, len(text), CHUNK_SIZE))
    chunks = [impl.InstallSnapshot(term=leader_term, leader="s0", last_included_index=index,
                                   last_included_term=term, offset=offset,
                                   data=text[offset:offset + CHUNK_SIZE],
                                   done=offset + CHUNK_SIZE >= len(text))
              for offset in offsets]
    if repeat_first and len(chunks) > 1:
        chunks.insert(1, chunks[0])
    return chunks


@graded(points=6, runs=5)
def install_snapshot_receiver(trial: Trial) -> None:
    """A follower handles InstallSnapshot as Figure 13 says: chunks, stale ones, what it keeps."""
    impl = message_classes(trial)
    values = commands(trial)
    log = [next(values) for _ in range(51)]  # log[i - 1]: the command at index i

    def entries(first: int, last: int) -> tuple[Any, ...]:
        return tuple(impl.Entry(term=1, command=log[i - 1]) for i in range(first, last + 1))

    def append(prev: int, first: int, last: int, commit: int) -> Any:
        return impl.AppendEntries(term=1, leader="s0", prev_log_index=prev,
                                  prev_log_term=1 if prev else 0,
                                  entries=entries(first, last), leader_commit=commit)

    def snapshot(index: int) -> dict[str, Any]:
        return canonical_data(index, log[:index])

    with your_classes():
        script: list[tuple[str, Any]] = [
            ("entries 1..35, commit 35", append(0, 1, 35, 35)),
            *[("a snapshot up to 30: older than the commit index, to be ignored", chunk)
              for chunk in chunked(impl, 30, snapshot(30))],
            ("entries 36..45, commit 38", append(35, 36, 45, 38)),
            *[("a snapshot up to 42 (its first chunk twice): to be installed, keeping 43..45",
               chunk) for chunk in chunked(impl, 42, snapshot(42), repeat_first=True)],
            ("commit 45 (the entries after the snapshot were kept)", append(45, 46, 45, 45)),
            *[("a snapshot of term 0, from a deposed leader: to be ignored", chunk)
              for chunk in chunked(impl, 48, snapshot(48), leader_term=0)],
            *[("a snapshot up to 50, past the log's end: to be installed", chunk)
              for chunk in chunked(impl, 50, snapshot(50))],
            ("entry 51 after the snapshot, commit 51", append(50, 51, 51, 51)),
        ]
    sim = follower_group(trial, snapshot_every=None)
    expected = ([("apply", i) for i in range(1, 39)] + [("restore", 42)]
                + [("apply", i) for i in range(43, 46)] + [("restore", 50), ("apply", 51)])
    play(trial, sim, [(what, sends(probe(sim, "s0"), msg)) for what, msg in script])
    check_steps(trial, sim, expected, RECEIVER_HINTS)
    check_restored_data([sim.node("s1")], snapshot)


#: What went wrong when the receiver test expected this step and saw another.
RECEIVER_HINTS: dict[Any, str] = {
    ("apply", 36): ("The snapshot up to 30 came after s1 had committed up to 35: a follower "
                    "that holds every entry a snapshot covers, committed, must not install it "
                    "(its service would go back); it replies that it has it."),
    ("restore", 42): ("The snapshot up to 42 was not installed from its chunks (offsets 0, "
                      "0 again, 64...): a chunk extends the text only at offset = the length "
                      "received so far; the chunk with done installs it (step 3 of Figure 13)."),
    ("apply", 43): ("s1 held entries 43..45 after the snapshot's last included entry (index "
                    "42, term 1, which it also held): Figure 13 step 6 keeps them."),
    ("restore", 50): ("The snapshot up to 50 (past the end of s1's log) was not installed: "
                      "the stale one of term 0 before it must change nothing; this one "
                      "replaces the whole log (step 7)."),
    ("apply", 51): ("After the snapshot up to 50, AppendEntries with prevLogIndex 50 and "
                    "prevLogTerm 1 must match the snapshot's last included index and term."),
}


def describe(seen: list[tuple[str, Any]]) -> str:
    """A short account of a server's applies and restores: "apply 1..38, restore 42"."""
    parts: list[str] = []
    for what, index in seen:
        if parts and what == "apply" and parts[-1].startswith("apply "):
            first = parts[-1].split()[1].split("..")[0]
            parts[-1] = f"apply {first}..{index}"
        else:
            parts.append(f"{what} {index}")
    return ", ".join(parts) or "nothing"


def check_steps(trial: Trial, sim: Simulation, expected: list[tuple[str, int]],
                hints: dict[Any, str], *, rules: str = "Figure 13") -> None:
    """Check that ``s1`` applied and restored exactly ``expected`` (``("apply", index)``
    and ``("restore", index)``, in this order), as its notes in the trace say. ``s0``
    notes each step of the script as it is done (:func:`play`): a failure says after
    which step ``s1`` went astray, what ``rules`` lead to there, and the hint of
    ``hints`` for the step that was expected."""
    seen: list[tuple[str, Any]] = []
    step = "before the first step"
    for event in sim.trace:
        if event.kind != "note":
            continue
        if event.node == "s0":
            step = f"after step {event.data['step'] + 1} of the script ({event.data['what']})"
            continue
        what = event.data.get("event")
        if event.node != "s1" or what not in ("apply", "restore"):
            continue
        seen.append((what, event.data.get("index")))
        position = len(seen) - 1
        if position >= len(expected) or seen[-1] != expected[position]:
            trial.focus(end=event.time, nodes=["s0", "s1", "s2"])
            want = expected[position] if position < len(expected) else None
            raise AssertionError(
                f"s1 did {what} {event.data.get('index')} {step}, where {rules} leads to "
                f"{'nothing more' if want is None else f'{want[0]} {want[1]}'} (done so far: "
                f"{describe(seen[:-1])}). {hints.get(want, '')}".rstrip())
    if seen != expected:
        trial.focus(nodes=["s0", "s1", "s2"])
        missing = expected[len(seen)]
        raise AssertionError(
            f"s1 never did {missing[0]} {missing[1]} (done: {describe(seen)}); the script "
            f"ended {step}. {hints.get(missing, '')}".rstrip())


def check_restored_data(incarnations: Iterable[Any],
                        snapshot: Callable[[int], dict[str, Any]]) -> None:
    """Every snapshot ``s1`` restored (in each of its ``incarnations``, the node objects
    it ran as) holds the data the grader's leader sent or its service made:
    ``snapshot(index)``."""
    for node in incarnations:
        for index, data in node.service.restores:
            if data != snapshot(index):
                raise AssertionError(
                    f"s1 restored a snapshot at index {index} whose data {data!r} is not the "
                    f"service's state at index {index}, {snapshot(index)!r}")


@graded(points=3, runs=5)
def chunks_of_two_snapshots_do_not_mix(trial: Trial) -> None:
    """A late chunk of an older snapshot is not written into the newer one being received."""
    impl = message_classes(trial)
    values = commands(trial)
    log = [next(values) for _ in range(31)]  # log[i - 1]: the command at index i

    def append(prev: int, first: int, last: int, commit: int) -> Any:
        return impl.AppendEntries(term=1, leader="s0", prev_log_index=prev,
                                  prev_log_term=1 if prev else 0,
                                  entries=tuple(impl.Entry(term=1, command=log[i - 1])
                                                for i in range(first, last + 1)),
                                  leader_commit=commit)

    def snapshot(index: int) -> dict[str, Any]:
        return canonical_data(index, log[:index])

    with your_classes():
        older, newer = chunked(impl, 20, snapshot(20)), chunked(impl, 30, snapshot(30))
        first = append(0, 1, 15, 15)
        last = append(30, 31, 31, 31)
    # Both texts are 88 characters: two chunks each, the second starting at offset 64.
    assert len(older) == len(newer) == 2
    sim = follower_group(trial, snapshot_every=None)
    s0 = probe(sim, "s0")
    play(trial, sim, [
        ("entries 1..15, commit 15", sends(s0, first)),
        ("the first chunk of a snapshot up to 20", sends(s0, older[0])),
        ("the first chunk of a newer snapshot, up to 30 (the leader took it meanwhile, and "
         "started the transfer over)", sends(s0, newer[0])),
        ("a late copy of the second and last chunk of the snapshot up to 20, at offset 64",
         sends(s0, older[1])),
        ("the second and last chunk of the snapshot up to 30, at offset 64",
         sends(s0, newer[1])),
        ("entry 31, commit 31", sends(s0, last)),
    ])
    expected = [("apply", i) for i in range(1, 16)] + [("restore", 30), ("apply", 31)]
    check_steps(trial, sim, expected, {
        ("restore", 30): (
            "s1 was receiving the snapshot up to 30 (its first chunk had come, after the "
            "first one of a snapshot up to 20) when a late copy of the last chunk of the "
            "snapshot up to 20 came, at offset 64: where the next chunk of the snapshot up "
            "to 30 starts. A chunk belongs to one snapshot, its last_included_index: it "
            "extends only that snapshot's text (Figure 13, step 5: a partial snapshot with a "
            "smaller index is discarded). Then the last chunk of 30 completes it."),
        ("apply", 31): "After the snapshot up to 30, entry 31 follows it.",
    })
    check_restored_data([sim.node("s1")], snapshot)


# ----- the snapshot's term stands for the discarded entries (§7, §5.4.1) ---------------------


#: The terms of the entries of the term test's log: index i has SNAPSHOT_TERMS[i - 1]. The
#: follower snapshots at index 10, of term 2.
SNAPSHOT_TERMS = (1,) * 5 + (2,) * 5 + (6,) * 3


@graded(points=5, runs=5)
def snapshot_term_counts(trial: Trial) -> None:
    """The snapshot's term stands for its entries: in votes and AppendEntries, after restarts."""
    impl = message_classes(trial)
    values = commands(trial)
    log = [next(values) for _ in SNAPSHOT_TERMS]  # log[i - 1]: the command at index i

    def append(term: int, prev: int, first: int, last: int, commit: int) -> Any:
        return impl.AppendEntries(
            term=term, leader="s0", prev_log_index=prev,
            prev_log_term=SNAPSHOT_TERMS[prev - 1] if prev else 0,
            entries=tuple(impl.Entry(term=SNAPSHOT_TERMS[i - 1], command=log[i - 1])
                          for i in range(first, last + 1)),
            leader_commit=commit)

    def snapshot(index: int) -> dict[str, Any]:
        return canonical_data(index, log[:index])

    sim = follower_group(trial, snapshot_every=SNAPSHOT_EVERY)  # s1 snapshots at index 10
    s0, s2 = probe(sim, "s0"), probe(sim, "s2")
    incarnations = [sim.node("s1")]

    def ask(term: int, last_index: int, last_term: int) -> Callable[[], None]:
        request = impl.RequestVote(term=term, candidate="s2", last_log_index=last_index,
                                   last_log_term=last_term)

        def act() -> None:
            s2.inbox.clear()
            s2.send("s1", request)
        return act

    def answered(granted: bool, why: str) -> Callable[[], None]:
        def check() -> None:
            replies = [msg for src, msg in s2.inbox
                       if src == "s1" and isinstance(msg, impl.RequestVoteReply)]
            if any(getattr(msg, "granted", False) for msg in replies) != granted:
                trial.focus(nodes=["s0", "s1", "s2"])
                raise AssertionError(f"s1 answered {replies or 'nothing'}: {why}")
        return check

    def crash_and_restart() -> None:
        sim.crash("s1", unsynced="kept")
        sim.restart("s1")
        incarnations.append(sim.node("s1"))

    stale = ("s2's log ends at index 15 in term 1 (it led term 1 and kept entries that "
             "were never committed), and lacks the committed entries 6 to 10 of term 2; "
             "s1's log ends at its snapshot's last included entry, index 10 of term 2. The "
             "later last term wins (§5.4.1): s2's log is less up-to-date, and must not get "
             "the vote, or a leader could lose committed entries.")
    with your_classes():
        script: list[Step] = [
            ("entries 1..10 (1..5 of term 1, 6..10 of term 2), commit 10; s1's service "
             "snapshots at 10", sends(s0, append(2, 0, 1, 10, 10))),
            ("s2 asks for a vote in term 3, its log ending at index 15 of term 1",
             ask(3, 15, 1)),
            ("s1's answer is read", answered(False, (
                f"{stale} With no entry after the snapshot, the last log term is the "
                "snapshot's term, not 0."))),
            ("s2 asks for a vote in term 4, its log ending at index 10 of term 2",
             ask(4, 10, 2)),
            ("s1's answer is read", answered(True, (
                "s2's log ends at index 10 of term 2, as s1's does (its snapshot's last "
                "included entry), and s1 had not voted in term 4: a candidate whose log is at "
                "least as up-to-date gets the vote (Figure 2, RequestVote, step 2)."))),
            ("s1 crashes (every write it made survives) and restarts", crash_and_restart),
            ("s2 asks for a vote in term 5, its log ending at index 15 of term 1",
             ask(5, 15, 1)),
            ("s1's answer is read", answered(False, (
                f"s1 had restarted from its snapshot (index 10, term 2). {stale} Save the "
                "snapshot's term with it, and read it back in on_start."))),
            ("AppendEntries of term 6 with prevLogIndex 10, prevLogTerm 2: entries 11..12, "
             "commit 12", sends(s0, append(6, 10, 11, 12, 12))),
            ("a late AppendEntries of term 6 with prevLogIndex 5 (inside the snapshot): "
             "entries 6..12, commit 12", sends(s0, append(6, 5, 6, 12, 12))),
            ("AppendEntries with prevLogIndex 12: entry 13, commit 13",
             sends(s0, append(6, 12, 13, 13, 13))),
        ]
    expected = ([("apply", i) for i in range(1, 11)] + [("restore", 10)]
                + [("apply", i) for i in range(11, 14)])
    play(trial, sim, script)
    check_steps(trial, sim, expected, TERM_HINTS, rules="§7")
    check_restored_data(incarnations, snapshot)


#: What went wrong when the term test expected this step and saw another.
TERM_HINTS: dict[Any, str] = {
    ("restore", 10): ("s1 took a snapshot at index 10 and restarted: it hands the snapshot "
                      "to its service (restore(10, data)) before anything after it is "
                      "applied (step 4)."),
    ("apply", 11): ("After s1 restarted from its snapshot at index 10 (term 2), the leader "
                    "sent AppendEntries with prevLogIndex 10 and prevLogTerm 2: s1's log "
                    "holds that entry (the snapshot's last included one, of term 2), so the "
                    "consistency check passes, and entries 11 and 12 are appended and "
                    "committed. Save the snapshot's term with it, and read it back in "
                    "on_start."),
    ("apply", 13): ("A late AppendEntries whose prevLogIndex (5) is inside s1's snapshot "
                    "came before entry 13: the entries up to the snapshot are committed, so "
                    "they match the leader's; skip those, and check from the snapshot on (or "
                    "refuse the message). It must cut nothing off: entry 13 then follows "
                    "entry 12."),
}


# ----- the leader's side: a follower behind the snapshot gets the snapshot (§7) --------------


#: How long (virtual seconds) a leader may take to send its snapshot to a follower behind
#: it: a few heartbeats (a leader sends one at least every 300 ms, the lowest election
#: timeout, or its followers would stand for election).
SNAPSHOT_WITHIN = 1.0


@graded(points=4, runs=5)
def lagging_follower_gets_snapshot(trial: Trial) -> None:
    """A leader sends InstallSnapshot to a follower whose next entry it has discarded."""
    cluster = make_cluster(trial, 3)
    values = commands(trial)
    leader = cluster.check_one_leader()
    lagging = cluster.peer(leader, 1)
    # Down before it got any entry, lagging never answers again: the leader's nextIndex for
    # it stays where the leader's log ended when it was elected.
    cluster.crash(lagging)
    for _ in range(3):
        term = cluster.state(leader)[0]  # type: ignore[index]
        # SNAPSHOT_EVERY + 1 commands in this term: the leader's service snapshots past
        # where its log ended at its election, so the entries lagging needs are gone.
        for _ in range(SNAPSHOT_EVERY + 1):
            cluster.one(next(values), expected_servers=2, retry=True)
        if cluster.state(leader) == (term, True):
            break
        leader = cluster.check_one_leader()  # a new leader: its own nextIndex, start over
    else:
        raise AssertionError(
            "with one server down and a calm, reliable network, the leader changed three "
            "times in a row: a leader keeps its followers' election timers from firing "
            "(heartbeats) as long as it runs")
    began = cluster.sim.now
    cluster.run(SNAPSHOT_WITHIN)
    sent = [event.data["msg"] for event in cluster.sim.trace
            if event.kind == "send" and event.node == leader and event.data["to"] == lagging
            and event.time >= began]
    if any(type(msg).__name__ == "InstallSnapshot" for msg in sent):
        return
    trial.focus(start=began, nodes=[leader, lagging])
    appends = [msg for msg in sent if type(msg).__name__ == "AppendEntries"]
    what = (f"{len(appends)} AppendEntries (the last with prev_log_index "
            f"{getattr(appends[-1], 'prev_log_index', '?')})" if appends
            else f"{len(sent)} other messages" if sent else "nothing")
    raise AssertionError(
        f"{lagging} went down before it received a single entry, and never answered "
        f"again; {leader}, leader of term {term}, then committed {SNAPSHOT_EVERY + 1} "
        f"commands with the third server, and its service took a snapshot: the entries "
        f"{lagging} needs next are gone from {leader}'s log. In the {SNAPSHOT_WITHIN:g} s "
        f"that followed, {leader} sent {lagging} {what}, but no InstallSnapshot. When a "
        "follower's nextIndex is at or below your snapshot's index, send it the snapshot "
        "(§7; step 3): AppendEntries cannot carry entries you no longer hold, and one that "
        "starts after your snapshot fails the follower's consistency check.")


# ----- MIT's lab 3D tests, continued: followers behind the leader's snapshot ------------------


@graded(points=10, runs=30)
def install_snapshot(trial: Trial) -> None:
    """A follower cut off while the others snapshot catches up by InstallSnapshot."""
    scenario(trial, "snapshot_install")


@graded(points=10, runs=30)
def install_unreliable(trial: Trial) -> None:
    """InstallSnapshot to cut-off followers, on a network that loses and reorders messages."""
    scenario(trial, "snapshot_install_unreliable")


@graded(points=10, runs=30)
def install_crash(trial: Trial) -> None:
    """A crashed follower restarts from its snapshot and catches up."""
    scenario(trial, "snapshot_install_crash")


@graded(points=8, runs=30)
def install_unreliable_crash(trial: Trial) -> None:
    """Crashes and restarts from snapshots, on a network that loses and reorders messages."""
    scenario(trial, "snapshot_install_unreliable_crash")


@graded(points=4, runs=30)
def all_crash(trial: Trial) -> None:
    """Every server crashes at once after snapshots, five times; no index goes back."""
    scenario(trial, "snapshot_all_crash")


@graded(points=6, runs=30)
def snapshot_init(trial: Trial) -> None:
    """A server restarted from a snapshot with nothing after it comes back with its state."""
    scenario(trial, "snapshot_init")


# ----- the log stays small -------------------------------------------------------------------


@graded(points=4, runs=10)
def log_stays_small(trial: Trial) -> None:
    """After 200 commands, each server's storage holds its snapshot and a short log only."""
    cluster = make_cluster(trial, 3)
    values = commands(trial)
    for i in range(200):
        cluster.one(next(values), expected_servers=3, retry=True)
        if i % 20 == 19:
            check_log_sizes(cluster, after=i + 1)
    cluster.run(SETTLE)
    check_log_sizes(cluster, after=200)


def check_log_sizes(cluster: RaftCluster, *, after: int) -> None:
    """Every running server keeps less than MAX_LOG_BYTES of storage."""
    for name in cluster.names:
        size = cluster.log_size(name)
        if size >= MAX_LOG_BYTES:
            raise AssertionError(
                f"after {after} commands (a snapshot every {SNAPSHOT_EVERY}), {name} keeps "
                f"{size} bytes of synced storage (keys and JSON values), not less than "
                f"{MAX_LOG_BYTES}: once the service hands you a snapshot at index i, delete "
                "the entries up to i from storage too, not only from memory (step 2)")


# ----- chunks ----------------------------------------------------------------------------------


#: Characters of padding the chunk test adds to every snapshot's data.
PADDING = 1024


def padding(data: dict[str, Any]) -> str:
    """The padding of a snapshot: its digest repeated (so a garbled copy shows)."""
    seed = str(data.get("digest") or data.get("index"))
    return (seed * (PADDING // len(seed) + 1))[:PADDING]


def padded(factory: Callable[[], Any]) -> type:
    """The harness's service node, with PADDING characters more in every snapshot: the
    service hands Raft ``{..., "padding": ...}`` and checks (then strips) it on restore."""
    base: type = factory  # type: ignore[assignment]

    class Padded(base):
        def snapshot(self, index: int, data: Any) -> None:
            if isinstance(data, dict):
                data = {**data, "padding": padding(data)}
            super().snapshot(index, data)

        def restore(self, index: int, data: Any) -> None:
            if isinstance(data, dict) and "padding" in data:
                data = dict(data)
                pad = data.pop("padding")
                if pad != padding(data):
                    raise AssertionError(
                        f"{self.id} restored a snapshot at index {index} whose data arrived "
                        f"garbled (its padding differs from the one the leader's service "
                        f"made): are the chunks put together at their offsets?")
            super().restore(index, data)

    Padded.__name__ = Padded.__qualname__ = base.__name__
    return Padded


@graded(points=5, runs=20)
def chunks(trial: Trial) -> None:
    """A snapshot of a thousand characters reaches a lagging follower in chunks of at most 64."""
    base = adapter(trial)
    cluster = make_cluster(trial, 3, reliable=False,
                           raft=attrs.evolve(base, factory=padded(base.factory)))
    values = commands(trial)
    cluster.one(next(values), expected_servers=3, retry=True)
    leader = cluster.check_one_leader()
    follower = cluster.peer(leader, 1)
    cluster.disconnect(follower)
    for _ in range(3 * SNAPSHOT_EVERY):
        cluster.one(next(values), expected_servers=2, retry=True)
    cluster.connect(follower)
    cluster.one(next(values), expected_servers=3, retry=True)
    check_chunk_sizes(trial)
    sent = [msg for _, msg in install_snapshots(trial)]
    if not sent:
        raise AssertionError(
            f"{follower} was cut off for {3 * SNAPSHOT_EVERY} commands, while the leader took "
            "snapshots, yet no InstallSnapshot was sent: the entries it lacked were gone from "
            "the leader's log")
    offsets = {getattr(msg, "offset", None) for msg in sent}
    longest = max(getattr(msg, "offset", 0) + len(getattr(msg, "data", "")) for msg in sent)
    least = math.ceil(PADDING / CHUNK_SIZE)
    if len(offsets) < least:
        raise AssertionError(
            f"the snapshots sent were over {PADDING} characters long ({longest} at most, by "
            f"offset and length), which takes at least {least} chunks of {CHUNK_SIZE}, yet the "
            f"InstallSnapshot messages had only {len(offsets)} distinct offsets "
            f"({sorted(o for o in offsets if isinstance(o, int))[:8]}...)")


# ----- a crash between two syncs --------------------------------------------------------------


class FreezableStorage:
    """A node's storage, as the node sees it, that can *freeze*: from then on nothing the
    node syncs becomes durable. A crash of the node then keeps exactly what was durable at
    the freeze (the simulator crashes it with ``unsynced="lost"``): the crash happened
    right there, between two of its syncs."""

    def __init__(self, real: Storage, on_freeze: Callable[[], None]) -> None:
        self.real = real
        self.on_freeze = on_freeze
        self.frozen = False
        self.syncs_left: int | None = None  # when armed: syncs to let through, then freeze

    def arm(self, syncs: int) -> None:
        """Let ``syncs`` more syncs through, then freeze (0: freeze now)."""
        self.syncs_left = syncs
        if syncs == 0:
            self.freeze()

    def freeze(self) -> None:
        self.frozen = True
        self.on_freeze()

    def sync(self) -> None:
        if self.frozen:
            return
        if self.syncs_left is not None:
            if self.syncs_left == 0:
                self.freeze()
                return
            self.syncs_left -= 1
        self.real.sync()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def __getitem__(self, key: str) -> Any:
        return self.real[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.real[key] = value

    def __delitem__(self, key: str) -> None:
        del self.real[key]

    def __contains__(self, key: object) -> bool:
        return key in self.real

    def __iter__(self) -> Iterator[str]:
        return iter(self.real)

    def __len__(self) -> int:
        return len(self.real)


def crashing(factory: Callable[[], Any], arm: Callable[[Any, str], int | None]) -> type:
    """The harness's service node, whose storage can freeze (see :class:`FreezableStorage`).

    ``arm(node, why)`` is called when the node takes a snapshot (``why="snapshot"``) or
    receives the last chunk of one (``"install"``); it returns how many more syncs to let
    through before the crash, or None for no crash (and then crashes the node, right after
    the event). Once frozen, the node sends nothing more: it has crashed."""
    base: type = factory  # type: ignore[assignment]

    class Crashing(base):
        @property
        def storage(self) -> Any:
            wrapper = self.__dict__.get("_grader_storage")
            if wrapper is None:
                wrapper = FreezableStorage(super().storage, self._mute)
                self.__dict__["_grader_storage"] = wrapper
            return wrapper

        def _mute(self) -> None:
            # The node has crashed, as of now: nothing it sends leaves any more. (Its host
            # context's send is replaced, as the simulator does when a node crashes, so
            # that no send of the node's own code gets past it.)
            def crashed(dst: str, msg: object, stamps: Any) -> None:
                return None

            self._context().send = crashed

        def snapshot(self, index: int, data: Any) -> None:
            self._arm("snapshot")
            super().snapshot(index, data)

        def on_message(self, src: str, msg: Any) -> None:
            if type(msg).__name__ == "InstallSnapshot" and getattr(msg, "done", False):
                self._arm("install")
            super().on_message(src, msg)

        def _arm(self, why: str) -> None:
            storage = self.storage
            if storage.frozen or storage.syncs_left is not None:
                return
            syncs = arm(self, why)
            if syncs is not None:
                storage.arm(syncs)

    Crashing.__name__ = Crashing.__qualname__ = base.__name__
    return Crashing


@graded(points=5, runs=30)
def crash_between_writes(trial: Trial) -> None:
    """A crash between two storage syncs, as a server snapshots or installs, loses nothing."""
    rng = trial.rng
    cluster: RaftCluster | None = None
    down: set[str] = set()

    def arm(node: Any, why: str) -> int | None:
        # At most one server down at a time (a majority stays up), and not too often.
        assert cluster is not None
        if down or rng.random() > 0.3:
            return None
        name = node.id
        down.add(name)
        cluster.sim.after(0.0, cluster.crash, name, "lost")
        cluster.sim.after(rng.uniform(0.2, 1.0), restart, name)
        return rng.randrange(3)  # crash before the next sync, or after one or two more

    def restart(name: str) -> None:
        assert cluster is not None
        cluster.restart(name)
        down.discard(name)

    base = adapter(trial, snapshot_every=5)
    cluster = make_cluster(trial, 3, raft=attrs.evolve(base, factory=crashing(base.factory, arm)))
    values = commands(trial)
    for _ in range(60):
        cluster.one(next(values), expected_servers=2, retry=True)
    cluster.run(1.5)  # the last one restarts
    leader = cluster.check_one_leader()
    for name in cluster.names:
        if name != leader and cluster.is_up(name):
            cluster.disconnect(name)
            break
    # A follower cut off while the others snapshot catches up by InstallSnapshot, and the
    # crashes can hit it as it installs.
    for _ in range(12):
        cluster.one(next(values), expected_servers=2, retry=True)
    for name in cluster.names:
        cluster.connect(name)
    cluster.run(1.5)
    cluster.one(next(values), expected_servers=3, retry=True)


# ----- lab 5's tests again, with snapshots -----------------------------------------------------


@graded(points=3, runs=10)
def lab5_tests_with_snapshots(trial: Trial) -> None:
    """Lab 5's agreement, persistence and unreliable tests, with a snapshot every 10 commands."""
    scenario(trial, *AGREEMENT, *PERSISTENCE, *UNRELIABLE)

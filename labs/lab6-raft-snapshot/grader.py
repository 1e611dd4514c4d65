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
* ``log_stays_small``: the storage a server keeps stays small over 200 commands;
* ``chunks``: snapshots larger than a chunk travel in several InstallSnapshot messages
  of at most ``CHUNK_SIZE`` characters;
* ``crash_between_writes``: a crash between two of a server's storage syncs (while it
  snapshots, or installs a snapshot) leaves it able to restart, consistent.

Each test runs over many seeds; a seed fixes every choice of the network, the faults and
the commands, so a failing seed replays exactly.
"""

from __future__ import annotations

import json
import math
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from dsys import Network, Node
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


@graded(points=10, runs=30)
def snapshot_basic(trial: Trial) -> None:
    """Snapshots every 10 commands: the log is trimmed, nothing else changes (no faults)."""
    scenario(trial, "snapshot_basic")


# ----- Figure 13, receiver implementation, step by step ---------------------------------------


#: How far apart (virtual seconds) the scripted leader sends its messages; the network
#: delivers each in exactly LATENCY seconds, so they arrive in the order sent. The whole
#: script takes less than the lowest election timeout of the starter (0.3 s).
STEP = 0.012
LATENCY = 0.002


class Silent(Node):
    """A server that never says anything (the third member of the receiver test's group)."""


def scripted_leader(script: list[tuple[str, Any]]) -> type:
    """A leader that sends the follower ``s1`` the messages of ``script`` (what each is
    about, the message), one every STEP seconds, and notes each as it sends it."""

    class ScriptedLeader(Node):
        def on_start(self) -> None:
            self.step = 0
            self.set_timer("next", STEP)

        def on_timer(self, name: str) -> None:
            what, msg = script[self.step]
            self.note("script", step=self.step, what=what)
            self.send("s1", msg)
            self.step += 1
            if self.step < len(script):
                self.set_timer("next", STEP)

    return ScriptedLeader


def message_classes(trial: Trial) -> Any:
    """The implementation's Entry, AppendEntries and InstallSnapshot classes: found in its
    module, or else in the module of a class RaftNode derives from (where its handlers
    match them)."""
    modules = [trial.impl] + [sys.modules.get(cls.__module__)
                              for cls in getattr(trial.impl.RaftNode, "__mro__", ())]
    found = {}
    for name in ("Entry", "AppendEntries", "InstallSnapshot"):
        cls = next((getattr(m, name) for m in modules if m is not None and hasattr(m, name)),
                   None)
        if cls is None:
            raise AssertionError(
                f"the grader found no {name} class beside RaftNode: this test sends your "
                "node the starter's Entry, AppendEntries and InstallSnapshot messages itself; "
                "keep their names and fields")
        found[name] = cls
    return types.SimpleNamespace(**found)


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

    try:
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
    except (TypeError, AttributeError) as exc:
        raise AssertionError(
            f"the grader could not build the messages of this test with your Entry, "
            f"AppendEntries and InstallSnapshot classes ({exc}): this test sends your node "
            "these messages itself; keep the starter's names and fields for them") from None
    sim = trial.simulation(network=Network(latency=(LATENCY, LATENCY)))
    sim.add_node("s0", scripted_leader(script))
    sim.add_node("s1", adapter(trial, snapshot_every=None).factory)
    sim.add_node("s2", Silent)
    expected = ([("apply", i) for i in range(1, 39)] + [("restore", 42)]
                + [("apply", i) for i in range(43, 46)] + [("restore", 50), ("apply", 51)])
    trial.run(sim, STEP * (len(script) + 2))
    seen: list[tuple[str, Any]] = []
    step = "before the first message"
    for event in sim.trace:
        if event.kind != "note":
            continue
        if event.node == "s0":
            step = f"after message {event.data['step'] + 1} of the script ({event.data['what']})"
            continue
        what = event.data.get("event")
        if event.node != "s1" or what not in ("apply", "restore"):
            continue
        seen.append((what, event.data.get("index")))
        position = len(seen) - 1
        if position >= len(expected) or seen[-1] != expected[position]:
            trial.focus(end=event.time, nodes=["s0", "s1"])
            want = expected[position] if position < len(expected) else None
            raise AssertionError(
                f"s1 did {what} {event.data.get('index')} {step}, where Figure 13 leads to "
                f"{'nothing more' if want is None else f'{want[0]} {want[1]}'} (done so far: "
                f"{describe(seen[:-1])}). {RECEIVER_HINTS.get(want, '')}".rstrip())
    if seen != expected:
        trial.focus(nodes=["s0", "s1"])
        missing = expected[len(seen)]
        raise AssertionError(
            f"s1 never did {missing[0]} {missing[1]} (done: {describe(seen)}); the script "
            f"ended {step}. {RECEIVER_HINTS.get(missing, '')}".rstrip())
    node: Any = sim.node("s1")
    for index, data in node.service.restores:
        if data != snapshot(index):
            raise AssertionError(f"s1 restored a snapshot at index {index} whose data "
                                 f"{data!r} is not the one the leader sent, {snapshot(index)!r}")


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


# ----- MIT's lab 3D tests, continued: followers behind the leader's snapshot ------------------


@graded(points=12, runs=30)
def install_snapshot(trial: Trial) -> None:
    """A follower cut off while the others snapshot catches up by InstallSnapshot."""
    scenario(trial, "snapshot_install")


@graded(points=12, runs=30)
def install_unreliable(trial: Trial) -> None:
    """InstallSnapshot to cut-off followers, on a network that loses and reorders messages."""
    scenario(trial, "snapshot_install_unreliable")


@graded(points=12, runs=30)
def install_crash(trial: Trial) -> None:
    """A crashed follower restarts from its snapshot and catches up."""
    scenario(trial, "snapshot_install_crash")


@graded(points=10, runs=30)
def install_unreliable_crash(trial: Trial) -> None:
    """Crashes and restarts from snapshots, on a network that loses and reorders messages."""
    scenario(trial, "snapshot_install_unreliable_crash")


@graded(points=6, runs=30)
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

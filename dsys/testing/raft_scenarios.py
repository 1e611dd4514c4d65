"""The scenarios of MIT 6.5840's public Raft tests (parts 3A-3D), in virtual time.

Each scenario is a function of a *cluster factory*, ``make(n, reliable=True) ->``
:class:`~dsys.testing.raft.RaftCluster`, so the same scenario judges the dsys reference
(``RaftAdapter.for_component()``) and a student's lab (``RaftAdapter.for_lab(RaftNode)``,
built by a grader with ``trial.simulation`` and ``trial.run_until``). They follow the
logic of MIT's ``raft_test.go`` (``TestInitialElection3A`` ... ``TestSnapshotInit3D``),
rewritten on the harness:

* every sleep and deadline is in virtual seconds, in multiples of the adapter's
  ``election_timeout`` (MIT's ``RaftElectionTimeout``, one second by default);
* the tester's random choices come from ``cluster.rng`` (seeded by the simulation), so a
  scenario is a pure function of the seed;
* MIT's goroutines (concurrent ``one()`` calls, the churn clients) are harness processes
  (:meth:`~dsys.testing.raft.RaftCluster.spawn`);
* an implementation may append a no-op entry when it becomes leader
  (``adapter.noops``): then a command's index may be one past the next free index, and
  indexes holding no-ops are skipped where MIT walks the log;
* the bounds on message counts are derived from the protocol (entries per message, the
  adapter's heartbeat interval), counting a request and its reply as two messages.

The safety invariants run after every event throughout (see :mod:`dsys.testing.raft`).
:data:`SCENARIOS` names them all; a grader picks them by name and part.

Example:
    >>> from dsys import Simulation
    >>> from dsys.testing.raft import RaftAdapter
    >>> from dsys.testing.raft_scenarios import SCENARIOS, cluster_factory
    >>> make = cluster_factory(RaftAdapter.for_component(), lambda: Simulation(seed=1))
    >>> scenario = SCENARIOS["basic_agree"]
    >>> scenario.part, scenario.title
    ('3B', 'basic agreement')
    >>> cluster = scenario(make)
    >>> len(cluster.applied["s0"])
    3
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from dsys.sim.simulation import Simulation
from dsys.testing.raft import NOOP, Process, RaftAdapter, RaftCluster, RunUntil, Steps

__all__ = [
    "ELECTION_ATTEMPTS",
    "MAX_LOG_BYTES",
    "SCENARIOS",
    "SNAPSHOT_EVERY",
    "MakeCluster",
    "Scenario",
    "cluster_factory",
    "scenarios",
]

#: MIT's ``SnapShotInterval``: the snapshot scenarios expect a service that snapshots
#: every this many commands (``RaftAdapter.for_lab(..., snapshot_every=SNAPSHOT_EVERY)``).
SNAPSHOT_EVERY = 10

#: MIT's ``MAXLOGSIZE``: with snapshots, the Raft state a server keeps
#: (``cluster.log_size``) must stay below this many bytes.
MAX_LOG_BYTES = 2000

#: The initial election may take this many candidacies (split votes) before the message
#: count bound of :func:`count` is exceeded.
ELECTION_ATTEMPTS = 5


class MakeCluster(Protocol):
    """Builds a fresh cluster of ``n`` servers (on an unreliable network if not
    ``reliable``)."""

    def __call__(self, n: int, reliable: bool = True) -> RaftCluster: ...


def cluster_factory(adapter: RaftAdapter, simulation: Callable[[], Simulation], *,
                    run_until: RunUntil | None = None) -> MakeCluster:
    """A :class:`MakeCluster` that builds each cluster in a new ``simulation()``.

    In a grader: ``cluster_factory(RaftAdapter.for_lab(trial.impl.RaftNode),
    trial.simulation, run_until=trial.run_until)``.
    """

    def make(n: int, reliable: bool = True) -> RaftCluster:
        return RaftCluster(simulation(), adapter, n, run_until=run_until, reliable=reliable)

    return make


@attrs.frozen
class Scenario:
    """One of MIT's Raft tests: ``scenario(make)`` runs it and returns the cluster it
    built; it fails with an AssertionError (or the simulator's InvariantViolation)."""

    name: str
    part: str  #: "3A", "3B", "3C" or "3D"
    title: str  #: MIT's title of the test
    servers: int
    func: Callable[[MakeCluster], RaftCluster]
    #: True for 3D: ``make`` must build clusters whose adapter has ``snapshot_every``.
    snapshots: bool = False

    def __call__(self, make: MakeCluster) -> RaftCluster:
        return self.func(make)


#: Every scenario by name, in MIT's order.
SCENARIOS: dict[str, Scenario] = {}


def scenarios(part: str | None = None) -> list[Scenario]:
    """The scenarios of ``part`` ("3A".."3D"; all if None), in MIT's order.

    Example:
        >>> [s.name for s in scenarios("3A")]
        ['initial_election', 'reelection', 'many_elections']
    """
    return [s for s in SCENARIOS.values() if part is None or s.part == part]


def _scenario(part: str, title: str, servers: int, *, snapshots: bool = False
              ) -> Callable[[Callable[[MakeCluster], RaftCluster]], Callable[..., RaftCluster]]:
    def register(func: Callable[[MakeCluster], RaftCluster]) -> Callable[..., RaftCluster]:
        name = func.__name__
        SCENARIOS[name] = Scenario(name, part, title, servers, func, snapshots)
        return func

    return register


# ----- helpers ---------------------------------------------------------------------------------


def _et(c: RaftCluster) -> float:
    return c.adapter.election_timeout


def _rand(c: RaftCluster) -> int:
    """A random command (MIT's ``rand.Int()``), from the cluster's seeded generator."""
    return c.rng.randrange(1 << 31)


def _top(c: RaftCluster) -> int:
    """The highest index any server applied (no-ops included)."""
    c.n_committed(0)  # reads the latest notes
    return max(c.log, default=0)


def _check_next_index(c: RaftCluster, index: int, *, after: int, what: str,
                      extra: int = 0) -> None:
    """``index`` must be the next free index after ``after`` (plus ``extra`` places,
    plus one for a leader's no-op when the implementation appends them)."""
    low = after + 1
    high = low + extra + (1 if c.adapter.noops else 0)
    if not low <= index <= high:
        wanted = f"{low}" if low == high else f"{low}..{high}"
        raise AssertionError(f"{what} got index {index}, expected {wanted} (the next free "
                             f"index after {after}; virtual time t={c.sim.now:.6f})")


def _leader_start(c: RaftCluster, leader: str, command: Any) -> tuple[int, int]:
    answer = c.start(leader, command)
    if answer is None:
        raise AssertionError(f"leader {leader} rejected Start({command!r}) "
                             f"(virtual time t={c.sim.now:.6f})")
    return answer


def _no_commit_after(c: RaftCluster, top: int, why: str) -> None:
    c.n_committed(0)
    beyond = sorted(i for i in c.log if i > top)
    if beyond:
        index = beyond[0]
        count, command = c.n_committed(index)
        raise AssertionError(f"index {index} ({command!r}) was committed and applied by "
                             f"{count} server(s), but {why}")


def _sleep_figure8(c: RaftCluster) -> None:
    """MIT's Figure 8 pacing: mostly a few milliseconds, sometimes up to half an
    election timeout."""
    if c.rng.randrange(1000) < 100:
        c.run(c.rng.uniform(0, _et(c) / 2))
    else:
        c.run(c.rng.randrange(13) / 1000)


# ----- 3A: leader election -----------------------------------------------------------------


@_scenario("3A", "initial election", 3)
def initial_election(make: MakeCluster) -> RaftCluster:
    """A leader is elected; the term stays the same while nothing fails."""
    c = make(3)
    c.check_one_leader()
    c.run(0.05)  # let every server hear of the new term
    term1 = c.check_terms()
    if term1 < 1:
        raise AssertionError(f"there is a leader, but the term is {term1}")
    c.run(2 * _et(c))
    term2 = c.check_terms()
    if term1 != term2:
        c.warn(f"the term changed from {term1} to {term2} though nothing failed")
    c.check_one_leader()
    return c


@_scenario("3A", "election after network failure", 3)
def reelection(make: MakeCluster) -> RaftCluster:
    """A new leader when the leader is cut off; the old one rejoining changes nothing;
    no leader without a majority; one again once there is a majority."""
    c = make(3)
    leader1 = c.check_one_leader()
    c.disconnect(leader1)
    c.check_one_leader()
    c.connect(leader1)  # the old leader rejoins: it must not disturb the new one
    leader2 = c.check_one_leader()
    c.disconnect(leader2)
    c.disconnect(c.peer(leader2, 1))
    c.run(2 * _et(c))
    c.check_no_leader()  # no majority: no leader
    c.connect(c.peer(leader2, 1))
    c.check_one_leader()
    c.connect(leader2)
    c.check_one_leader()
    return c


@_scenario("3A", "multiple elections", 7)
def many_elections(make: MakeCluster) -> RaftCluster:
    """Ten times, three random servers of seven are cut off: the others keep (or elect)
    a leader."""
    c = make(7)
    c.check_one_leader()
    for _ in range(10):
        cut = [c.names[c.rng.randrange(7)] for _ in range(3)]
        for name in cut:
            c.disconnect(name)
        c.check_one_leader()  # the current leader is alive, or the others elect one
        for name in cut:
            c.connect(name)
    c.check_one_leader()
    return c


# ----- 3B: log replication ------------------------------------------------------------------


@_scenario("3B", "basic agreement", 3)
def basic_agree(make: MakeCluster) -> RaftCluster:
    """Three commands are agreed on, one after another, at consecutive indexes."""
    c = make(3)
    after = 0
    for k in range(1, 4):
        count, _ = c.n_committed(after + 1)
        if count > 0:
            raise AssertionError(f"{count} server(s) applied index {after + 1} before "
                                 "anything was started")
        index = c.one(k * 100, 3)
        _check_next_index(c, index, after=after, what=f"one({k * 100})")
        after = index
    return c


@_scenario("3B", "RPC byte count", 3)
def rpc_bytes(make: MakeCluster) -> RaftCluster:
    """Each command crosses the network about once per follower: ten 5000-byte commands
    cost at most n times their size (MIT's allowance), plus 50 kB for the rest."""
    c = make(3)
    after = c.one(99, 3)
    bytes0 = c.bytes_sent()
    sent = 0
    alphabet = string.ascii_letters + string.digits
    for _ in range(10):
        command = "".join(c.rng.choices(alphabet, k=5000))
        index = c.one(command, 3)
        _check_next_index(c, index, after=after, what="one(<5000 bytes>)")
        after = index
        sent += len(command)
    got = c.bytes_sent() - bytes0
    bound = 3 * sent + 50_000
    if got > bound:
        raise AssertionError(f"{got} bytes were sent for {sent} bytes of commands; at most "
                             f"{bound} expected (3 x {sent} + 50000)")
    return c


@_scenario("3B", "test progressive failure of followers", 3)
def follower_failure(make: MakeCluster) -> RaftCluster:
    """Agreement with one follower cut off; none with both."""
    c = make(3)
    c.one(101, 3)
    leader1 = c.check_one_leader()
    c.disconnect(c.peer(leader1, 1))
    c.one(102, 2)  # the leader and the remaining follower agree
    c.run(_et(c))
    c.one(103, 2)
    leader2 = c.check_one_leader()
    c.disconnect(c.peer(leader2, 1))
    c.disconnect(c.peer(leader2, 2))
    top = _top(c)
    index, _ = _leader_start(c, leader2, 104)
    _check_next_index(c, index, after=top, what=f"Start(104) on {leader2}")
    c.run(2 * _et(c))
    _no_commit_after(c, top, "the leader has no majority")
    return c


@_scenario("3B", "test failure of leaders", 3)
def leader_failure(make: MakeCluster) -> RaftCluster:
    """Agreement after the leader is cut off; none after a second leader is too."""
    c = make(3)
    c.one(101, 3)
    leader1 = c.check_one_leader()
    c.disconnect(leader1)
    c.one(102, 2)  # the other two elect a leader and agree
    c.run(_et(c))
    c.one(103, 2)
    leader2 = c.check_one_leader()
    c.disconnect(leader2)
    top = _top(c)
    for name in c.names:  # everyone is asked; nobody has a majority
        c.start(name, 104)
    c.run(2 * _et(c))
    _no_commit_after(c, top, "no server has a majority")
    return c


@_scenario("3B", "agreement after follower reconnects", 3)
def fail_agree(make: MakeCluster) -> RaftCluster:
    """A follower cut off while the others agree catches up when it reconnects."""
    c = make(3)
    c.one(101, 3)
    leader = c.check_one_leader()
    c.disconnect(c.peer(leader, 1))
    c.one(102, 2)
    c.one(103, 2)
    c.run(_et(c))
    c.one(104, 2)
    c.one(105, 2)
    c.connect(c.peer(leader, 1))
    c.one(106, 3, retry=True)  # the reconnected follower catches up
    c.run(_et(c))
    c.one(107, 3, retry=True)
    return c


@_scenario("3B", "no agreement if too many followers disconnect", 5)
def fail_no_agree(make: MakeCluster) -> RaftCluster:
    """With three of five followers cut off nothing commits; after they reconnect the
    cluster agrees again."""
    c = make(5)
    c.one(10, 5)
    leader = c.check_one_leader()
    for k in (1, 2, 3):
        c.disconnect(c.peer(leader, k))
    top = _top(c)
    index, _ = _leader_start(c, leader, 20)
    _check_next_index(c, index, after=top, what=f"Start(20) on {leader}")
    c.run(2 * _et(c))
    count, _ = c.n_committed(index)
    if count > 0:
        raise AssertionError(f"{count} server(s) applied index {index}, but the leader had "
                             "no majority")
    for k in (1, 2, 3):
        c.connect(c.peer(leader, k))
    leader2 = c.check_one_leader()
    index2, _ = _leader_start(c, leader2, 30)
    # 20 may survive in the new leader's log, or be overwritten.
    _check_next_index(c, index2, after=top, what=f"Start(30) on {leader2}", extra=1)
    c.one(1000, 5, retry=True)
    return c


@_scenario("3B", "concurrent Start()s", 3)
def concurrent_starts(make: MakeCluster) -> RaftCluster:
    """Five commands started at the same instant all commit (unless the term changes,
    which is retried up to five times)."""
    c = make(3)
    for attempt in range(5):
        if attempt > 0:
            c.run(3 * _et(c))  # give the cluster a chance to settle
        leader = c.check_one_leader()
        answer = c.start(leader, 1)
        if answer is None:
            continue
        _, term = answer
        indexes = []
        for k in range(5):
            got = c.start(leader, 100 + k)
            if got is not None and got[1] == term:
                indexes.append(got[0])
        if any(s is not None and s[0] != term for s in map(c.state, c.names)):
            continue  # the term moved on: try again
        commands = []
        for index in indexes:
            command = c.wait(index, 3, term)
            if command is None:
                break  # the term moved on
            commands.append(command)
        else:
            for k in range(5):
                if 100 + k not in commands:
                    raise AssertionError(f"command {100 + k} is missing from the committed "
                                         f"commands {commands}")
            return c
    raise AssertionError("the term changed too often for five concurrent Start()s to commit")


@_scenario("3B", "rejoin of partitioned leader", 3)
def rejoin(make: MakeCluster) -> RaftCluster:
    """A leader cut off with uncommitted entries rejoins; its entries are replaced."""
    c = make(3)
    c.one(101, 3, retry=True)
    leader1 = c.check_one_leader()
    c.disconnect(leader1)
    for command in (102, 103, 104):  # entries the cut-off leader can never commit
        c.start(leader1, command)
    c.one(103, 2, retry=True)  # a new leader commits 103
    leader2 = c.check_one_leader()
    c.disconnect(leader2)
    c.connect(leader1)  # the old leader is back (with its stale entries)
    c.one(104, 2, retry=True)
    c.connect(leader2)
    c.one(105, 3, retry=True)
    return c


@_scenario("3B", "leader backs up quickly over incorrect follower logs", 5)
def backup(make: MakeCluster) -> RaftCluster:
    """Leaders must skip back over long runs of conflicting entries quickly (50 commands
    at a time)."""
    c = make(5)
    c.one(_rand(c), 5, retry=True)
    leader1 = c.check_one_leader()
    # Put the leader and one follower in a partition of their own.
    for k in (2, 3, 4):
        c.disconnect(c.peer(leader1, k))
    for _ in range(50):  # entries that never commit
        c.start(leader1, _rand(c))
    c.run(_et(c) / 2)
    c.disconnect(c.peer(leader1, 0))
    c.disconnect(c.peer(leader1, 1))
    for k in (2, 3, 4):  # the other three form a majority
        c.connect(c.peer(leader1, k))
    for _ in range(50):
        c.one(_rand(c), 3, retry=True)
    leader2 = c.check_one_leader()
    other = c.peer(leader1, 2)
    if leader2 == other:
        other = c.peer(leader2, 1)
    c.disconnect(other)
    for _ in range(50):  # more entries that never commit
        c.start(leader2, _rand(c))
    c.run(_et(c) / 2)
    for name in c.names:
        c.disconnect(name)
    for name in (c.peer(leader1, 0), c.peer(leader1, 1), other):  # the first group's two
        c.connect(name)  # and `other` form a majority, with the wrong entries to replace
    for _ in range(50):
        c.one(_rand(c), 3, retry=True)
    for name in c.names:
        c.connect(name)
    c.one(_rand(c), 5, retry=True)
    return c


@_scenario("3B", "RPC counts aren't too high", 3)
def count(make: MakeCluster) -> RaftCluster:
    """Message counts: to elect the first leader (at most ``ELECTION_ATTEMPTS``
    candidacies of a pre-vote and a vote round, then heartbeats), to
    agree on 11 commands (one AppendEntries and its reply per follower per command,
    plus heartbeats while waiting, plus three rounds), and while idle (heartbeats)."""
    c = make(3)
    followers = 2
    round_trip = 2 * followers  # one message to each follower and its reply
    heartbeat = c.adapter.heartbeat
    c.check_one_leader()
    total1 = c.rpc_count()
    rounds = 1 + math.ceil(c.sim.now / heartbeat)  # at most, since the start
    bound = ELECTION_ATTEMPTS * 2 * round_trip + rounds * round_trip
    if not 1 <= total1 <= bound:
        raise AssertionError(
            f"{total1} messages to elect the first leader and keep it for "
            f"{c.sim.now:.3f} s; expected 1 to {bound} ({ELECTION_ATTEMPTS} candidacies of "
            f"two rounds, and an AppendEntries round per {heartbeat:g} s heartbeat)")
    success = False
    total2 = total1
    for attempt in range(5):
        if attempt > 0:
            c.run(3 * _et(c))  # give the cluster a chance to settle
        leader = c.check_one_leader()
        total1 = c.rpc_count()
        began = c.sim.now
        answer = c.start(leader, 1)
        if answer is None:
            continue
        start_index, term = answer
        commands = []
        moved = False
        for k in range(1, 11):
            command = _rand(c)
            got = c.start(leader, command)
            if got is None or got[1] != term:
                moved = True
                break
            if got[0] != start_index + k:
                raise AssertionError(f"Start({command}) got index {got[0]}, expected "
                                     f"{start_index + k}")
            commands.append(command)
        if moved:
            continue
        for k, command in enumerate(commands, start=1):
            applied = c.wait(start_index + k, 3, term)
            if applied is None:
                moved = True
                break
            if applied != command:
                raise AssertionError(f"index {start_index + k} holds {applied!r}, but "
                                     f"{command!r} was started there")
        if moved or any(s is None or s[0] != term for s in map(c.state, c.names)):
            continue
        total2 = c.rpc_count()
        elapsed = c.sim.now - began
        entries = len(commands) + 1
        bound = round_trip * (entries + 3 + math.ceil(elapsed / heartbeat))
        if total2 - total1 > bound:
            raise AssertionError(
                f"{total2 - total1} messages to agree on {entries} commands in "
                f"{elapsed:.3f} s; expected at most {bound} (one AppendEntries and reply per "
                f"follower per command, three spare rounds, and a round per {heartbeat:g} s "
                "heartbeat)")
        success = True
        break
    if not success:
        raise AssertionError("the term changed too often")
    c.run(_et(c))
    total3 = c.rpc_count()
    bound = round_trip * (math.ceil(_et(c) / heartbeat) + 1)
    if total3 - total2 > bound:
        raise AssertionError(f"{total3 - total2} messages in {_et(c):g} s of idleness; "
                             f"expected at most {bound} (a heartbeat round per "
                             f"{heartbeat:g} s)")
    return c


# ----- 3C: persistence -----------------------------------------------------------------------


@_scenario("3C", "basic persistence", 3)
def persist1(make: MakeCluster) -> RaftCluster:
    """Committed commands survive restarts of every server, of the leader, of a follower."""
    c = make(3)
    c.one(11, 3, retry=True)
    for name in c.names:  # crash everyone, then restart everyone
        c.crash(name)
    for name in c.names:
        c.restart(name)
    c.one(12, 3, retry=True)
    leader1 = c.check_one_leader()
    c.disconnect(leader1)
    c.restart(leader1)
    c.connect(leader1)
    c.one(13, 3, retry=True)
    leader2 = c.check_one_leader()
    c.disconnect(leader2)
    index = c.one(14, 2, retry=True)
    c.restart(leader2)
    c.connect(leader2)
    c.wait(index, 3)  # leader2 catches up before the next victim goes
    i3 = c.peer(c.check_one_leader(), 1)
    c.disconnect(i3)
    c.one(15, 2, retry=True)
    c.restart(i3)
    c.connect(i3)
    c.one(16, 3, retry=True)
    return c


@_scenario("3C", "more persistence", 5)
def persist2(make: MakeCluster) -> RaftCluster:
    """Five rounds of partitions and restarts of five servers; every round commits."""
    c = make(5)
    index = 1
    for _ in range(5):
        c.one(10 + index, 5, retry=True)
        index += 1
        leader1 = c.check_one_leader()
        c.disconnect(c.peer(leader1, 1))
        c.disconnect(c.peer(leader1, 2))
        c.one(10 + index, 3, retry=True)
        index += 1
        for k in (0, 3, 4):
            c.disconnect(c.peer(leader1, k))
        c.restart(c.peer(leader1, 1))
        c.restart(c.peer(leader1, 2))
        c.connect(c.peer(leader1, 1))
        c.connect(c.peer(leader1, 2))
        c.run(_et(c))
        c.restart(c.peer(leader1, 3))
        c.connect(c.peer(leader1, 3))
        c.one(10 + index, 3, retry=True)
        index += 1
        c.connect(c.peer(leader1, 4))
        c.connect(c.peer(leader1, 0))
    c.one(1000, 5, retry=True)
    return c


@_scenario("3C", "partitioned leader and one follower crash, leader restarts", 3)
def persist3(make: MakeCluster) -> RaftCluster:
    """The leader and a follower crash while the third server is cut off; the leader
    restarts and, with the third, commits."""
    c = make(3)
    c.one(101, 3, retry=True)
    leader = c.check_one_leader()
    c.disconnect(c.peer(leader, 2))
    c.one(102, 2, retry=True)
    c.crash(c.peer(leader, 0))
    c.crash(c.peer(leader, 1))
    c.connect(c.peer(leader, 2))
    c.restart(c.peer(leader, 0))
    c.connect(c.peer(leader, 0))
    c.one(103, 2, retry=True)
    c.restart(c.peer(leader, 1))
    c.connect(c.peer(leader, 1))
    c.one(104, 3, retry=True)
    return c


@_scenario("3C", "Figure 8", 5)
def figure8(make: MakeCluster) -> RaftCluster:
    """A thousand rounds: propose everywhere, wait a little, crash the leader, restart
    servers to keep three up; the situation of the paper's Figure 8 arises, and no
    entry of an earlier term may be committed by counting replicas."""
    c = make(5)
    c.one(_rand(c), 1, retry=True)
    up = 5
    for _ in range(1000):
        leader = None
        for name in c.names:
            if c.is_up(name) and c.start(name, _rand(c)) is not None:
                leader = name
        _sleep_figure8(c)
        if leader is not None:
            c.crash(leader)
            up -= 1
        if up < 3:
            name = c.names[c.rng.randrange(5)]
            if not c.is_up(name):
                c.restart(name)
                c.connect(name)
                up += 1
    for name in c.names:
        if not c.is_up(name):
            c.restart(name)
            c.connect(name)
    c.one(_rand(c), 5, retry=True)
    return c


@_scenario("3C", "unreliable agreement", 5)
def unreliable_agree(make: MakeCluster) -> RaftCluster:
    """On an unreliable network, 49 rounds of five concurrent ``one()`` calls all reach
    agreement."""
    c = make(5, reliable=False)
    background: list[Process] = []
    for iteration in range(1, 50):
        for j in range(4):
            background.append(c.submit(100 * iteration + j, 1, retry=True))
        c.one(iteration, 1, retry=True)
    c.set_unreliable(False)
    for process in background:
        c.join(process, timeout=11 * _et(c))
    c.one(100, 5, retry=True)
    return c


@_scenario("3C", "Figure 8 (unreliable)", 5)
def figure8_unreliable(make: MakeCluster) -> RaftCluster:
    """Figure 8 with disconnections instead of crashes, on an unreliable network with,
    after 200 rounds, messages held back for up to two seconds."""
    c = make(5, reliable=False)
    c.one(_rand(c) % 10_000, 1, retry=True)
    connected = 5
    for iteration in range(1000):
        if iteration == 200:
            c.set_long_reordering(True)
        leader = None
        for name in c.names:
            if c.start(name, _rand(c) % 10_000) is not None and c.is_connected(name):
                leader = name
        _sleep_figure8(c)
        if leader is not None and c.rng.randrange(1000) < int(_et(c) * 1000) // 2:
            c.disconnect(leader)
            connected -= 1
        if connected < 3:
            name = c.names[c.rng.randrange(5)]
            if not c.is_connected(name):
                c.connect(name)
                connected += 1
    for name in c.names:
        c.connect(name)
    # MIT gives this last agreement ten seconds; messages here are held back in both
    # directions (not only replies), so a correct Raft without pre-vote, whose terms
    # churn while heartbeats arrive late, may need longer: twenty.
    c.one(_rand(c) % 10_000, 5, retry=True, tries=20)
    return c


def _churn(make: MakeCluster, reliable: bool) -> RaftCluster:
    """MIT's ``internalChurn``: three clients propose all along while servers are cut
    off, reconnected, crashed and restarted at random; every command a client saw
    committed must be in the final log."""
    c = make(5, reliable=reliable)
    stop = False

    def client(me: int) -> Steps:
        values = []
        while not stop:
            command = _rand(c)
            index = None
            for name in c.names:
                if c.is_up(name):
                    answer = c.start(name, command)
                    if answer is not None:
                        index = answer[0]
            if index is None:
                yield (79 + me * 17) / 1000
                continue
            # Poll briefly: the command may commit, or be lost with its leader.
            for pause in (0.010, 0.020, 0.050, 0.100, 0.200):
                count, applied = c.n_committed(index)
                if count > 0:
                    if applied == command:
                        values.append(command)
                    break
                yield pause
        return values

    clients = [c.spawn(client(me), name=f"client {me}") for me in range(3)]
    for _ in range(20):
        if c.rng.randrange(1000) < 200:
            c.disconnect(c.names[c.rng.randrange(5)])
        if c.rng.randrange(1000) < 500:
            name = c.names[c.rng.randrange(5)]
            if not c.is_up(name):
                c.restart(name)
            c.connect(name)
        if c.rng.randrange(1000) < 200:
            name = c.names[c.rng.randrange(5)]
            if c.is_up(name):
                c.crash(name)
        c.run(_et(c) * 7 / 10)
    c.run(_et(c))
    c.set_unreliable(False)
    for name in c.names:
        if not c.is_up(name):
            c.restart(name)
        c.connect(name)
    stop = True
    values = [v for process in clients for v in c.join(process, timeout=2 * _et(c))]
    last = c.one(_rand(c), 5, retry=True)
    really = []
    for index in range(1, last + 1):
        if c.log.get(index) is NOOP:
            continue
        really.append(c.wait(index, 5))
    missing = [v for v in values if v not in really]
    if missing:
        raise AssertionError(f"{len(missing)} command(s) a client saw committed are not in "
                             f"the final log, e.g. {missing[0]}")
    return c


@_scenario("3C", "churn", 5)
def reliable_churn(make: MakeCluster) -> RaftCluster:
    """Churn (servers cut off, crashed, restarted at random) under client load."""
    return _churn(make, reliable=True)


@_scenario("3C", "unreliable churn", 5)
def unreliable_churn(make: MakeCluster) -> RaftCluster:
    """Churn on an unreliable network."""
    return _churn(make, reliable=False)


# ----- 3D: log compaction ------------------------------------------------------------------


def _check_log_size(c: RaftCluster) -> None:
    for name in c.names:
        size = c.log_size(name)
        if size >= MAX_LOG_BYTES:
            raise AssertionError(f"{name} keeps {size} bytes of Raft state, at least "
                                 f"{MAX_LOG_BYTES}: is the log trimmed after snapshots? "
                                 f"(virtual time t={c.sim.now:.6f})")


def _snapshot_common(make: MakeCluster, *, disconnect: bool, reliable: bool,
                     crash: bool) -> RaftCluster:
    """MIT's ``snapcommon``: thirty rounds of about ten commands, with a victim cut off
    or crashed in each, so that it must catch up by an InstallSnapshot."""
    c = make(3, reliable=reliable)
    c.one(_rand(c), 3, retry=True)
    leader1 = c.check_one_leader()
    for i in range(30):
        victim, sender = c.peer(leader1, 1), leader1
        if i % 3 == 1:
            sender, victim = c.peer(leader1, 1), leader1
        if disconnect:
            c.disconnect(victim)
            c.one(_rand(c), 2, retry=True)
        if crash:
            c.crash(victim)
            c.one(_rand(c), 2, retry=True)
        # Enough commands for a snapshot, sent to one server (the leader, or not).
        for _ in range(SNAPSHOT_EVERY // 2 + c.rng.randrange(SNAPSHOT_EVERY)):
            c.start(sender, _rand(c))
        # Let the servers catch up with those commands.
        c.one(_rand(c), 2 if (disconnect or crash) else 3, retry=True)
        _check_log_size(c)
        if disconnect:
            # The victim reconnects; its log may lag far behind the leader's snapshot.
            c.connect(victim)
            c.one(_rand(c), 3, retry=True)
            leader1 = c.check_one_leader()
        if crash:
            c.restart(victim)
            c.connect(victim)
            c.one(_rand(c), 3, retry=True)
            leader1 = c.check_one_leader()
    return c


@_scenario("3D", "snapshots basic", 3, snapshots=True)
def snapshot_basic(make: MakeCluster) -> RaftCluster:
    """Snapshots are taken and the log is trimmed; nothing fails."""
    return _snapshot_common(make, disconnect=False, reliable=True, crash=False)


@_scenario("3D", "install snapshots (disconnect)", 3, snapshots=True)
def snapshot_install(make: MakeCluster) -> RaftCluster:
    """A follower cut off while the others snapshot catches up by InstallSnapshot."""
    return _snapshot_common(make, disconnect=True, reliable=True, crash=False)


@_scenario("3D", "install snapshots (disconnect+unreliable)", 3, snapshots=True)
def snapshot_install_unreliable(make: MakeCluster) -> RaftCluster:
    """InstallSnapshot on an unreliable network."""
    return _snapshot_common(make, disconnect=True, reliable=False, crash=False)


@_scenario("3D", "install snapshots (crash)", 3, snapshots=True)
def snapshot_install_crash(make: MakeCluster) -> RaftCluster:
    """A crashed follower restarts from its snapshot and catches up."""
    return _snapshot_common(make, disconnect=False, reliable=True, crash=True)


@_scenario("3D", "install snapshots (unreliable+crash)", 3, snapshots=True)
def snapshot_install_unreliable_crash(make: MakeCluster) -> RaftCluster:
    """Crashes and restarts from snapshots on an unreliable network."""
    return _snapshot_common(make, disconnect=False, reliable=False, crash=True)


@_scenario("3D", "crash and restart all servers", 3, snapshots=True)
def snapshot_all_crash(make: MakeCluster) -> RaftCluster:
    """Five times: enough commands for snapshots, then every server crashes and
    restarts; the next command's index is past every earlier one."""
    c = make(3)
    c.one(_rand(c), 3, retry=True)
    for _ in range(5):
        for _ in range(SNAPSHOT_EVERY // 2 + c.rng.randrange(SNAPSHOT_EVERY)):
            c.one(_rand(c), 3, retry=True)
        index1 = c.one(_rand(c), 3, retry=True)
        for name in c.names:
            c.crash(name)
        for name in c.names:
            c.restart(name)
            c.connect(name)
        index2 = c.one(_rand(c), 3, retry=True)
        if index2 < index1 + 1:
            raise AssertionError(f"the index went back from {index1} to {index2} after every "
                                 "server restarted")
    return c


@_scenario("3D", "snapshot initialization after crash", 3, snapshots=True)
def snapshot_init(make: MakeCluster) -> RaftCluster:
    """A server restarted from a snapshot, with nothing after it, must come back with
    the snapshot's state (and keep it over a second restart)."""
    c = make(3)
    c.one(_rand(c), 3, retry=True)
    for _ in range(SNAPSHOT_EVERY + 1):  # enough for a snapshot
        c.one(_rand(c), 3, retry=True)
    for name in c.names:
        c.crash(name)
    for name in c.names:
        c.restart(name)
        c.connect(name)
    c.one(_rand(c), 3, retry=True)  # something to write back to storage
    for name in c.names:
        c.crash(name)
    for name in c.names:
        c.restart(name)
        c.connect(name)
    c.one(_rand(c), 3, retry=True)  # and another, where a lost snapshot shows
    return c

"""Grader of lab 7: a fault-tolerant key-value service on Raft (MIT 6.5840 lab 4 style).

Every test builds a cluster of the student's ``KVServer`` nodes (``s1`` ... ``s5``, or
three), each holding the reference :class:`~dsys.raft.Raft` as ``self.raft`` and its copy
of the store as ``self.data``, and a few ``KVClient`` clients (``c1``, ``c2``...), each
running a workload of gets, puts and appends on a few keys. Every put and append writes a
value no other operation writes (``'c2.7;'``: client c2's 7th operation), so the grader
can tell operations apart in the store and in the log. The cluster is put under faults,
and judged by checks of three kinds.

After *every* event (the run stops at the first violation):

* Raft's own invariants (:func:`dsys.raft.invariants`: election safety, log matching,
  leader completeness, state machine safety, applied index in bounds), checked whenever
  some server's Raft state changed;
* exactly once: no server holds one value twice (an append applied twice);
* replicas agree: two servers that applied the log through the same index hold the same
  data (a snapshot taken at the wrong index, or a restore that does not replace the
  state, breaks this).

At the end:

* liveness: once the faults stop, every client finishes its workload within
  ``LIVENESS_TIMEOUT`` virtual seconds, every operation invoked after the faults stopped
  completes ``ok``, and no put or append completes ``ok`` unless some committed log entry
  carries it;
* the clients' history is linearizable for a key-value store (``dsys.check``, model
  ``"kv"``, with a budget of search steps, never of seconds: a verdict replays exactly).

And, in tests of their own: Raft's log stays under ``max_raft_state`` (the service
snapshots), and a snapshot holds the state, not a history of it.

Each test runs over many seeds; a seed fixes every choice of the network, the faults and
the workloads, so a failing seed replays exactly.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from random import Random
from typing import Any

import attrs

from dsys import Network, Simulation, TraceEvent
from dsys.check import Verdict, check_linearizable
from dsys.labs import Trial, graded
from dsys.raft import invariants
from dsys.sim.schedule import sized
from dsys.trace.events import format_events

FIVE = ("s1", "s2", "s3", "s4", "s5")
THREE = ("s1", "s2", "s3")

#: Virtual seconds the clients get, after the last fault, to finish every workload.
LIVENESS_TIMEOUT = 20.0

#: The linearizability checker's budget, in search steps, not seconds: the verdict must not
#: depend on how fast the grading machine is, or a failure would not replay.
CHECK_BUDGET = 1_000_000

#: The ``max_raft_state`` of the snapshot tests, in characters of Raft's log (JSON).
MAX_RAFT_STATE = 1000

#: While the service runs, Raft's log may exceed ``max_raft_state`` by entries not yet
#: applied (a snapshot covers only applied ones): the grader allows this factor.
LOG_SLACK_FACTOR = 2

#: At the end, with every entry applied, the log may exceed ``max_raft_state`` by about one
#: entry (the service snapshots after the apply that crosses the bound) and a leader's no-op.
LOG_SLACK_END = 400

#: The most characters a snapshot's JSON may hold in ``snapshot_size``, whose data is small
#: (two keys, written by puts only; one client): the data and the client's session fit in
#: about 100.
SNAPSHOT_LIMIT = 600

#: How many trace events a failure shows of what happened to one operation.
STORY_EVENTS = 16

#: How far back (virtual seconds) a liveness failure looks at what a stuck client did.
STUCK_WINDOW = 2.0

#: Trace kinds of a message's arrival at a node (the newer name first).
ARRIVALS = ("recv", "deliver")

WRITES = ("put", "append")

#: A value written by the workload: client name, a dot, a number, a semicolon.
VALUE = re.compile(r"c\d+\.\d+;")


# ----- workloads -----------------------------------------------------------------------------


def workload(client: str, keys: Sequence[str], *, gets: float = 0.35,
             puts: float = 0.15) -> Callable[[Random], dict[str, Any]]:
    """Operations of ``client`` on ``keys``: gets, puts and appends, each put and append
    writing a value of its own (``'c2.7;'`` is the value of client c2's 7th operation)."""
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        number = next(numbers)
        key = rng.choice(keys)
        draw = rng.random()
        if draw < gets:
            return {"f": "get", "key": key, "value": None}
        f = "put" if draw < gets + puts else "append"
        return {"f": f, "key": key, "value": f"{client}.{number};"}

    return next_op


def script(ops: Sequence[dict[str, Any]]) -> Callable[[Random], dict[str, Any]]:
    """A workload that runs ``ops`` in order."""
    queue = iter(ops)
    return lambda rng: next(queue)


# ----- watching the servers ------------------------------------------------------------------


def _server_parts(name: str, node: Any) -> tuple[Any, dict[str, Any]]:
    raft, data = getattr(node, "raft", None), getattr(node, "data", None)
    if raft is None or not hasattr(raft, "last_applied"):
        raise AssertionError(f"server {name} has no Raft component in self.raft: keep the "
                             "dsys.raft.Raft your KVServer adds there (the grader reads it)")
    if not isinstance(data, dict):
        raise AssertionError(f"server {name} has no store in self.data (a dict of key -> "
                             "value): keep the data there (the grader reads it)")
    return raft, data


@attrs.define
class Watch:
    """The service's invariants, checked after every event: exactly once, and replicas
    that applied the same prefix of the log hold the same data; with Raft's invariants.

    It reads only what changed: the trace events recorded since its last call (Raft's
    apply and restore notes), and the servers whose ``last_applied`` moved.
    """

    servers: tuple[str, ...]
    position: int = 0
    #: value -> the log indexes of committed commands that carry it
    committed: dict[str, list[int]] = attrs.field(factory=dict)
    #: server -> (the node object, its last_applied) when last checked
    seen: dict[str, tuple[Any, int]] = attrs.field(factory=dict)
    #: log index -> (server, time, data) of the first server seen holding it applied
    states: dict[int, tuple[str, float, tuple[tuple[str, Any], ...]]] = attrs.field(
        factory=dict)
    #: server -> (time, index) of its latest snapshot restore
    restored: dict[str, tuple[float, int]] = attrs.field(factory=dict)
    raft_state: tuple[Any, ...] = ()

    def __call__(self, sim: Simulation) -> None:
        self.read_trace(sim)
        signature = []
        for name, node in sorted(sim.nodes.items()):
            raft, data = _server_parts(name, node)
            signature.append((name, node, raft.current_term, raft.role,
                              raft.last_log_index, raft.commit_index, raft.last_applied,
                              raft.snapshot_index))
            before = self.seen.get(name)
            if before is not None and before[0] is node and before[1] == raft.last_applied:
                continue
            self.seen[name] = (node, raft.last_applied)
            self.exactly_once(sim, name, raft.last_applied, data)
            self.agree(sim, name, raft.last_applied, data)
        state = tuple(signature)
        if state != self.raft_state:  # some server's Raft state changed: check it
            self.raft_state = state
            for invariant in invariants():
                try:
                    invariant(sim)
                except AssertionError as exc:
                    raise AssertionError(
                        f"Raft's invariant {invariant.__name__} failed: {exc}. The service "
                        "must use Raft only through its interface (start, snapshot, "
                        "log_bytes, is_leader, leader) and never change its fields.") from None

    def read_trace(self, sim: Simulation) -> None:
        trace = sim.trace
        while self.position < len(trace):
            event = trace[self.position]
            self.position += 1
            if event.kind != "note":
                continue
            what = event.data.get("event")
            if what == "apply" and event.data.get("command") is not None:
                index = event.data["index"]
                for value in VALUE.findall(json.dumps(event.data["command"])):
                    indexes = self.committed.setdefault(value, [])
                    if index not in indexes:
                        indexes.append(index)
            elif what == "restore":
                self.restored[event.node] = (event.time, event.data["index"])

    def exactly_once(self, sim: Simulation, name: str, index: int, data: dict[str, Any]
                     ) -> None:
        for key, value in sorted(data.items()):
            if not isinstance(value, str):
                raise AssertionError(f"{name} holds {value!r} in key {key!r}: values are "
                                     "strings")
            twice = [v for v, n in Counter(VALUE.findall(value)).items() if n > 1]
            if not twice:
                continue
            value_twice = twice[0]
            client = value_twice.split(".")[0]
            said = (f"after applying the log through index {index}, {name} holds "
                    f"{value_twice!r} twice in key {key} ({value!r}): {client}'s write "
                    f"{value_twice!r} was applied twice.")
            indexes = self.committed.get(value_twice, [])
            if len(indexes) > 1:
                said += (f" The log carries it at indexes {', '.join(map(str, indexes))}: "
                         "the same request was proposed more than once (a retry, a copy made "
                         "by the network, a retry sent to another leader), which is fine; "
                         "but every copy after the first must be recognised as a duplicate "
                         "when it is *applied*, on every server: apply looks the client up "
                         "in the session table (client -> number of its latest operation) "
                         "and skips numbers it has seen.")
            restore = self.restored.get(name)
            if restore is not None:
                said += (f" {name} restored a snapshot of index {restore[1]} at "
                         f"t={restore[0]:.6f}: is the session table in the snapshot, and "
                         "restored with the data? Without it, a duplicate applied after the "
                         "restore is not recognised.")
            raise AssertionError(said)

    def agree(self, sim: Simulation, name: str, index: int, data: dict[str, Any]) -> None:
        items = tuple(sorted(data.items()))
        first = self.states.get(index)
        if first is None:
            self.states[index] = (name, sim.now, items)
            return
        if first[2] == items:
            return
        other, when, theirs = first
        mine, seen = dict(items), dict(theirs)
        key = next(k for k in sorted(set(mine) | set(seen)) if mine.get(k) != seen.get(k))
        said = (f"{other} (at t={when:.6f}) and {name} (now) both applied the log through "
                f"index {index}, but hold different data: key {key} is "
                f"{seen.get(key, '')!r} on {other} and {mine.get(key, '')!r} on {name}. A "
                "server's state must depend only on the log prefix it applied.")
        restore = self.restored.get(name)
        if restore is not None and restore[1] == index and abs(restore[0] - sim.now) < 1e-9:
            said += (f" {name} has just restored a snapshot of index {index}: the snapshot "
                     "holds another state than the one the others had there. Is it taken "
                     "at the index of the state it holds (the index given to apply, after "
                     "applying it)? Does restore replace the whole state (data and "
                     "sessions), whatever the server held before? Is the state set up in "
                     "__init__, not in on_start (Raft's on_start restores the snapshot "
                     "first, then the node's on_start runs)?")
        elif restore is not None:
            said += (f" {name} restored a snapshot of index {restore[1]} at "
                     f"t={restore[0]:.6f}, and has applied entries since: does the snapshot "
                     "hold the session table (without it, a duplicate after the snapshot is "
                     "applied again here, and skipped elsewhere)? Does restore replace the "
                     "whole state? Is the snapshot taken at the index of the state it holds? "
                     "Is the state set up in __init__ (Raft restores into it before the "
                     "node's on_start runs)?")
        else:
            said += " Is every change to the data made in apply, by committed commands only?"
        raise AssertionError(said)


# ----- building a run ------------------------------------------------------------------------


@attrs.define
class Run:
    """The system under test and what the grader watches."""

    sim: Simulation
    servers: tuple[str, ...]
    clients: tuple[str, ...]
    total_ops: int
    watch: Watch
    max_raft_state: int | None = None


def build(trial: Trial, network: Network | None = None, *, servers: tuple[str, ...] = FIVE,
          clients: int = 3, ops: int = 15, keys: Sequence[str] = ("x", "y", "z"),
          think: tuple[float, float] = (0.0, 0.02), max_raft_state: int | None = None,
          puts: float = 0.15, **raft_options: Any) -> Run:
    """``servers`` built as ``KVServer(max_raft_state, **raft_options)``, ``clients``
    clients of ``ops`` operations each, and the invariants installed."""
    sim = trial.simulation(network=network or Network())
    impl = trial.impl
    # Fewer clients still make a history to judge: `dsys shrink` may try fewer.
    clients = sized("clients", clients, minimum=1)
    for name in servers:
        sim.add_node(name, lambda: impl.KVServer(max_raft_state, **raft_options))
    names = tuple(f"c{i}" for i in range(1, clients + 1))
    for name in names:
        sim.add_client(name, impl.KVClient, workload=workload(name, keys, puts=puts),
                       ops=ops, think=think)
    watch = Watch(servers)
    sim.add_invariant(watch, "exactly once, replicas agree, Raft's invariants")
    return Run(sim, servers, names, clients * ops, watch, max_raft_state)


def leader(sim: Simulation) -> str | None:
    """The running server that leads the highest term, if any."""
    leaders = [(node.raft.current_term, name) for name, node in sim.nodes.items()  # type: ignore[attr-defined]
               if node.raft.is_leader]  # type: ignore[attr-defined]
    return max(leaders)[1] if leaders else None


def crash_and_restart(trial: Trial, run: Run, *, start: float, until: float,
                      max_down: int | None = None) -> None:
    """From ``start`` to ``until``, again and again: crash a server (the leader, more often
    than not), losing every write it had not synced, and restart it a while later."""
    sim, rng = run.sim, trial.rng
    limit = max_down if max_down is not None else (len(run.servers) - 1) // 2
    when = start

    def crash() -> None:
        up = [s for s in run.servers if sim.is_up(s)]
        if len(run.servers) - len(up) >= limit:
            return
        chief = leader(sim)
        victim = chief if chief is not None and rng.random() < 0.6 else rng.choice(up)
        sim.crash(victim, unsynced="lost")
        sim.after(rng.uniform(0.2, 0.8), sim.restart, victim)

    while True:
        when += rng.uniform(0.3, 0.9)
        if when >= until:
            return
        sim.at(when, crash)


def crash_everyone(trial: Trial, run: Run, *, start: float, until: float) -> None:
    """From ``start`` to ``until``, now and then: crash every server at once (losing every
    unsynced write) and restart them all a moment later: they come back from storage."""
    sim, rng = run.sim, trial.rng
    when = start
    while True:
        when += rng.uniform(0.4, 1.0)
        if when >= until:
            return
        for server in run.servers:
            sim.at(when, sim.crash, server, unsynced="lost")
            sim.at(when + rng.uniform(0.05, 0.3), sim.restart, server)


def cut_leader_off(trial: Trial, run: Run, *, start: float, until: float) -> None:
    """From ``start`` to ``until``, again and again: cut the leader (with at most one
    follower) off from the other servers, together with some clients that can then reach
    only that minority; the other clients still reach everyone. Heal a while later."""
    sim, rng = run.sim, trial.rng
    when = start

    def cut() -> None:
        chief = leader(sim) or rng.choice(run.servers)
        others = [s for s in run.servers if s != chief]
        minority = [chief, *rng.sample(others, rng.randint(0, (len(run.servers) - 1) // 2
                                                           - 1))]
        stuck = rng.sample(run.clients, rng.randint(1, max(1, len(run.clients) // 2)))
        sim.partition(sorted(minority) + sorted(stuck),
                      [s for s in run.servers if s not in minority])

    while True:
        when += rng.uniform(0.2, 0.5)
        length = rng.uniform(0.4, 1.2)
        if when + length >= until:
            return
        sim.at(when, cut)
        when += length
        sim.at(when, sim.heal)


def partition_randomly(trial: Trial, run: Run, *, start: float, until: float) -> None:
    """From ``start`` to ``until``: split servers and clients into two random groups, heal,
    again and again."""
    sim, rng = run.sim, trial.rng
    when = start
    while True:
        when += rng.uniform(0.1, 0.4)
        length = rng.uniform(0.3, 1.0)
        if when + length >= until:
            return
        everyone = list(run.servers) + list(run.clients)
        rng.shuffle(everyone)
        cut = rng.randint(1, len(everyone) - 1)
        sim.at(when, sim.partition, sorted(everyone[:cut]), sorted(everyone[cut:]))
        when += length
        sim.at(when, sim.heal)


# ----- judging a run -------------------------------------------------------------------------


@attrs.define
class Op:
    """One operation of the history: its invoke, and its completion if any."""

    client: str
    f: str
    key: Any
    value: Any
    invoked: float
    status: str | None = None  # ok, fail, info; None while pending
    output: Any = None
    completed: float | None = None

    def describe(self) -> str:
        what = f"{self.client}'s {self.f} {self.key}"
        return what if self.f == "get" else f"{what} {self.value!r}"


def operations(history: Sequence[dict[str, Any]]) -> list[Op]:
    """The operations of a history, in invoke order."""
    ops: list[Op] = []
    open_ops: dict[Any, Op] = {}
    for event in history:
        if event["type"] == "invoke":
            op = Op(event["client"], event["f"], event.get("key"), event["value"], event["time"])
            open_ops[event["process"]] = op
            ops.append(op)
        else:
            op = open_ops.pop(event["process"])
            op.status, op.output, op.completed = event["type"], event["value"], event["time"]
    return ops


def finish(trial: Trial, run: Run, *, faults_end: float = 0.0) -> None:
    """Run until every client has finished its workload (failing if that takes more than
    ``LIVENESS_TIMEOUT`` after ``faults_end``), then judge the run."""
    sim = run.sim
    if sim.now < faults_end:
        trial.run(sim, faults_end)
    deadline = faults_end + LIVENESS_TIMEOUT

    def done(s: Simulation) -> bool:
        return len(s.history) >= 2 * run.total_ops

    if not trial.run_until(sim, done, timeout=max(0.0, deadline - sim.now)):
        stuck(trial, run, faults_end, deadline)
    ops = operations(sim.history)
    after_faults(trial, run, ops, faults_end)
    committed_writes(trial, run, ops)
    check_history(trial, run)


def stuck(trial: Trial, run: Run, faults_end: float, deadline: float) -> None:
    """The liveness failure: who is stuck, and what they were doing."""
    sim = run.sim
    ops = operations(sim.history)
    pending = [op for op in ops if op.status is None]
    when = f"the faults stopped at t={faults_end:g} s, yet " if faults_end else ""
    if not pending:
        raise AssertionError(
            f"{when}by t={deadline:g} s the clients had started only {len(ops)} of "
            f"{run.total_ops} operations: does every operation end (ok) when its answer "
            "comes?")
    op = pending[0]
    start = max(op.invoked, sim.now - STUCK_WINDOW)
    trial.focus(start=start, nodes=[op.client], kinds=["send", "recv", "timer_fire"])
    sent: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    for event in sim.trace.filter(nodes=[op.client], start=start):
        if event.kind == "send":
            sent[str(event.data.get("to"))] += 1
        elif event.kind in ARRIVALS:
            answers[str(event.data.get("from"))] += 1
    servers = []
    for name in run.servers:
        node = sim.node(name)
        if node is None:
            servers.append(f"{name} down")
        else:
            raft = node.raft  # type: ignore[attr-defined]
            servers.append(f"{name} {raft.role} of term {raft.current_term}")
    to = ", ".join(f"{count} to {dst}" for dst, count in sorted(sent.items())) or "nothing"
    got = ", ".join(f"{count} from {src}" for src, count in sorted(answers.items())) or "none"
    if not sent:
        hint = ("It sent nothing: does it retry (a timer) while no answer comes?")
    elif len(sent) == 1 and sum(answers.values()) == 0:
        hint = ("It kept asking one server, which never answered: when no answer comes "
                "within RETRY_TIMEOUT, try another server (the leader may be down or cut off).")
    elif len(sent) == 1:
        hint = ("It kept asking one server: when a server says it is not the leader (and "
                "names none), try the next one.")
    else:
        hint = ("Servers answered, yet the operation never completed: does the leader "
                "answer once the command is applied, and does the client take the answer "
                "that carries its operation's number?")
    raise AssertionError(
        f"{when}by t={deadline:g} s {len(pending)} operation(s) had not completed; the first: "
        f"{op.describe()}, invoked at t={op.invoked:.3f}. In the last {sim.now - start:.1f} s "
        f"{op.client} sent {sum(sent.values())} message(s) ({to}) and got {got}. The servers "
        f"now: {', '.join(servers)}. {hint}")


def after_faults(trial: Trial, run: Run, ops: Sequence[Op], faults_end: float) -> None:
    """Operations invoked once the faults stopped complete ok (the service is up)."""
    for op in ops:
        if op.invoked >= faults_end and op.status != "ok":
            assert op.completed is not None
            trial.focus(start=op.invoked, end=op.completed, nodes=[op.client])
            raise AssertionError(
                f"{op.describe()} was invoked at t={op.invoked:.3f}, after the faults "
                f"stopped (t={faults_end:g}), and ended with {op.status} at "
                f"t={op.completed:.3f}: with a majority of servers up and connected, the "
                "client must keep trying (other servers) until the operation succeeds.")


def committed_writes(trial: Trial, run: Run, ops: Sequence[Op]) -> None:
    """A put or append that completed ok is carried by a committed log entry."""
    for op in ops:
        if op.f not in WRITES or op.status != "ok" or op.value in run.watch.committed:
            continue
        assert op.completed is not None
        answered = answerer(run.sim, op.client, op.completed)
        trial.focus(start=op.invoked, end=op.completed)
        raise AssertionError(
            f"{op.describe()} completed ok at t={op.completed:.6f} (answered by "
            f"{answered}), but no committed log entry ever carried it: it was never applied. "
            "Did the server answer before Raft committed the command, or take the command "
            "another leader committed at the same index for this one? Answer once the "
            "command is applied, and only if the command applied at that index is this "
            "request (same client, same number).\n"
            + story(run.sim, op.client, op.invoked, op.completed))


def answerer(sim: Simulation, client: str, when: float) -> str:
    """The node whose message the client received last, at or before ``when``."""
    found = "?"
    for event in sim.trace.filter(nodes=[client], end=when):
        if event.kind in ARRIVALS:
            found = str(event.data.get("from"))
    return found


def network_then(sim: Simulation, when: float) -> str:
    """``; the network was cut ...`` if a partition was in force at ``when``."""
    latest = None
    for event in sim.trace.filter(kinds=["partition", "heal"], end=when):
        latest = event
    if latest is None or latest.kind != "partition":
        return ""
    groups = " | ".join(" ".join(group) for group in latest.data.get("groups", []))
    return (f"; the network had been partitioned since t={latest.time:.6f} into the groups "
            f"{groups} (clients not named reach everyone)")


def story(sim: Simulation, client: str, start: float, end: float | None) -> str:
    """What happened to ``client`` from ``start`` to ``end``, as trace lines: its sends and
    arrivals, partitions, crashes and restarts (the beginning and the end, if long)."""
    def involves(event: TraceEvent) -> bool:
        if event.node == client:
            return event.kind not in ("timer_set", "timer_cancel")
        return event.kind in ("partition", "heal", "crash", "restart")

    events = [e for e in sim.trace.filter(start=start, end=end) if involves(e)]
    head = f"what happened to {client} from t={start:.6f}:"
    if len(events) <= STORY_EVENTS:
        return head + "\n" + format_events(events)
    first, last = STORY_EVENTS // 2, STORY_EVENTS - STORY_EVENTS // 2
    skipped = len(events) - first - last
    return "\n".join([head, format_events(events[:first]),
                      f"  ... {skipped} more events (see the full trace) ...",
                      format_events(events[-last:])])


def check_history(trial: Trial, run: Run) -> None:
    """The history is linearizable for a key-value store; the failure explains why not."""
    sim = run.sim
    result = check_linearizable(sim.history, "kv", max_steps=CHECK_BUDGET)
    if result.verdict is Verdict.LINEARIZABLE:
        return
    if result.verdict is Verdict.UNKNOWN:
        raise AssertionError(
            "the linearizability checker could not decide within its budget of "
            f"{CHECK_BUDGET} steps: did many operations end without an answer (info)?")
    failure = result.failure
    assert failure is not None
    blocked = failure.blocked_by
    clients = {e["process"]: e["client"] for e in sim.history}
    legend = ", ".join(f"p{p} is {c}" for p, c in sorted(clients.items()))
    lines = [
        "the history is not linearizable: no order of the operations, each placed between "
        "its invoke and its completion, explains what the clients saw.",
        result.explain(),
        f"(processes: {legend})",
    ]
    if blocked is not None and blocked.complete_time is not None:
        client = clients.get(blocked.process, "?")
        start, end = blocked.invoke_time, blocked.complete_time
        who = answerer(sim, client, end)
        lines.append(f"{client}'s operation that could not go next was answered by {who} at "
                     f"t={end:.6f}{network_then(sim, end)}.")
        trial.focus(start=start, end=end)
        lines.append(story(sim, client, start, end))
    lines.append(
        "Is every operation, gets included, answered only once its command is committed and "
        "applied, with the result of that very command? A server that believes it leads "
        "may have been replaced without knowing it: it must not answer from its own state.")
    raise AssertionError("\n".join(lines))


def log_sizes(run: Run, bound: int) -> None:
    """Every running server's Raft log holds at most ``bound`` characters."""
    for name, node in sorted(run.sim.nodes.items()):
        size = node.raft.log_bytes()  # type: ignore[attr-defined]
        assert size <= bound, (
            f"at t={run.sim.now:.3f}, {name}'s Raft log holds {size} characters "
            f"(raft.log_bytes()); max_raft_state is {run.max_raft_state} and the grader allows "
            f"{bound}. After applying a command, if raft.log_bytes() > max_raft_state, hand "
            "Raft a snapshot of the state through that index: raft.snapshot(index, state).")


# ----- the graded tests ----------------------------------------------------------------------


@graded(points=6, runs=5)
def basic(trial: Trial) -> None:
    """One client, five servers, a network that loses nothing: every operation completes."""
    run = build(trial, clients=1, ops=30)
    finish(trial, run)


@graded(points=8, runs=6)
def concurrent_clients(trial: Trial) -> None:
    """Five clients at once on three keys: their operations are linearizable."""
    run = build(trial, clients=5, ops=12)
    finish(trial, run)


@graded(points=12, runs=10)
def unreliable_network(trial: Trial) -> None:
    """Lost, copied and late messages: retries and copies are applied exactly once."""
    network = Network(drop=0.1, duplicate=0.1, reorder=0.3, reorder_delay=0.1)
    run = build(trial, network, servers=THREE, clients=5, ops=12)
    finish(trial, run)


@graded(points=12, runs=8)
def crashes(trial: Trial) -> None:
    """Servers crash (losing unsynced writes) and restart; the first crashed leader stays down."""
    run = build(trial, clients=4, ops=15, think=(0.02, 0.08))
    sim = run.sim
    first = trial.rng.uniform(0.3, 0.6)
    down: list[str] = []

    def crash_the_leader_for_good() -> None:
        chief = leader(sim) or "s1"
        down.append(chief)
        sim.crash(chief, unsynced="lost")

    sim.at(first, crash_the_leader_for_good)
    calm = 3.0
    crash_and_restart(trial, run, start=first, until=calm, max_down=2)
    finish(trial, run, faults_end=calm)


@graded(points=14, runs=8)
def partitions(trial: Trial) -> None:
    """The leader is cut off with some clients, again and again: no wrong answer, then progress."""
    run = build(trial, clients=4, ops=15, think=(0.02, 0.08))
    calm = 4.0
    cut_leader_off(trial, run, start=0.3, until=calm)
    finish(trial, run, faults_end=calm)


@graded(points=10, runs=6)
def deposed_leader_reads(trial: Trial) -> None:
    """A leader cut off from the servers, not from clients, never answers a stale get."""
    # Without check-quorum, a leader cut off from the others keeps believing it leads.
    sim = trial.simulation()
    impl = trial.impl
    for name in FIVE:
        sim.add_node(name, lambda: impl.KVServer(None, check_quorum=False))
    watch = Watch(FIVE)
    sim.add_invariant(watch, "exactly once, replicas agree, Raft's invariants")
    # c1 writes before the cut; c2 (with the majority) overwrites; c3 (with the old leader)
    # reads after that.
    sim.add_client("c1", impl.KVClient, workload=script(
        [{"f": "put", "key": "x", "value": "c1.1;"}, {"f": "get", "key": "x", "value": None}]),
        ops=2)
    assert trial.run_until(sim, lambda s: len(s.history) >= 4, timeout=5.0), (
        "the first put and get did not complete within 5 s on a calm network")
    old = leader(sim)
    assert old is not None
    rest = [s for s in FIVE if s != old]
    cut = sim.now + trial.rng.uniform(0.01, 0.1)
    heal = cut + 3.0
    sim.add_client("c2", impl.KVClient, start=cut + 0.01, ops=3, workload=script(
        [{"f": "put", "key": "x", "value": f"c2.{i};"} for i in (1, 2, 3)]))
    sim.add_client("c3", impl.KVClient, start=cut + 1.5, ops=3, think=(0.01, 0.1),
                   workload=script([{"f": "get", "key": "x", "value": None}] * 3))
    sim.at(cut, sim.partition, [old, "c3"], [*rest, "c2"])
    sim.at(heal, sim.heal)
    run = Run(sim, FIVE, ("c1", "c2", "c3"), 8, watch)
    finish(trial, run, faults_end=heal)


@graded(points=8, runs=5)
def snapshot_size(trial: Trial) -> None:
    """Raft's log stays under max_raft_state: the service snapshots, and snapshots stay small."""
    # Gets and puts only (as MIT's test): the data stays small, so must the snapshots.
    run = build(trial, servers=THREE, clients=1, ops=120, keys=("x", "y"),
                max_raft_state=MAX_RAFT_STATE, puts=0.65)
    bound = LOG_SLACK_FACTOR * MAX_RAFT_STATE
    run.sim.add_invariant(lambda sim: log_sizes(run, bound), "Raft's log stays small")
    finish(trial, run)
    trial.run(run.sim, run.sim.now + 0.5)  # every server applies the last entries
    log_sizes(run, MAX_RAFT_STATE + LOG_SLACK_END)
    for name, node in sorted(run.sim.nodes.items()):
        raft = node.raft  # type: ignore[attr-defined]
        size = len(json.dumps(raft.snapshot_data))
        assert raft.snapshot_index > 0, f"{name} never took a snapshot"
        assert size <= SNAPSHOT_LIMIT, (
            f"{name}'s latest snapshot (index {raft.snapshot_index}) holds {size} characters "
            f"of JSON, where the data and one session entry per client need far fewer (the "
            f"grader allows {SNAPSHOT_LIMIT}): a snapshot holds the state, not its history "
            f"(keep only each client's latest operation). It begins: "
            f"{json.dumps(raft.snapshot_data)[:200]}")


@graded(points=12, runs=8)
def restart_from_snapshots(trial: Trial) -> None:
    """Every server crashes at once, again and again, and restarts from its snapshot: no
    retry is applied twice."""
    network = Network(drop=0.1, duplicate=0.2, reorder=0.3, reorder_delay=0.1)
    run = build(trial, network, servers=THREE, clients=4, ops=15, max_raft_state=500,
                think=(0.01, 0.05))
    calm = 3.0
    crash_everyone(trial, run, start=0.2, until=calm)
    finish(trial, run, faults_end=calm)


@graded(points=6, runs=6)
def lagging_follower(trial: Trial) -> None:
    """A follower cut off while the leader snapshots catches up from the leader's snapshot."""
    run = build(trial, clients=3, ops=20, max_raft_state=500, think=(0.01, 0.04))
    sim, rng = run.sim, trial.rng
    when = 0.3
    for _ in range(2):
        def cut() -> None:
            chief = leader(sim)
            followers = [s for s in run.servers if s != chief]
            sim.isolate(rng.choice(followers))

        sim.at(when, cut)
        when += rng.uniform(0.6, 1.0)
        sim.at(when, sim.heal)
        when += rng.uniform(0.3, 0.5)
    finish(trial, run, faults_end=when)


@graded(points=12, runs=8)
def everything_at_once(trial: Trial) -> None:
    """Loss, copies, partitions, crashes and snapshots together, then a calm network."""
    network = Network(drop=0.05, duplicate=0.1, reorder=0.2, reorder_delay=0.1)
    run = build(trial, network, clients=4, ops=15, max_raft_state=800, think=(0.01, 0.06))
    calm = 4.0
    partition_randomly(trial, run, start=0.2, until=calm)
    crash_and_restart(trial, run, start=0.4, until=calm)
    run.sim.at(calm, network.update, drop=0.0, duplicate=0.0, reorder=0.0)
    finish(trial, run, faults_end=calm)

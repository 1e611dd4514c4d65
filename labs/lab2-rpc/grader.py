"""Grader of lab 2: RPC semantics, an at-most-once key-value store.

Every test builds the same system: one ``KVServer`` (node ``server``) and several
``KVClient`` nodes (``c1``, ``c2``...), each running a workload of gets, puts and appends
on a few keys. Every put and append writes a value no other operation writes (such as
``'c2.7;'``: client c2's 7th operation), so the grader can tell operations apart. The
system is put on a hostile network, and judged by three kinds of checks:

Safety, after *every* event: no put or append is applied twice. The server's ``apply``
notes every operation it executes in the trace (``note("apply", client=..., request=...,
...)``); the grader reads those notes as they appear.

At the end of the run:

* the history is *linearizable* for a key-value store (``dsys.check``, model ``"kv"``):
  some order of the operations, each placed between its invoke and its completion,
  explains every result the clients saw. An operation that timed out (``info``) may have
  taken effect, or not, at any time after its invoke;
* the clients' reports match what the server did: a put or append reported ``ok`` was
  applied (exactly once), one reported ``fail`` was not applied at all;
* liveness: once the faults stop, every client finishes its workload within
  ``LIVENESS_TIMEOUT`` virtual seconds, and operations on a calm network do not time out.

Each test runs over many seeds; a seed fixes every choice of the network, the faults and
the workloads, so a failing seed replays exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from random import Random
from typing import Any

import attrs

from dsys import Network, Simulation, TraceEvent
from dsys.check import Verdict, check_linearizable
from dsys.labs import Trial, graded
from dsys.trace.events import format_events

SERVER = "server"

#: Virtual seconds the system gets, after the last fault, to finish every workload.
LIVENESS_TIMEOUT = 30.0

#: The linearizability checker's budget, in search steps, not seconds: the verdict must not
#: depend on how fast the grading machine is, or a failure would not replay.
CHECK_BUDGET = 500 * 1024

#: The fraction of operations that may end without a reply (info) on a lossy network
#: with no partition: a client that retransmits, however slowly, gets almost all through.
MAY_TIME_OUT = 0.1

#: How many of the server's recent applications a linearizability failure lists.
APPLIED_SHOWN = 8

#: How many trace events a failure shows of what happened to one operation.
STORY_EVENTS = 16

WRITES = ("put", "append")


# ----- workloads -----------------------------------------------------------------------------


def workload(client: str, keys: Sequence[str], *, gets: float = 0.4,
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


# ----- watching the server -------------------------------------------------------------------


@attrs.define
class Application:
    """One execution of an operation by the server, as its ``apply`` noted it."""

    time: float
    client: Any
    request: Any
    f: str
    key: Any
    value: Any

    def describe(self) -> str:
        what = f"{self.f} {self.key}" + ("" if self.f == "get" else f" {self.value!r}")
        return f"t={self.time:.6f} {what} (client {self.client}, request {self.request!r})"


@attrs.define
class AppliedOnce:
    """The invariant "no put or append is applied twice", read from the server's notes.

    It reads only the trace events recorded since its last call, so checking it after every
    event costs little. ``applied`` maps each value written to its applications.
    """

    position: int = 0
    applied: dict[str, list[Application]] = attrs.field(factory=dict)
    history: list[Application] = attrs.field(factory=list)
    # The highest request id applied so far, by client (when ids are numbers).
    highest: dict[Any, int] = attrs.field(factory=dict)

    def __call__(self, sim: Simulation) -> None:
        trace = sim.trace
        while self.position < len(trace):
            event = trace[self.position]
            self.position += 1
            if event.kind != "note" or event.node != SERVER or event.data.get("event") != "apply":
                continue
            data = event.data
            app = Application(event.time, data.get("client"), data.get("request"),
                              str(data.get("f")), data.get("key"), data.get("value"))
            self.history.append(app)
            if app.f in WRITES:
                earlier = self.applied.setdefault(str(app.value), [])
                earlier.append(app)
                if len(earlier) > 1:
                    raise AssertionError(self.twice(earlier[0], app) + "\n"
                                         + story(sim, str(app.client), earlier[0].time, sim.now))
            highest = self.highest.get(app.client)
            if isinstance(app.request, int) and (highest is None or app.request > highest):
                self.highest[app.client] = app.request

    def twice(self, first: Application, again: Application) -> str:
        """Why ``again`` should not have happened, in words."""
        said = (f"{again.f} {again.key} {again.value!r} was applied twice: first at "
                f"t={first.time:.6f} as request {first.request!r} of {first.client}, again at "
                f"t={again.time:.6f} as request {again.request!r} of {again.client}. ")
        if first.request is None or again.request is None:
            return said + ("The requests carry no request id (apply was given None), so the "
                           "server cannot tell a retry from a new request: number them (step 1).")
        if first.request != again.request:
            return said + ("The second execution carried another request id: a retransmission "
                           "must carry the id of the request it repeats, or the server cannot "
                           "recognise it.")
        highest = self.highest.get(again.client)
        if isinstance(again.request, int) and highest is not None and highest > again.request:
            return said + (f"By then the server had executed request {highest} of "
                           f"{again.client}: this was a late copy, held up in the network, of a "
                           "request the client had finished with. Ignore such copies (step 4).")
        return said + ("The second was a retry, or a copy made by the network, of a request "
                       "already executed: answer it from the duplicate table, with the reply "
                       "sent the first time, without executing it again (step 3).")


# ----- building a run ------------------------------------------------------------------------


@attrs.define
class Run:
    """The system under test and what the grader watches."""

    sim: Simulation
    clients: tuple[str, ...]
    total_ops: int
    watch: AppliedOnce


def build(trial: Trial, network: Network, *, clients: int, ops: int,
          keys: Sequence[str] = ("x", "y", "z"), think: tuple[float, float] = (0.0, 0.02)
          ) -> Run:
    """A server and ``clients`` clients of ``ops`` operations each, with the safety
    invariant installed."""
    sim = trial.simulation(network=network)
    impl = trial.impl
    sim.add_node(SERVER, impl.KVServer)
    names = tuple(f"c{i}" for i in range(1, clients + 1))
    for name in names:
        sim.add_client(name, lambda: impl.KVClient(SERVER), workload=workload(name, keys),
                       ops=ops, think=think)
    watch = AppliedOnce()
    sim.add_invariant(watch, "no put or append is applied twice")
    return Run(sim, names, clients * ops, watch)


def cut_clients_off(trial: Trial, run: Run, *, until: float,
                    gap: tuple[float, float] = (0.05, 0.4),
                    length: tuple[float, float] = (0.1, 1.6)) -> None:
    """Until virtual time ``until``, again and again: cut some clients off from the server
    for a while, in both directions, or only the replies, or only the requests. Some cuts
    outlast a client's patience (``OP_TIMEOUT``), so some operations time out."""
    sim, rng = run.sim, trial.rng
    start = 0.0
    while True:
        start += rng.uniform(*gap)
        end = min(start + rng.uniform(*length), until)
        if start >= until:
            return
        victims = sorted(rng.sample(run.clients, rng.randint(1, len(run.clients))))
        kind = rng.choice(("both", "replies", "requests"))
        if kind == "both":
            sim.at(start, sim.partition, victims, [SERVER])
        else:
            for client in victims:
                src, dst = (SERVER, client) if kind == "replies" else (client, SERVER)
                sim.at(start, sim.block, src, dst)
        sim.at(end, sim.heal)
        start = end


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


def _done(run: Run) -> bool:
    # Each operation adds an invoke and a completion to the history.
    return len(run.sim.history) >= 2 * run.total_ops


def finish(trial: Trial, run: Run, *, why: str, faults_end: float = 0.0,
           allowed: float = 0.0) -> None:
    """Run until every client has finished its workload (failing if that takes more than
    ``LIVENESS_TIMEOUT`` after ``faults_end``), then judge the run: the clients' reports,
    their timeouts (see :func:`few_timeouts`; ``why`` says what the network was like after
    ``faults_end``), and the history."""
    sim = run.sim
    if sim.now < faults_end:
        trial.run(sim, faults_end)
    deadline = faults_end + LIVENESS_TIMEOUT
    if not trial.run_until(sim, lambda _: _done(run), timeout=max(0.0, deadline - sim.now)):
        ops = operations(sim.history)
        pending = [op for op in ops if op.status is None]
        started = len(ops)
        when = f"the faults stopped at {faults_end:g} s, yet " if faults_end else ""
        stuck = "; ".join(f"{op.describe()} (invoked at t={op.invoked:.3f})" for op in pending)
        raise AssertionError(
            f"{when}by virtual time {deadline:g} s the clients had started only {started} of "
            f"{run.total_ops} operations, and these never completed: {stuck or '(none)'}. "
            "Does the client retransmit until the reply comes, and give up (info) after "
            "OP_TIMEOUT if it never does?"
        )
    ops = operations(sim.history)
    check_reports(run, ops)
    few_timeouts(ops, why=why, after=faults_end, allowed=allowed)
    check_history(run)


def check_reports(run: Run, ops: Sequence[Op]) -> None:
    """A put or append reported ok was applied; one reported fail was not."""
    for op in ops:
        if op.f not in WRITES:
            continue
        applied = run.watch.applied.get(str(op.value), [])
        if op.status == "ok" and not applied:
            raise AssertionError(
                f"{op.describe()} completed ok at t={op.completed:.6f}, but the server never "
                "applied it. The client took a reply that was not the reply to this request: "
                "a late reply to an earlier request? a reply the server made for another "
                "request with the same id (another client's, or an earlier one of this "
                "client)? Or it reported ok without any reply.\n"
                + story(run.sim, op.client, op.invoked, op.completed)
            )
        if op.status == "fail" and applied:
            raise AssertionError(
                f"{op.describe()} was reported as failed (fail) at t={op.completed:.6f}, but "
                f"the server had applied it at t={applied[0].time:.6f}. fail promises that "
                "an operation had no effect; a client that got no reply cannot know that: "
                "report info (outcome unknown).\n"
                + story(run.sim, op.client, op.invoked, op.completed)
            )


def story(sim: Simulation, client: str, start: float, end: float | None) -> str:
    """What happened between ``client`` and the server from ``start`` to ``end``, as trace
    lines: the beginning and the end, if it is long. (The failure's own excerpt shows the
    last events of the run, which may be about something else.)"""
    def involves(event: TraceEvent) -> bool:
        if event.node == client:
            return event.kind not in ("timer_set", "timer_cancel")
        if event.node == "":  # partitions, blocks and heals
            return True
        data = event.data
        return client in (data.get("to"), data.get("from"), data.get("client"))

    events = [e for e in sim.trace.filter(start=start, end=end) if involves(e)]
    head = f"what happened between {client} and the server from t={start:.6f}:"
    if len(events) <= STORY_EVENTS:
        return head + "\n" + format_events(events)
    first, last = STORY_EVENTS // 2, STORY_EVENTS - STORY_EVENTS // 2
    skipped = len(events) - first - last
    return "\n".join([head, format_events(events[:first]),
                      f"  ... {skipped} more events (see the full trace) ...",
                      format_events(events[-last:])])


def check_history(run: Run) -> None:
    """The history is linearizable for a key-value store; the failure explains why not."""
    result = check_linearizable(run.sim.history, "kv", max_steps=CHECK_BUDGET)
    if result.verdict is Verdict.LINEARIZABLE:
        return
    if result.verdict is Verdict.UNKNOWN:
        infos = sum(1 for e in run.sim.history if e["type"] == "info")
        raise AssertionError(
            f"the linearizability checker could not decide within its budget "
            f"({infos} operations timed out: each may have taken effect at any time, which "
            "multiplies the orders to try). Do operations time out needlessly?"
        )
    failure = result.failure
    assert failure is not None
    key, blocked = failure.key, failure.blocked_by
    until = blocked.complete_time if blocked is not None else None
    applied = [a for a in run.watch.history
               if (key is None or a.key == key) and (until is None or a.time <= until)]
    clients = {e["process"]: e["client"] for e in run.sim.history}
    legend = ", ".join(f"p{p} is {c}" for p, c in sorted(clients.items()))
    lines = [
        "the history is not linearizable: no order of the operations, each placed between its "
        "invoke and its completion, explains what the clients saw.",
        result.explain(),
        f"(processes: {legend}; after a timeout a client goes on as a new process)",
        f"the server's last applications{'' if key is None else f' on key {key}'}"
        f"{'' if until is None else f' up to t={until:.6f}'}:",
        *(f"  {a.describe()}" for a in applied[-APPLIED_SHOWN:]),
        "Does each operation complete with the reply to its own request, and is each request "
        "executed at most once?",
    ]
    raise AssertionError("\n".join(lines))


def few_timeouts(ops: Sequence[Op], *, why: str, after: float = 0.0,
                 allowed: float = 0.0) -> None:
    """Of the operations invoked at or after ``after``, at most the fraction ``allowed``
    ended without a reply (info)."""
    judged = [op for op in ops if op.invoked >= after]
    late = [op for op in judged if op.status != "ok"]
    if len(late) <= allowed * len(judged):
        return
    op = late[0]
    tolerated = f" (the grader tolerates {allowed:.0%})" if allowed else ""
    raise AssertionError(
        f"{len(late)} of {len(judged)} operations invoked {why} ended without a reply{tolerated}; "
        f"the first: {op.describe()}, invoked at t={op.invoked:.3f}, ended with {op.status} at "
        f"t={op.completed:.3f}. With a retransmission every few tens of milliseconds, a request "
        "and its reply get through long before the client gives up: does the client "
        "retransmit, again and again, with the same request id, and does the server answer "
        "every retry?"
    )


def _table_size(server: Any) -> int:
    table = getattr(server, "replies", None)
    if table is None or not hasattr(table, "__len__"):
        raise AssertionError(
            "KVServer has no duplicate table in self.replies (a dict): keep the table there, "
            "the grader measures it"
        )
    return len(table)


def _server(sim: Simulation) -> Any:
    return sim.node(SERVER)


def _calm(network: Network) -> Callable[[], None]:
    return lambda: network.update(drop=0.0, duplicate=0.0, reorder=0.0)


# ----- the graded tests ----------------------------------------------------------------------


@graded(points=10, runs=10)
def perfect_network(trial: Trial) -> None:
    """Three clients' operations are linearizable when the network loses nothing."""
    run = build(trial, Network(), clients=3, ops=15)
    finish(trial, run, why="on a network that loses nothing")


@graded(points=15, runs=40)
def lossy_network(trial: Trial) -> None:
    """With 30% of messages lost, retried operations apply once, and few time out."""
    run = build(trial, Network(drop=0.3), clients=4, ops=15)
    finish(trial, run, why="on a network that loses 30% of messages", allowed=MAY_TIME_OUT)


@graded(points=15, runs=40)
def duplicates_and_reordering(trial: Trial) -> None:
    """Copies and late requests and replies are never applied twice or taken as answers."""
    network = Network(duplicate=0.3, reorder=0.5, reorder_delay=0.2)
    run = build(trial, network, clients=4, ops=15)
    finish(trial, run, why="on a network that duplicates and delays messages but loses none")


@graded(points=15, runs=30)
def concurrent_clients(trial: Trial) -> None:
    """Eight clients at once, on two keys: their requests are never mistaken for each other."""
    network = Network(drop=0.15, duplicate=0.15, reorder=0.2, reorder_delay=0.05)
    run = build(trial, network, clients=8, ops=10, keys=("x", "y"))
    finish(trial, run, why="with no partition", allowed=MAY_TIME_OUT)


@graded(points=15, runs=60)
def partitions(trial: Trial) -> None:
    """Clients cut off for longer than they wait: timeouts are info, and all ends well."""
    run = build(trial, Network(), clients=4, ops=20, think=(0.02, 0.15))
    calm = 2.0
    cut_clients_off(trial, run, until=calm)
    finish(trial, run, why="after the faults stopped", faults_end=calm)


@graded(points=20, runs=80)
def everything_at_once(trial: Trial) -> None:
    """Loss, copies, reordering and cut-off clients together, then a calm network."""
    network = Network(drop=0.2, duplicate=0.2, reorder=0.3, reorder_delay=0.15)
    run = build(trial, network, clients=5, ops=20, think=(0.02, 0.15))
    calm = 2.5
    cut_clients_off(trial, run, until=calm)
    run.sim.at(calm, _calm(network))
    finish(trial, run, why="after the faults stopped", faults_end=calm)


@graded(points=10, runs=10)
def bounded_table(trial: Trial) -> None:
    """The duplicate table keeps no more than one reply per client."""
    network = Network(drop=0.1, duplicate=0.1, reorder=0.2, reorder_delay=0.1)
    run = build(trial, network, clients=3, ops=40, think=(0.0, 0.01))
    finish(trial, run, why="with no partition", allowed=MAY_TIME_OUT)
    size = _table_size(_server(run.sim))
    assert size <= len(run.clients), (
        f"after {run.total_ops} operations of {len(run.clients)} clients the duplicate table "
        f"holds {size} entries. A client that sends request n + 1 has finished with request "
        "n: the server can forget the reply to n then, and keep one entry per client."
    )

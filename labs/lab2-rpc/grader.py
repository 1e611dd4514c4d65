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

And in tests of their own: every operation ends within ``OP_TIMEOUT`` (virtual time) of
its invocation; on a calm network an operation costs about one request and one reply, and
once the work is done nobody sends anything; the duplicate table holds about one reply per
client, measured through nested containers (:func:`held`); hundreds of operations per
client, and copies held up in the network for more than a second, change nothing.

Each test runs over many seeds; a seed fixes every choice of the network, the faults and
the workloads, so a failing seed replays exactly.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
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

#: The handout's OP_TIMEOUT: a client gives up on an operation after this many seconds.
OP_TIMEOUT = 1.0

#: How late after OP_TIMEOUT an operation may end: a client that checks its deadline only
#: when its retry timer fires ends up to a retry interval late.
TIMEOUT_SLACK = 0.1

#: Messages per operation each node may send on a calm network: one request and one reply
#: is what the protocol needs there; the margin is for other designs.
BUDGET = 1.2

#: The calm network of ``message_budget``: no loss, no copies, and every message takes the
#: longest latency of the default network, so a round trip takes exactly 20 ms.
CALM_LATENCY = 0.01

#: Values the duplicate table may hold per client, counted through nested containers: the
#: reply to one request (a dict entry, a reply and its fields) holds about 4.
TABLE_VALUES_PER_CLIENT = 10

#: Virtual seconds of silence the quiet test wants, once every client is done and the
#: copies still in the network have arrived (``SETTLE`` seconds later).
QUIET_FOR = 2.0
SETTLE = 0.5

#: Trace kinds of a message's arrival at a node (the newer name first).
ARRIVALS = ("recv", "deliver")

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
        hint = ""
        overdue = [op for op in pending if sim.now - op.invoked > OP_TIMEOUT + TIMEOUT_SLACK]
        infos = [op for op in ops if op.status == "info"]
        if overdue:
            op = overdue[0]
            trial.focus(start=max(op.invoked, sim.now - 1.0), nodes=[op.client, SERVER])
            hint = (f" {op.describe()} had waited {sim.now - op.invoked:.3f} s, more than "
                    f"OP_TIMEOUT ({OP_TIMEOUT:g} s): does the client give up (info) when "
                    "OP_TIMEOUT passes without a reply, measured in virtual time (a timer)? "
                    + exchange(sim, op.client, op.invoked, sim.now).hint())
        elif infos:
            op = infos[0]
            assert op.completed is not None
            trial.focus(start=op.invoked, end=op.completed, nodes=[op.client, SERVER])
            hint = (f" {len(infos)} operations ended without a reply (info), each after "
                    f"waiting OP_TIMEOUT; the first: {op.describe()}, invoked at "
                    f"t={op.invoked:.3f}. "
                    + exchange(sim, op.client, op.invoked, op.completed).hint())
        raise AssertionError(
            f"{when}by virtual time {deadline:g} s the clients had started only {started} of "
            f"{run.total_ops} operations, and these never completed: {stuck or '(none)'}."
            + hint
        )
    ops = operations(sim.history)
    check_reports(run, ops)
    few_timeouts(trial, run, ops, why=why, after=faults_end, allowed=allowed)
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


def few_timeouts(trial: Trial, run: Run, ops: Sequence[Op], *, why: str, after: float = 0.0,
                 allowed: float = 0.0) -> None:
    """Of the operations invoked at or after ``after``, at most the fraction ``allowed``
    ended without a reply (info)."""
    judged = [op for op in ops if op.invoked >= after]
    late = [op for op in judged if op.status != "ok"]
    if len(late) <= allowed * len(judged):
        return
    op = late[0]
    tolerated = f" (the grader tolerates {allowed:.0%})" if allowed else ""
    end = op.completed if op.completed is not None else run.sim.now
    trial.focus(start=op.invoked, end=end, nodes=[op.client, SERVER])
    raise AssertionError(
        f"{len(late)} of {len(judged)} operations invoked {why} ended without a reply{tolerated}; "
        f"the first: {op.describe()}, invoked at t={op.invoked:.3f}, ended with {op.status} at "
        f"t={end:.3f}. " + exchange(run.sim, op.client, op.invoked, end).hint()
    )


@attrs.frozen
class Exchange:
    """The messages between one client and the server during one operation, as the trace
    shows them."""

    client: str
    sent: int  # requests the client sent
    server_got: int  # of its messages, how many reached the server
    server_sent: int  # messages the server sent to the client
    client_got: int  # of those, how many reached the client

    def hint(self) -> str:
        """What the counts suggest, in words."""
        c = self.client
        counts = (f"During it, {c} sent {self.sent} message(s), {self.server_got} reached the "
                  f"server; the server sent {self.server_sent} to {c}, {self.client_got} "
                  "arrived.")
        if self.sent <= 1:
            why = (f"{c} sent its request once and never again: while no reply comes, send it "
                   "again every RETRY_TIMEOUT, with the same request id.")
        elif self.server_got == 0:
            why = (f"None of {c}'s messages reached the server: it was cut off; once the "
                   "network heals, its retransmissions must get through.")
        elif self.server_sent == 0:
            why = ("The server answered none of the copies it received: does it answer a retry "
                   "(the id of its table's entry) with the remembered reply? Is a new request "
                   "(a higher id) executed? Does it take a new request for a late copy?")
        elif self.client_got:
            why = (f"Replies reached {c}, yet the operation did not complete: does {c} take "
                   "the reply that carries the id of the request in flight?")
        else:
            why = "The server's replies were all lost: do retries get answered every time?"
        return f"{counts} {why}"


def exchange(sim: Simulation, client: str, start: float, end: float) -> Exchange:
    """Count, from the trace, the messages between ``client`` and the server from ``start``
    to ``end``."""
    sent = server_got = server_sent = client_got = 0
    for event in sim.trace.filter(nodes=[client, SERVER], start=start, end=end):
        data = event.data
        if event.node == client:
            if event.kind == "send" and data.get("to") == SERVER:
                sent += 1
            elif event.kind in ARRIVALS and data.get("from") == SERVER:
                client_got += 1
        elif event.kind == "send" and data.get("to") == client:
            server_sent += 1
        elif event.kind in ARRIVALS and data.get("from") == client:
            server_got += 1
    return Exchange(client, sent, server_got, server_sent, client_got)


def held(value: Any) -> int:
    """How many values ``value`` holds, counted through nested containers: a number, a
    string or None counts 1; a dict, list, tuple, set or deque counts 1 plus what its items
    (and a dict's keys) hold; so does an object, with its fields."""
    count = 0
    stack = [value]
    seen: set[int] = set()
    while stack and count < 1_000_000:
        item = stack.pop()
        count += 1
        if isinstance(item, (str, bytes, int, float, bool)) or item is None:
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset, deque)):
            stack.extend(item)
        elif attrs.has(type(item)):
            stack.extend(getattr(item, field.name, None) for field in attrs.fields(type(item)))
        else:
            stack.extend(vars(item).values() if hasattr(item, "__dict__") else ())
            for cls in type(item).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if name not in ("__dict__", "__weakref__") and hasattr(item, name):
                        stack.append(getattr(item, name))
    return count


def _table(server: Any) -> Any:
    table = getattr(server, "replies", None)
    if not isinstance(table, dict):
        raise AssertionError(
            "KVServer has no duplicate table in self.replies (a dict): keep the table there, "
            "the grader measures it"
        )
    return table


def _server(sim: Simulation) -> Any:
    return sim.node(SERVER)


def _calm(network: Network) -> Callable[[], None]:
    return lambda: network.update(drop=0.0, duplicate=0.0, reorder=0.0)


# ----- the graded tests ----------------------------------------------------------------------


@graded(points=8, runs=10)
def perfect_network(trial: Trial) -> None:
    """Three clients' operations are linearizable when the network loses nothing."""
    run = build(trial, Network(), clients=3, ops=15)
    finish(trial, run, why="on a network that loses nothing")


@graded(points=12, runs=40)
def lossy_network(trial: Trial) -> None:
    """With 30% of messages lost, retried operations apply once, and few time out."""
    run = build(trial, Network(drop=0.3), clients=4, ops=15)
    finish(trial, run, why="on a network that loses 30% of messages", allowed=MAY_TIME_OUT)


@graded(points=12, runs=40)
def duplicates_and_reordering(trial: Trial) -> None:
    """Copies and late requests and replies are never applied twice or taken as answers."""
    network = Network(duplicate=0.3, reorder=0.5, reorder_delay=0.2)
    run = build(trial, network, clients=4, ops=15)
    finish(trial, run, why="on a network that duplicates and delays messages but loses none")


@graded(points=12, runs=30)
def concurrent_clients(trial: Trial) -> None:
    """Eight clients at once, on two keys: their requests are never mistaken for each other."""
    network = Network(drop=0.15, duplicate=0.15, reorder=0.2, reorder_delay=0.05)
    run = build(trial, network, clients=8, ops=10, keys=("x", "y"))
    finish(trial, run, why="with no partition", allowed=MAY_TIME_OUT)


@graded(points=12, runs=60)
def partitions(trial: Trial) -> None:
    """Clients cut off for longer than they wait: timeouts are info, and all ends well."""
    run = build(trial, Network(), clients=4, ops=20, think=(0.02, 0.15))
    calm = 2.0
    cut_clients_off(trial, run, until=calm)
    finish(trial, run, why="after the faults stopped", faults_end=calm)


@graded(points=17, runs=80)
def everything_at_once(trial: Trial) -> None:
    """Loss, copies, reordering and cut-off clients together, then a calm network."""
    network = Network(drop=0.2, duplicate=0.2, reorder=0.3, reorder_delay=0.15)
    run = build(trial, network, clients=5, ops=20, think=(0.02, 0.15))
    calm = 2.5
    cut_clients_off(trial, run, until=calm)
    run.sim.at(calm, _calm(network))
    finish(trial, run, why="after the faults stopped", faults_end=calm)


@graded(points=8, runs=10)
def bounded_table(trial: Trial) -> None:
    """The duplicate table keeps no more than one reply per client, nested containers included."""
    network = Network(drop=0.1, duplicate=0.1, reorder=0.2, reorder_delay=0.1)
    run = build(trial, network, clients=3, ops=40, think=(0.0, 0.01))
    finish(trial, run, why="with no partition", allowed=MAY_TIME_OUT)
    table = _table(_server(run.sim))
    clients = len(run.clients)
    size = len(table)
    assert size <= clients, (
        f"after {run.total_ops} operations of {clients} clients the duplicate table "
        f"holds {size} entries. A client that sends request n + 1 has finished with request "
        "n: the server can forget the reply to n then, and keep one entry per client."
    )
    values = held(table)
    limit = TABLE_VALUES_PER_CLIENT * clients + 1
    assert values <= limit, (
        f"after {run.total_ops} operations of {clients} clients the duplicate table has "
        f"{size} entries, but they hold {values} values in all, counted through nested "
        f"containers (dicts, lists, tuples, sets, and the fields of objects); one reply per "
        f"client holds about 4, and the grader allows {limit}. Does an entry keep every reply "
        "of its client? A client that sends request n + 1 has finished with request n: "
        "replace its entry, do not add to it."
    )


@graded(points=4, runs=20)
def quiet_when_done(trial: Trial) -> None:
    """Once every client has finished its workload, no node sends anything more."""
    run = build(trial, Network(drop=0.2, duplicate=0.2), clients=3, ops=10)
    finish(trial, run, why="with no partition", allowed=MAY_TIME_OUT)
    sim = run.sim
    done_at = sim.now
    # Copies still in the network may arrive and be answered; after that, silence.
    trial.run(sim, done_at + SETTLE)
    start = sim.now
    trial.run(sim, start + QUIET_FOR)
    noisy = Counter(e.node for e in sim.trace.filter(kinds=["send"], start=start))
    if noisy:
        trial.focus(start=start, nodes=sorted(noisy))
        who = ", ".join(f"{node} sent {count}" for node, count in sorted(noisy.items()))
        raise AssertionError(
            f"every client had finished its workload at t={done_at:.3f} s, yet from "
            f"t={start:.3f} s to t={sim.now:.3f} s {who} messages. With no operation in "
            "flight there is nothing to retransmit: does the client cancel its retry timer "
            "when the reply comes (and when it gives up)?")


@graded(points=4, runs=10)
def message_budget(trial: Trial) -> None:
    """On a calm network, an operation costs one request and one reply, or close."""
    run = build(trial, Network(latency=CALM_LATENCY), clients=3, ops=20)
    finish(trial, run, why="on a network that loses nothing")
    sent = Counter(e.node for e in run.sim.trace.filter(kinds=["send"]))
    ops = run.total_ops
    budget = int(BUDGET * ops)
    requests = sum(sent[client] for client in run.clients)
    for who, count, hint in (
            ("the clients", requests, "Is RETRY_TIMEOUT longer than a round trip? A shorter "
             "one sends every request again before its reply can arrive."),
            ("the server", sent[SERVER], "Does the server answer a request more than once?")):
        assert count <= budget, (
            f"on a network that loses nothing and where every message takes "
            f"{CALM_LATENCY * 1000:g} ms (a round trip: {2 * CALM_LATENCY * 1000:g} ms), "
            f"{who} sent {count} messages for {ops} operations; the budget is {budget} "
            f"({BUDGET:g} per operation). {hint}")


@graded(points=4, runs=4)
def many_operations(trial: Trial) -> None:
    """320 operations per client, more than one byte can number: none is lost or repeated."""
    run = build(trial, Network(duplicate=0.05, reorder=0.05, reorder_delay=0.05), clients=2,
                ops=320, think=(0.0, 0.005))
    finish(trial, run, why="on a network that loses nothing")


@graded(points=4, runs=20)
def operations_end_in_time(trial: Trial) -> None:
    """Cut off for 2 to 3 s, a client still ends each operation within OP_TIMEOUT (1 s)."""
    run = build(trial, Network(), clients=3, ops=10, think=(0.02, 0.1))
    sim = run.sim
    victims = sorted(trial.rng.sample(run.clients, trial.rng.randint(1, 2)))
    start = trial.rng.uniform(0.05, 0.2)
    end = start + trial.rng.uniform(2.0, 3.0)
    sim.at(start, sim.partition, victims, [SERVER])
    sim.at(end, sim.heal)
    finish(trial, run, why="after the faults stopped", faults_end=end)
    bound = OP_TIMEOUT + TIMEOUT_SLACK
    for op in operations(sim.history):
        assert op.completed is not None
        took = op.completed - op.invoked
        if took > bound:
            # What the client did until the deadline passed: it kept waiting.
            trial.focus(start=op.invoked, end=op.invoked + bound, nodes=[op.client],
                        kinds=["send", "timer_fire", "invoke", "complete"])
            raise AssertionError(
                f"{op.describe()} was invoked at t={op.invoked:.3f} s and ended ({op.status}) "
                f"at t={op.completed:.3f} s, {took:.3f} s later (virtual time); a client "
                f"gives up after OP_TIMEOUT = {OP_TIMEOUT:g} s (the grader allows "
                f"{bound:g} s). Measure the timeout in virtual time, with a timer "
                "(set_timer) or self.now: the wall clock (time.time(), time.monotonic()) "
                "hardly moves while the simulator runs seconds of virtual time.")


@graded(points=3, runs=15)
def long_reordering_delays(trial: Trial) -> None:
    """Copies held up in the network for up to 1.5 s, 60 operations each: none applied twice."""
    network = Network(duplicate=0.3, reorder=0.4, reorder_delay=1.5)
    run = build(trial, network, clients=2, ops=60, think=(0.0, 0.01))
    finish(trial, run, why="on a network that loses nothing", allowed=MAY_TIME_OUT)

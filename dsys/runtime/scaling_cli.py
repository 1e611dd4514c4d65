"""``dsys scaling load``: a closed-loop load generator for a balanced pool on real processes.

::

    dsys cluster up cluster.toml                          # lb and the servers (one terminal)
    dsys scaling load --cluster cluster.toml --for 30     # the load (another terminal)

Rules of this file:

* It speaks :mod:`dsys.scaling`'s protocol as an ephemeral client of the cluster file
  (:func:`~dsys.runtime.open_client`: same codec, same secret): ``--users`` users each
  send a :class:`~dsys.scaling.Request` to the balancer (``--to``, default ``lb``), wait
  for its :class:`~dsys.scaling.Reply` (or :class:`~dsys.scaling.Rejected`), and send the
  next at once: a closed loop, which cannot overload the pool, so what it measures is the
  pool's throughput.
* A user gives up on a request after ``--timeout`` seconds (trio's rule: the caller bounds
  every wait) and counts it as timed out; an answer that comes later is ignored.
* Every ``--every`` seconds it prints one line: the time since the start, the requests
  answered a second over the interval, the rejected and timed-out ones, and how many each
  server answered (the servers named in the replies: a server that joined while the load
  ran shows up in the line after it joined). Ctrl-C (or SIGTERM) ends the run early.
  The last lines sum up the run and, for each server that joined while the load ran,
  compare the throughput before and after it (:func:`joins`).

Exit status: 0 if any request was answered, 3 if none was (is the cluster running?), 2 on
a bad command line or cluster file.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from dsys.errors import DsysError, UsageError

if TYPE_CHECKING:
    from dsys.runtime.config import ClusterConfig


class NoAnswer(DsysError):
    """The balancer answered no request."""

    exit_code = 3


@attrs.define
class Interval:
    """One printed line: the interval's ``end`` (seconds since the start), its length,
    requests ``answered``, ``rejected`` and ``timed_out`` in it, and answers per server."""

    end: float
    length: float
    answered: int = 0
    rejected: int = 0
    timed_out: int = 0
    by_server: Counter[str] = attrs.field(factory=Counter)

    @property
    def rate(self) -> float:
        """Answered requests a second."""
        return self.answered / self.length if self.length > 0 else 0.0

    def line(self) -> str:
        """The interval as ``dsys scaling load`` prints it."""
        servers = "  ".join(f"{s} {n}" for s, n in sorted(self.by_server.items()))
        return (f"{self.end:7.1f} s {self.rate:8.1f} {self.rejected:8d} {self.timed_out:8d}"
                f"   {servers}")


HEADER = "   time    req/s rejected timedout   answered by server"


@attrs.frozen
class Join:
    """A server that first answered in the interval ending at ``at``, and the throughput
    (answered requests a second) ``before`` it (the intervals since the first that
    answered anything, that one left out: users were still starting) and ``after`` it
    (the intervals after that one: it may have joined in the middle of it)."""

    server: str
    at: float
    before: float
    after: float

    def line(self) -> str:
        """The join as ``dsys scaling load`` prints it."""
        ratio = f" (x{self.after / self.before:.2f})" if self.before > 0 else ""
        return (f"{self.server} joined at {self.at:.1f} s: {self.before:.1f} requests a "
                f"second before, {self.after:.1f} after{ratio}")


def _rate(intervals: list[Interval]) -> float:
    length = sum(i.length for i in intervals)
    return sum(i.answered for i in intervals) / length if length > 0 else float("nan")


def joins(intervals: list[Interval]) -> list[Join]:
    """The servers that joined after the load started, with the throughput before and
    after each (see :class:`Join`); none if no interval answered anything.

    >>> def interval(end, answered, **by_server):
    ...     return Interval(end, 2.0, answered, by_server=Counter(by_server))
    >>> run = [interval(2.0, 20, s1=10, s2=10), interval(4.0, 80, s1=40, s2=40),
    ...        interval(6.0, 90, s1=40, s2=40, s3=10), interval(8.0, 120, s1=40, s2=40, s3=40)]
    >>> [join.line() for join in joins(run)]
    ['s3 joined at 6.0 s: 40.0 requests a second before, 60.0 after (x1.50)']
    """
    answering = [n for n, i in enumerate(intervals) if i.answered]
    if not answering:
        return []
    first = answering[0]
    seen = set(intervals[first].by_server)
    found = []
    for n in range(first + 1, len(intervals)):
        for server in sorted(set(intervals[n].by_server) - seen):
            seen.add(server)
            found.append(Join(server, intervals[n].end, _rate(intervals[first + 1:n]),
                              _rate(intervals[n + 1:])))
    return found


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``scaling`` command group (``dsys scaling load``)."""
    scaling = subparsers.add_parser(
        "scaling", help="drive a balanced pool (dsys.scaling) running as real processes")
    actions = scaling.add_subparsers(dest="scaling_command", metavar="ACTION", required=True)
    text = ("Send requests to a running balancer from USERS closed-loop users and print "
            "the throughput every few seconds, with how many requests each server answered.")
    load = actions.add_parser("load", help="closed-loop load; print the throughput",
                              description=text)
    load.add_argument("--cluster", required=True, metavar="FILE", help="the cluster file")
    load.add_argument("--to", default="lb", metavar="ID", help="the balancer's node id (lb)")
    load.add_argument("--users", type=int, default=40, metavar="N",
                      help="users, each with one request in flight (default 40)")
    load.add_argument("--for", dest="duration", type=float, default=20.0, metavar="SECONDS",
                      help="how long to run (default 20)")
    load.add_argument("--every", type=float, default=2.0, metavar="SECONDS",
                      help="print a line every this many seconds (default 2)")
    load.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                      help="give up on a request after this long (default 5)")
    load.add_argument("--insecure", action="store_true",
                      help="use a cluster file without a secret beyond loopback")
    load.set_defaults(func=_load)


def _load(args: argparse.Namespace) -> int:
    from dsys.runtime.cli import _run_trio
    from dsys.runtime.config import load_cluster

    if isinstance(args.users, bool) or args.users < 1:
        raise UsageError(f"--users must be at least 1, got {args.users}")
    for name in ("duration", "every", "timeout"):
        if not getattr(args, name) > 0:
            option = "--for" if name == "duration" else f"--{name}"
            raise UsageError(f"{option} must be a number of seconds > 0, got "
                             f"{getattr(args, name)}")
    cluster = load_cluster(args.cluster)
    cluster.node(args.to)  # a one-line error for a balancer that is not in the file
    for line in cluster.check_secure(insecure=args.insecure):
        if not line.startswith("note:"):
            print(f"dsys: {line}", file=sys.stderr)
    print(f"dsys: {args.users} user(s) sending to {args.to} of {cluster.source} for "
          f"{args.duration:g} s; a line every {args.every:g} s", flush=True)
    result: list[list[Interval]] = []

    async def main() -> None:
        result.append(await run_load(cluster, args.to, users=args.users,
                                     duration=args.duration, every=args.every,
                                     timeout=args.timeout, out=sys.stdout,
                                     stop_on_signals=True))

    _run_trio(main)
    intervals = result[0]
    answered = sum(i.answered for i in intervals)
    elapsed = sum(i.length for i in intervals)
    rejected = sum(i.rejected for i in intervals)
    timed_out = sum(i.timed_out for i in intervals)
    print(f"dsys: {answered} request(s) answered in {elapsed:.1f} s "
          f"({answered / elapsed if elapsed else 0:.1f} a second), {rejected} rejected, "
          f"{timed_out} timed out", flush=True)
    for join in joins(intervals):
        print(f"dsys: {join.line()}", flush=True)
    if not answered:
        raise NoAnswer(f"{args.to} at {cluster.nodes[args.to].address} answered no request: "
                       f"is the cluster running? (dsys cluster up {cluster.source})")
    return 0


async def run_load(cluster: ClusterConfig, to: str = "lb", *, users: int = 40,
                   duration: float = 20.0, every: float = 2.0, timeout: float = 5.0,
                   out: TextIO | None = None, stop_on_signals: bool = False
                   ) -> list[Interval]:
    """Run the closed loop against balancer ``to`` for ``duration`` seconds; return one
    :class:`Interval` per ``every`` seconds (the last may be shorter), printing each to
    ``out`` as it ends (and a header first). ``stop_on_signals``: Ctrl-C or SIGTERM ends
    the run early, with a last (shorter) interval (what ``dsys scaling load`` does)."""
    import trio

    from dsys.runtime.client import open_client
    from dsys.scaling import Rejected, Reply, Request

    intervals: list[Interval] = []
    current = Interval(0.0, 0.0)
    pending: dict[int, tuple[trio.Event, list[Any]]] = {}
    next_id = 0
    if out is not None:
        print(HEADER, file=out, flush=True)

    async with open_client(cluster) as client:
        start = trio.current_time()

        async def dispatch() -> None:
            while True:
                _, msg = await client.receive(src=to, match=(Reply, Rejected))
                waiter = pending.pop(msg.id, None)
                if waiter is not None:  # else: answered after its user gave up
                    waiter[1].append(msg)
                    waiter[0].set()

        async def user(number: int) -> None:
            nonlocal next_id
            while True:
                request_id = next_id
                next_id += 1
                done, answer = trio.Event(), list[Any]()
                pending[request_id] = (done, answer)
                client.send(to, Request(request_id, f"user-{number}"))
                with trio.move_on_after(timeout):
                    await done.wait()
                if not answer:
                    pending.pop(request_id, None)
                    current.timed_out += 1
                    await trio.sleep(0.01)  # a dead balancer: do not spin
                elif isinstance(answer[0], Reply):
                    current.answered += 1
                    current.by_server[answer[0].server] += 1
                else:
                    current.rejected += 1
                    await trio.sleep(0.01)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(dispatch)
            for number in range(users):
                nursery.start_soon(user, number)
            stop = trio.Event()
            if stop_on_signals:
                nursery.start_soon(_watch_signals, stop)
            ends = [min(duration, every * k) for k in range(1, int(duration / every) + 2)]
            for end in sorted(set(ends)):
                with trio.move_on_at(start + end):
                    await stop.wait()
                now = trio.current_time() - start
                if stop.is_set() and now - (intervals[-1].end if intervals else 0.0) < 0.1:
                    break  # stopped right after a line: no interval worth a line
                current.length = now - (intervals[-1].end if intervals else 0.0)
                current.end = now
                intervals.append(current)
                if out is not None:
                    print(current.line(), file=out, flush=True)
                current = Interval(0.0, 0.0)
                if stop.is_set():
                    break
            nursery.cancel_scope.cancel()
    return intervals


async def _watch_signals(stop: Any) -> None:
    import signal

    import trio

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            stop.set()
            return

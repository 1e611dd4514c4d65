"""``dsys kv``: one operation on a running key-value cluster (:mod:`dsys.kv`), from a shell.

::

    dsys cluster up cluster.toml dsys.kv:KVServer --data-dir data    # in one terminal
    dsys kv put    --cluster cluster.toml x 1                          # prints: ok
    dsys kv append --cluster cluster.toml x 2                          # prints: ok
    dsys kv get    --cluster cluster.toml x                            # prints: 12
    dsys kv cas    --cluster cluster.toml x 12 3                       # prints: ok

Rules of this file:

* It speaks the service's own protocol (:mod:`dsys.kv.messages`) as an ephemeral client of
  the cluster file (:func:`~dsys.runtime.open_client`: same codec, same secret), exactly as
  :class:`~dsys.kv.KVClient` does in the simulator: ask the server believed to lead; on
  ``wrong leader`` follow the hint (or try the next server); on silence for ``retry``
  seconds try the next server; **always with the same session and number**, so however
  often a write is sent, the servers apply it once (thesis §6.3).
* A write first opens a session (``register``, operation 0 of a new session id); a get
  needs none (reading twice changes nothing).
* Waiting is bounded by the caller (trio's rule): the command gives up after
  ``--timeout`` seconds and says what is known. A write that never got past ``register``
  was never sent, so it did not happen; one that was sent may or may not have happened.

Exit status: 0 done (a get prints the value); 1 a cas whose compare failed (it prints the
current value); 2 a bad command line or cluster file; 3 no leader answered in time.

:class:`KVShell` and :class:`KVSession` are the same client for scripts and benchmarks:
many sessions may run at once over one endpoint (``bench/kv.py`` does).
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
from collections import deque
from typing import TYPE_CHECKING, Any

from dsys.errors import DsysError, UsageError

if TYPE_CHECKING:
    import trio

    from dsys.kv.messages import KVReply, KVRequest
    from dsys.runtime.client import ClusterClient
    from dsys.runtime.config import ClusterConfig

#: Seconds without any reply before the request goes to the next server.
RETRY = 0.5
#: The most requests :class:`KVShell` sends in one message.
BATCH = 64
#: How many times per ``retry`` period KVShell looks for requests to try elsewhere.
DEADLINE_TICKS = 4
#: Seconds before ``dsys kv`` gives up (``--timeout``).
TIMEOUT = 10.0
#: How many values each operation takes after the key.
ARITY = {"get": 0, "put": 1, "append": 1, "cas": 2}


class NoLeader(DsysError):
    """No leader of the key-value cluster answered within the time allowed."""

    exit_code = 3


# ----- the client -----------------------------------------------------------------------


class KVShell:
    """Key-value operations over one :class:`~dsys.runtime.client.ClusterClient`.

    Run :meth:`dispatch` in a nursery (it sends the requests and hands each reply to the
    request waiting for it), then make sessions with :meth:`session`. The shell
    remembers the leader the servers name, for every session, and which servers
    answered at all (for the error).

    Requests of many sessions that are ready at the same moment leave together, one
    :class:`~dsys.kv.messages.KVBatch` per server (at most ``batch`` requests each), and
    the server answers those that are ready together in one
    :class:`~dsys.kv.messages.KVReplies`: with many sessions, that is one frame and
    one handler run for many operations. A lone request goes as itself.

    Example (a script)::

        async with open_client("cluster.toml") as client, trio.open_nursery() as nursery:
            shell = KVShell(client)
            nursery.start_soon(shell.dispatch)
            with trio.fail_after(10):
                reply = await shell.session().call("put", "x", "1")
            nursery.cancel_scope.cancel()
    """

    def __init__(self, client: ClusterClient, *, retry: float = RETRY,
                 batch: int = BATCH) -> None:
        import trio

        if not retry > 0:
            raise UsageError(f"retry must be a number of seconds > 0, got {retry!r}")
        if not batch >= 1:
            raise UsageError(f"batch must be at least 1 request, got {batch!r}")
        self.client = client
        self.servers = client.cluster.node_ids
        self.retry = retry
        self.batch = batch
        #: The server believed to lead (None: not known yet).
        self.leader: str | None = None
        #: The servers that answered anything (to tell "down" from "no leader").
        self.answered: set[str] = set()
        self.waiting: dict[tuple[str, int], _Inbox] = {}
        self._next = secrets.randbelow(len(self.servers))  # spread first guesses
        # Requests to send, per server, until the sender's next turn.
        self._outgoing: dict[str, list[tuple[KVRequest, _Inbox]]] = {}
        self._ready = trio.Event()

    def session(self) -> KVSession:
        """A new session (its id is random: a session is never reused)."""
        return KVSession(self, f"{self.client.id}-{secrets.token_hex(6)}")

    async def dispatch(self) -> None:
        """Send the requests, hand every reply to the request waiting for it, and wake
        (``DEADLINE_TICKS`` times per ``retry`` period) the requests whose server has
        been silent for ``retry`` seconds, so they try the next one. Forever: cancel
        it."""
        import trio

        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._send_loop)
            nursery.start_soon(self._watch_deadlines)
            await self._receive_loop()

    async def _receive_loop(self) -> None:
        from dsys.kv.messages import KVReplies, KVReply

        while True:
            src, msg = await self.client.receive(match=(KVReply, KVReplies))
            self.answered.add(src)
            for reply in (msg,) if isinstance(msg, KVReply) else msg.replies:
                if reply.leader in self.servers:
                    self.leader = reply.leader
                inbox = self.waiting.get((reply.session, reply.seq))
                if inbox is not None:
                    inbox.put((src, reply))

    async def _send_loop(self) -> None:
        """Once per scheduling round: the requests queued meanwhile leave, together."""
        import trio

        while True:
            await self._ready.wait()
            self._ready = trio.Event()
            outgoing, self._outgoing = self._outgoing, {}
            for target, queued in outgoing.items():
                for first in range(0, len(queued), self.batch):
                    self._send(target, queued[first:first + self.batch])

    async def _watch_deadlines(self) -> None:
        """A few times per ``retry``: wake the requests whose server has been silent
        for ``retry`` seconds. One task for them all: a cancel scope per request costs
        more than the rest of the request's work."""
        import trio

        while True:
            await trio.sleep(self.retry / DEADLINE_TICKS)
            now = trio.current_time()
            for inbox in self.waiting.values():
                if inbox.deadline <= now:
                    inbox.expire()

    def _send(self, target: str, queued: list[tuple[KVRequest, _Inbox]]) -> None:
        from dsys.errors import CodecError
        from dsys.kv.messages import KVBatch

        try:
            if len(queued) == 1:
                self.client.send(target, queued[0][0])
            else:
                self.client.send(target, KVBatch(tuple(request for request, _ in queued)))
        except CodecError as exc:  # too large a frame: in halves, or the caller's error
            if len(queued) == 1:
                queued[0][1].fail(exc)
                return
            half = len(queued) // 2
            self._send(target, queued[:half])
            self._send(target, queued[half:])

    def first_target(self) -> str:
        """Where a new request goes first: the known leader, else servers in turn."""
        if self.leader is not None:
            return self.leader
        self._next = (self._next + 1) % len(self.servers)
        return self.servers[self._next]

    def next_server(self, after: str) -> str:
        """The server after ``after``, in order (round robin)."""
        index = self.servers.index(after) if after in self.servers else -1
        return self.servers[(index + 1) % len(self.servers)]

    async def request(self, request: KVRequest) -> KVReply:
        """Send ``request`` until a server that leads answers it; return that answer.

        Never gives up by itself: bound it with a cancel scope. A server silent for
        ``retry`` seconds (up to ``retry / DEADLINE_TICKS`` more: see :meth:`dispatch`)
        is given up for the next one.
        """
        import trio

        from dsys.kv.messages import WRONG_LEADER

        key = (request.session, request.seq)
        inbox = _Inbox()
        self.waiting[key] = inbox
        try:
            target = self.first_target()
            while True:
                inbox.wait_until(trio.current_time() + self.retry)
                self._outgoing.setdefault(target, []).append((request, inbox))
                self._ready.set()
                got = await inbox.get()
                if got is None:  # silence: that server is down, slow, or cut off
                    if self.leader == target:
                        self.leader = None
                    target = self.next_server(target)
                    continue
                src, reply = got
                if reply.status == WRONG_LEADER:
                    if self.leader == src:
                        self.leader = None
                    hint = reply.leader
                    target = hint if hint in self.servers and hint != src else \
                        self.next_server(src)
                    if hint is None or hint == src:
                        await trio.sleep(min(self.retry, 0.05))  # an election is on: wait
                else:
                    self.leader = src
                    return reply
        finally:
            del self.waiting[key]


class _Inbox:
    """The replies to one request, in arrival order (a retried request may get several),
    the error that kept it from being sent, and when its current try times out."""

    __slots__ = ("deadline", "error", "event", "expired", "replies")

    def __init__(self) -> None:
        self.replies: deque[tuple[str, KVReply]] = deque()
        self.event: trio.Event | None = None
        self.error: Exception | None = None
        self.deadline = math.inf
        self.expired = False

    def wait_until(self, deadline: float) -> None:
        """A new try: :meth:`get` gives None if no reply came by ``deadline``."""
        self.deadline = deadline
        self.expired = False

    def expire(self) -> None:
        self.deadline = math.inf
        self.expired = True
        if self.event is not None:
            self.event.set()

    def put(self, item: tuple[str, KVReply]) -> None:
        self.replies.append(item)
        if self.event is not None:
            self.event.set()

    def fail(self, error: Exception) -> None:
        self.error = error
        if self.event is not None:
            self.event.set()

    async def get(self) -> tuple[str, KVReply] | None:
        """The next reply, or None once the try's deadline passed without one."""
        import trio

        while not self.replies:
            if self.error is not None:
                raise self.error
            if self.expired:
                return None
            self.event = trio.Event()
            await self.event.wait()
        return self.replies.popleft()


class KVSession:
    """One session of :class:`KVShell`: operations one at a time, numbered 1, 2, 3...

    A write registers the session first. The number of an operation never changes while
    it is retried, so it is applied at most once.
    """

    def __init__(self, shell: KVShell, session: str) -> None:
        self.shell = shell
        self.id = session
        self.seq = 0
        self.registered = False
        #: The phase the latest call got to: "register", "sent" or "done".
        self.phase = "done"

    async def call(self, f: str, key: str, value: Any = None) -> KVReply:
        """Run ``f`` (``get``, ``put``, ``append``, ``cas`` with ``value`` ``[old, new]``)
        on ``key`` and return the servers' answer (``status`` ``ok`` or, for a cas,
        ``failed``; ``session expired`` if the servers forgot this session)."""
        from dsys.kv.messages import EXPIRED, KVRequest

        if f not in ARITY:
            raise UsageError(f"no key-value operation {f!r}; choose from "
                             f"{', '.join(ARITY)}")
        if f != "get" and not self.registered:
            self.phase = "register"
            await self.shell.request(KVRequest(self.id, 0, "register", "", None))
            self.registered = True
        self.seq += 1
        self.phase = "sent"
        if f == "cas":
            value = list(value)
        reply = await self.shell.request(KVRequest(self.id, self.seq, f, key, value))
        self.phase = "done"
        if reply.status == EXPIRED:
            self.registered = False  # the next write opens the session again
        return reply


# ----- the command ----------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``kv`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cluster", required=True, metavar="FILE",
                        help="the cluster file of the key-value servers (TOML)")
    common.add_argument("--timeout", type=float, default=TIMEOUT, metavar="SECONDS",
                        help=f"give up after this long without an answer from a leader "
                             f"(default {TIMEOUT:g})")
    common.add_argument("--retry", type=float, default=RETRY, metavar="SECONDS",
                        help=f"try the next server after this long without a reply "
                             f"(default {RETRY:g})")
    common.add_argument("--insecure", action="store_true",
                        help="talk to a cluster without a secret beyond this machine")
    kv = subparsers.add_parser(
        "kv", help="one operation on a running key-value cluster (dsys.kv:KVServer)",
        description="Run one operation on a key-value cluster (dsys cluster up FILE "
                    "dsys.kv:KVServer): find the leader, open a session, retry with the same "
                    "operation number until a leader answers, print the result. Exit status: "
                    "0 done, 1 a cas whose compare failed, 2 a bad command line or cluster "
                    "file, 3 no leader answered within --timeout.")
    actions = kv.add_subparsers(dest="kv_command", metavar="OPERATION", required=True)
    helps = {"get": ("KEY", "print the value of KEY (empty if it was never written)"),
             "put": ("KEY VALUE", "set KEY to VALUE"),
             "append": ("KEY VALUE", "add VALUE to the end of KEY's value"),
             "cas": ("KEY OLD NEW", "set KEY to NEW if its value is OLD (exit 1 if not)")}
    for f, (usage, text) in helps.items():
        action = actions.add_parser(f, parents=[common], help=text, description=text)
        action.add_argument("key", metavar="KEY")
        for name in usage.split()[1:]:
            action.add_argument(name.lower(), metavar=name)
        action.set_defaults(func=_kv, f=f)


def _kv(args: argparse.Namespace) -> int:

    from dsys.runtime.cli import _run_trio
    from dsys.runtime.config import load_cluster

    for name in ("timeout", "retry"):
        if not getattr(args, name) > 0:
            raise UsageError(f"--{name} must be a number of seconds > 0, got "
                             f"{getattr(args, name)}")
    cluster = load_cluster(args.cluster)
    for line in cluster.check_secure(insecure=args.insecure):
        if not line.startswith("note:"):  # the loopback note, on every command, is noise
            print(f"dsys: {line}", file=sys.stderr)
    value: Any = None
    if args.f in ("put", "append"):
        value = args.value
    elif args.f == "cas":
        value = [args.old, args.new]
    result: list[KVReply] = []

    async def main() -> None:
        result.append(await run_operation(cluster, args.f, args.key, value,
                                          timeout=args.timeout, retry=args.retry))

    _run_trio(main)
    reply = result[0]
    if reply.status == "ok":
        print(reply.value if args.f == "get" else "ok")
        return 0
    if reply.status == "failed":
        print(f"failed: the value of {args.key} is {reply.value!r}, not {args.old!r}")
        return 1
    raise NoLeader(f"the servers answered {reply.status!r}: the {args.f} may or may not "
                   "have taken effect")


async def run_operation(cluster: ClusterConfig, f: str, key: str, value: Any = None, *,
                        timeout: float = TIMEOUT, retry: float = RETRY) -> KVReply:
    """One operation with a fresh session, as ``dsys kv`` runs it; :class:`NoLeader`
    (saying what is known of the outcome) if no leader answers within ``timeout``."""
    import trio

    from dsys.runtime.client import open_client

    async with open_client(cluster) as client, trio.open_nursery() as nursery:
        shell = KVShell(client, retry=retry)
        nursery.start_soon(shell.dispatch)
        session = shell.session()
        with trio.move_on_after(timeout):
            reply = await session.call(f, key, value)
            nursery.cancel_scope.cancel()
            return reply
        nursery.cancel_scope.cancel()
    raise NoLeader(_no_leader(cluster, shell, f, session.phase, timeout))


def _no_leader(cluster: ClusterConfig, shell: KVShell, f: str, phase: str,
               timeout: float) -> str:
    servers = cluster.node_ids
    if not shell.answered:
        where = ", ".join(f"{n} at {cluster.nodes[n].address}" for n in servers)
        problem = (f"no server of {cluster.source} answered within {timeout:g} s ({where}): "
                   f"is the cluster running? (dsys cluster up {cluster.source} "
                   "dsys.kv:KVServer)")
    else:
        quiet = [n for n in servers if n not in shell.answered]
        problem = (f"no leader answered within {timeout:g} s: "
                   f"{', '.join(sorted(shell.answered))} answered but did not lead"
                   + (f", {', '.join(quiet)} did not answer" if quiet else "")
                   + f"; a leader needs a majority ({len(servers) // 2 + 1} of "
                     f"{len(servers)}) of the servers up and connected")
    if f == "get":
        return problem
    if phase == "register":
        return f"{problem}. The {f} was not sent, so it did not happen"
    return f"{problem}. The {f} was sent: it may or may not have taken effect"


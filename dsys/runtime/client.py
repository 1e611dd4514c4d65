"""An async (trio) client: talk to a running cluster from a script or a test.

A client is an endpoint like a node, with its own id: either listed in the cluster file's
``[clients]`` table (it then listens on that address) or *ephemeral* (any id that is not
in the file; nodes answer it over the connection, or to the port, it writes from). It
speaks the same frames as the nodes, with the cluster's codec and secret.

Example (a script; ``Get``/``Value`` are your own message classes)::

    import trio
    from dsys.runtime import open_client

    async def main() -> None:
        async with open_client("cluster.toml") as client:
            with trio.fail_after(1.0):     # no reply within a second: trio.TooSlowError
                reply = await client.request("a", Get("x"), match=Value)
            print(reply)

    trio.run(main)

``request`` sends one message and waits for the first message *from that node* that
``match`` accepts (a class, a tuple of classes or a predicate). Anything else that
arrives waits in the client's mailbox for :meth:`ClusterClient.receive`.

Waiting follows trio's rule: the caller bounds it, with a cancel scope
(``trio.fail_after``, ``trio.move_on_after``) around one call or around many. Nothing here
takes a ``timeout=``. Over UDP, where a request or its reply may be lost, ask ``request``
to send it again every so often (``resend_every=0.5``) until the answer comes.
"""

from __future__ import annotations

import os
import secrets
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from dsys.core import codec
from dsys.core.messages import short_name
from dsys.errors import CodecError, ConfigError, UsageError
from dsys.runtime.config import ClusterConfig, load_cluster
from dsys.runtime.groups import unwrap_group
from dsys.runtime.transport import make_transport
from dsys.runtime.wire import Rejected, Wire

#: Messages kept for ``receive`` before the oldest are discarded.
MAILBOX_SIZE = 10_000

Match = type | tuple[type, ...] | Callable[[Any], bool] | None


class ClusterClient:
    """A connected client endpoint; build it with :func:`open_client`."""

    def __init__(self, cluster: ClusterConfig, client_id: str) -> None:
        self.id = cluster.check_client_id(client_id)
        self.cluster = cluster
        self._wire = Wire(client_id, codec=cluster.codec, secret=cluster.secret,
                          max_frame=cluster.frame_limit, replay_window=cluster.replay_window)
        self._transport = make_transport(cluster, client_id)
        self._mailbox: deque[tuple[str, Any]] = deque(maxlen=MAILBOX_SIZE)
        self._arrived = trio.Event()
        self.rejected: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.sent = 0
        self.received = 0

    def send(self, dst: str, msg: object) -> None:
        """Send ``msg`` to node ``dst`` (never blocks; the network may lose it: messages
        not even sent, a full queue say, are counted in ``dropped``)."""
        data = self._wire.seal(dst, codec.encode(msg))
        if len(data) > self._wire.max_frame:
            raise CodecError(f"{short_name(msg)} is {len(data)} bytes on the wire, over the "
                             f"cluster's limit of {self._wire.max_frame}")
        self.sent += 1
        reason = self._transport.send(dst, data)
        if reason == "no route":
            raise ConfigError(f"{dst!r} is not an endpoint of {self.cluster.source}; nodes: "
                              f"{', '.join(self.cluster.node_ids)}")
        if reason is not None:
            self.dropped[reason] += 1  # lost, as the network may lose any message

    async def receive(self, *, src: str | None = None, match: Match = None
                      ) -> tuple[str, Any]:
        """Wait for the next message (from ``src``, accepted by ``match``) and return it
        as ``(sender, message)``. Bound the wait with a cancel scope::

            with trio.move_on_after(0.5):
                sender, msg = await client.receive(match=Heartbeat)
        """
        accept = _matcher(match)
        while True:
            for index, (sender, msg) in enumerate(self._mailbox):
                if (src is None or sender == src) and accept(msg):
                    del self._mailbox[index]
                    return sender, msg
            await self._arrived.wait()

    async def request(self, dst: str, msg: object, *, match: Match = None,
                      resend_every: float | None = None) -> Any:
        """Send ``msg`` to ``dst`` and wait for the first reply from ``dst`` that ``match``
        accepts; return that reply.

        With ``resend_every``, send ``msg`` again each time that many seconds pass without
        the reply (over UDP either message may be lost). Bound the wait with a cancel
        scope: ``with trio.fail_after(2): reply = await client.request(...)``.
        """
        if resend_every is not None and not resend_every > 0:
            raise UsageError(f"resend_every must be a number of seconds > 0, got "
                             f"{resend_every!r}")
        self.send(dst, msg)
        if resend_every is None:
            _, reply = await self.receive(src=dst, match=match)
            return reply
        while True:
            with trio.move_on_after(resend_every):
                _, reply = await self.receive(src=dst, match=match)
                return reply
            self.send(dst, msg)

    # ----- the transport reports here (see dsys.runtime.transport.Receiver) -----------

    async def frame_received(self, data: bytes, reply_path: Any, peer: str) -> None:
        """Check a frame and put its message in the mailbox."""
        try:
            frame = self._wire.open(data)
        except Rejected as rejected:
            self.rejected[rejected.reason] += 1
            return
        self.received += 1
        self._mailbox.append((frame.src, frame.msg))
        self._arrived.set()
        self._arrived = trio.Event()

    def frame_rejected(self, reason: str, detail: str, peer: str) -> None:
        """Count bytes refused by the transport."""
        self.rejected[reason] += 1

    def transport_log(self, text: str) -> None:
        """Transport news is not interesting to a client script: ignore it."""


@asynccontextmanager
async def open_client(cluster: ClusterConfig | str | os.PathLike[str],
                      client_id: str | None = None) -> AsyncIterator[ClusterClient]:
    """A :class:`ClusterClient` of ``cluster`` (a parsed config or a cluster-file path).

    ``client_id`` listed under ``[clients]`` uses that address; any other id (default: a
    random ``client-xxxxxxxx``) is ephemeral. The client closes when the block ends.
    """
    if not isinstance(cluster, ClusterConfig):
        cluster = load_cluster(cluster)
    if client_id is None:
        client_id = f"client-{secrets.token_hex(4)}"
    client = ClusterClient(cluster, client_id)
    await client._transport.open(client)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._transport.serve)
            try:
                yield client
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The nursery wraps whatever the ``async with`` body raised in an exception group;
        # give the caller back the exception they raised (an AssertionError, a
        # trio.TooSlowError...) rather than a group of one.
        single = unwrap_group(group)
        if single is group:
            raise
        raise single from None
    finally:
        client._transport.close()


def _matcher(match: Match) -> Callable[[Any], bool]:
    if match is None:
        return lambda msg: True
    if isinstance(match, type | tuple):
        kinds = match
        return lambda msg: isinstance(msg, kinds)
    return match

"""The messages between a key-value client and the servers.

A request names the client's *session* and numbers the operation in it (``seq``), so a
server can tell a retry from a new operation (exactly-once, thesis §6.3). A reply echoes
both, so a client takes only the reply to the operation it is waiting for.

Example:
    >>> from dsys.kv.messages import KVRequest
    >>> KVRequest("c1-5f2a", 3, "put", "x", "1")
    KVRequest(session='c1-5f2a', seq=3, f='put', key='x', value='1')
"""

from __future__ import annotations

from typing import Any, Final

from dsys.core.messages import message

#: Reply statuses.
OK: Final = "ok"
#: A cas whose compare failed: nothing changed.
FAILED: Final = "failed"
#: This server is not the leader (``leader`` names the one it knows, if any): ask it.
WRONG_LEADER: Final = "wrong leader"
#: A late copy of an operation its client has moved on from: nobody waits for it.
STALE: Final = "stale"
#: The session is unknown (never registered, or expired): register a new one. The
#: operation may or may not have taken effect.
EXPIRED: Final = "session expired"


@message(name="kv:Request")
class KVRequest:
    """Operation ``seq`` of ``session``: ``f`` is ``get``, ``put``, ``append``, ``cas``
    (``value`` is ``[old, new]``) or ``register`` (open the session)."""

    session: str
    seq: int
    f: str
    key: str
    value: Any


@message(name="kv:Reply")
class KVReply:
    """The answer to operation ``seq`` of ``session``: ``status`` (see the constants of
    this module), the ``value`` read (a get, a cas's current value), and the leader the
    server knows of."""

    session: str
    seq: int
    status: str
    value: Any = None
    leader: str | None = None


@message(name="kv:Batch")
class KVBatch:
    """Several requests in one message, each of its own session (a client with many
    sessions sends those that are ready together: one frame, one handler run at the
    server, instead of one each). The server treats each as if it came alone, and
    answers them with :class:`KVReplies`."""

    requests: tuple[KVRequest, ...]


@message(name="kv:Replies")
class KVReplies:
    """The answers to requests that came in :class:`KVBatch` messages, sent together
    when they are ready together (the writes applied in one run of commits, say)."""

    replies: tuple[KVReply, ...]

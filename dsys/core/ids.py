"""Message ids: one format for every message a protocol or a host names.

A message id is ``origin:epoch:seq``: the node that sent the message first, which
incarnation of that node sent it, and the message's number within that incarnation.
The epoch is what keeps ids unique across restarts: a broadcast component counts its
incarnations in storage (:func:`dsys.messaging.links.next_epoch`); the real runtime uses
the process's boot time in nanoseconds (see :mod:`dsys.runtime.wire`). Ids are for
reading and matching (traces, deliveries, acknowledgements); nothing parses them back.

Example:
    >>> from dsys.core.ids import message_id
    >>> message_id("n1", 1, 0)
    'n1:1:0'
"""

from __future__ import annotations


def message_id(origin: str, epoch: int, seq: int) -> str:
    """The id of message ``seq`` sent by ``origin`` in its incarnation ``epoch``.

    >>> message_id("a", 1712000000123456789, 17)
    'a:1712000000123456789:17'
    """
    return f"{origin}:{epoch}:{seq}"

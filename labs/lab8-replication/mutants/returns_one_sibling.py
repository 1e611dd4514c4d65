"""Mutant: a get answers with one of the siblings it found, not all of them.

The replies are merged, but the coordinator returns only the "latest" sibling (the one
whose clock counts the most events): the client never sees the others, its context does
not cover them, and a get that began after a concurrent put was acknowledged misses it.

Caught by ``concurrent_puts_become_siblings``.
"""

from __future__ import annotations

from dsys.labs import reference_module
from dsys.replication.quorum import GetReply

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def answer_get(self, request: lab8.Request) -> None:
        request.answered = True
        found = self.merge((), (v for vs in request.replies.values() for v in vs))
        # BUG: one sibling, picked by the size of its clock, stands for all of them
        chosen = max(found, key=lambda v: (lab8.clock_of(v).total(), v.clock, v.value),
                     default=None)
        found = () if chosen is None else (chosen,)
        self.send(request.client, GetReply(request.request, request.key, True, found,
                                           tuple(lab8.context_of(found).items())))

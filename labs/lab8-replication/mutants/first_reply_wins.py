"""Mutant: a get waits for R replies, then answers with the first one's versions.

The first replica to answer is often the fastest, not the freshest: when it missed the
latest put (it was not among the W that stored it), the get is stale although R + W > N.

Caught by ``a_get_merges_r_replies``.
"""

from __future__ import annotations

from dsys.labs import reference_module
from dsys.replication.quorum import GetReply

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def answer_get(self, request: lab8.Request) -> None:
        request.answered = True
        found = next(iter(request.replies.values()))  # BUG: the first reply, not the merge
        self.send(request.client, GetReply(request.request, request.key, True, found,
                                           tuple(lab8.context_of(found).items())))

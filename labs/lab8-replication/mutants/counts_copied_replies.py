"""Mutant: the coordinator counts replies, not replicas: a reply the network copied counts twice.

One replica's acknowledgement, delivered twice, makes a "quorum" of two: the put is
acknowledged on fewer replicas than W, and a get answered on fewer than R.

Caught by ``a_reply_counts_once``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def on_reply(self, src: str, op: int, versions: tuple[lab8.Version, ...]) -> None:
        request = self.requests.get(op)
        if request is None or src not in request.targets:
            return
        count = getattr(request, "count", 0) + 1  # BUG: a copy counts again
        request.count = count  # type: ignore[attr-defined]
        request.replies[src] = versions
        if not request.answered:
            if request.kind == "put" and count >= self.w:
                self.answer_put(request)
            elif request.kind == "get" and count >= self.r:
                self.answer_get(request)
        if len(request.replies) == len(request.targets):
            self.close(request)

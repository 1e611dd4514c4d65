"""Mutant: the coordinator answers a put as soon as one replica (often itself) stored it.

The put is acknowledged on one copy: a get answered by the two other homes misses it, and
a crash of that one replica loses it.

Caught by ``a_put_waits_for_w_acknowledgements``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def on_reply(self, src: str, op: int, versions: tuple[lab8.Version, ...]) -> None:
        request = self.requests.get(op)
        if request is not None and request.kind == "put" and not request.answered \
                and src in request.targets:
            self.answer_put(request)  # BUG: one acknowledgement, not w
        super().on_reply(src, op, versions)

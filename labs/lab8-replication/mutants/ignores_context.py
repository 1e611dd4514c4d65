"""Mutant: a put's version counts one event of its actor, and forgets the client's context.

The version of a put made after reading ``{alice: 3}`` is ``{bob: 1}``, not
``{alice: 3, bob: 1}``: it looks concurrent with the version its client read, so siblings
never collapse, however often the client reads and writes back the merged value.

Caught by ``a_put_makes_a_version_of_its_context``.
"""

from __future__ import annotations

from dsys.clocks import VectorClock
from dsys.labs import reference_module

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def make_version(self, value: str, context: VectorClock, actor: str) -> lab8.Version:
        return lab8.Version.of(value, VectorClock().increment(actor))  # BUG: no context

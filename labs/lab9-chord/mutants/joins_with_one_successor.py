"""Mutant: a node that joins takes only the owner of its identifier as successor, not the
successor list that came with the answer.

Until its first stabilize it has no second successor: if that one node crashes (or was
already dead: the answer came from a stale table), the newcomer knows nobody else in the
ring and is left alone, a ring of one that nothing leads to. Rare, and only under churn:
a bug written for this lab without a test in mind, which the grader missed (the churn test
passes it on its four seeds; the first it fails is seed 9), so
``a_joiner_survives_its_successor`` was added for it.

Caught by ``a_joiner_survives_its_successor``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def _joined(self, nodes: tuple[str, ...]) -> None:
        super()._joined(nodes[:1])  # BUG: the rest of the answer's successor list is dropped


in_open = lab9.in_open
in_half_open = lab9.in_half_open

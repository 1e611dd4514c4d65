"""Mutant: no ping-req. A ping that goes unanswered is a failed probe.

A lost ping or ack, or a member that one member cannot reach but the others can, is
suspected: under message loss, suspicions (and refutations) multiply, and some become
deaths of live members.

Caught by ``indirect_probes``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def probe_indirectly(self) -> None:
        pass  # BUG: nobody is asked to help

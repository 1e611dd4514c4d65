"""Mutant: a stand-in deletes a hint as soon as it has sent it to its owner.

If the Handoff is lost (or the owner crashes before storing it), the version never reaches
its owner: the hint was the only thing that remembered it.

Caught by ``hints_are_kept_until_acknowledged``.
"""

from __future__ import annotations

from dsys.labs import reference_module
from dsys.replication.quorum import Handoff

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def hand_off(self) -> None:
        for owner in sorted(self.hints):
            for key, versions in sorted(self.hints[owner].items()):
                self.send(owner, Handoff(key, versions))
                self.handed_off(owner, key, versions)  # BUG: deleted before the ack

"""Mutant: hints are handed to the key's first home, not to the home they were meant for.

The first home of the key is a natural guess ("its coordinator"), but the hint names the
home that missed the put: the first home stores the version (which it may have already),
acknowledges it, the hint is deleted, and the home that missed it never gets it.

Caught by ``hints_go_to_their_owner``.
"""

from __future__ import annotations

from dsys.labs import reference_module
from dsys.replication.quorum import Handoff

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def hand_off(self) -> None:
        for owner in sorted(self.hints):
            for key, versions in sorted(self.hints[owner].items()):
                self.send(self.homes(key)[0], Handoff(key, versions))  # BUG: not the owner

    def on_message(self, src: str, msg: object) -> None:
        # the acknowledgement comes from the node it went to: delete the hint then
        if isinstance(msg, lab8.HandoffAck):
            for owner in sorted(self.hints):
                if self.homes(msg.key)[0] == src:
                    self.handed_off(owner, msg.key, msg.versions)
            return
        super().on_message(src, msg)

"""Mutant: a stand-in stores hints, and never hands them back to their owners.

The sloppy quorum works while a home is away, but when it comes back it never learns of
the puts it missed: hints pile up on the stand-ins, and the homes disagree until a read
of each key happens to repair them.

Caught by ``hints_go_to_their_owner``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def hand_off(self) -> None:
        pass  # BUG: hints are never offered

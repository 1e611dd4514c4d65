"""Mutant: a HandoffAck deletes every hinted version of the key, not only those delivered.

A newer version held for the same owner can arrive between the offer and its
acknowledgement (another put during the same outage): the acknowledgement of the older
offer deletes it too, and the owner never gets it.

Caught by ``hints_are_kept_until_acknowledged``.
"""

from __future__ import annotations

from collections.abc import Iterable

from dsys.labs import reference_module

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def handed_off(self, owner: str, key: str, versions: Iterable[lab8.Version]) -> None:
        held = self.hints.get(owner, {})
        if key in held:
            del held[key]  # BUG: the acknowledged versions, and any newer ones
            if not held:
                del self.hints[owner]
            self.save(f"hint/{owner}/{key}", ())

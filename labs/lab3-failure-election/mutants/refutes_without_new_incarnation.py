"""Mutant: a suspected member refutes by spreading ``alive`` with the incarnation it
already has.

``alive(i)`` does not beat ``suspect(i)``: nobody believes the refutation, and the
suspicion becomes death.

Caught by ``refutes_suspicion_of_itself``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def about_me(self, update: lab3.Update) -> None:
        if update.status in (lab3.SUSPECT, lab3.DEAD):
            # BUG: the incarnation must be raised above the one in the news
            self.gossip(lab3.Update(lab3.ALIVE, self.id, self.incarnation))

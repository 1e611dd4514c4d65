"""Mutant: the term and the vote are written to ``self.storage`` but never synced.

Everything works until a crash: then the writes since the last sync (here: all of them)
may be lost. A server that voted for ``b`` in term 5 restarts with no vote (and maybe
an older term), and votes for ``c`` in term 5 too: two leaders in one term.

Caught by ``vote_survives_a_crash``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def persist(self) -> None:
        pass  # BUG: storage writes are durable only once synced

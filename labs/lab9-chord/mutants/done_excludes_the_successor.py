"""Mutant: a node answers "done" only when the target lies strictly between it and its
successor, (n, successor) instead of (n, successor].

A lookup of the successor's own identifier (a key that hashes exactly onto a node, or a
finger start that does) is then passed on instead of answered: to a node that names
nobody closer, so the lookup fails, or goes round the ring.

Caught by ``find_successor_answers``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def on_find_successor(self, src: str, msg: lab9.FindSuccessor) -> None:
        if lab9.in_open(msg.target, self.ident, self.id_of(self.successor)):  # BUG: (n, s]
            self.send(src, lab9.FindSuccessorReply(msg.qid, True,
                                                   (self.successor, *self.successors[1:])))
        else:
            self.send(src, lab9.FindSuccessorReply(
                msg.qid, False, tuple(self.closest_preceding(msg.target))))


in_open = lab9.in_open
in_half_open = lab9.in_half_open

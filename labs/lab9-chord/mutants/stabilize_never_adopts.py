"""Mutant: stabilize copies the successor's list and notifies it, but never adopts the
successor's predecessor, even when it lies between the two.

A node that joins is then never anybody's successor: it notifies its successor (which
takes it as predecessor), but its predecessor keeps pointing past it. Lookups of its keys
go to the node after it.

Caught by ``stabilize_adopts_a_closer_successor``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def on_predecessor_reply(self, src: str, msg: lab9.PredecessorReply) -> None:
        # BUG: the predecessor it names is ignored
        super().on_predecessor_reply(src, lab9.PredecessorReply(None, msg.successors))


in_open = lab9.in_open
in_half_open = lab9.in_half_open

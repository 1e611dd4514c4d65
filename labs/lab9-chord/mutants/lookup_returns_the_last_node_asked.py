"""Mutant: a lookup returns the node that answered "done" (the target's predecessor)
instead of the successor it named.

The classic confusion of find_predecessor and find_successor (Figure 5 of the SIGCOMM
paper): the answering node n' is the one whose interval (n', successor] holds the key;
the key belongs to n'.successor.

Caught by ``lookups_walk_to_the_successor``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def on_find_successor_reply(self, src: str, msg: lab9.FindSuccessorReply) -> None:
        if msg.done:  # BUG: the answer is msg.nodes[0], not the node that answered
            msg = lab9.FindSuccessorReply(msg.qid, True, (src, *msg.nodes))
        super().on_find_successor_reply(src, msg)


in_open = lab9.in_open
in_half_open = lab9.in_half_open

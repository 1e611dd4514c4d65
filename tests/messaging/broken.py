"""Deliberately broken broadcasts: each breaks one property, the way a student might.

The checker tests run them under heavy reordering and duplication and expect the
checkers to catch every one, in words.
"""

from __future__ import annotations

from typing import Any

from dsys.messaging import BestEffortBroadcast, FifoBroadcast, IsisBroadcast, message_id
from dsys.messaging.broadcast import BebMessage
from dsys.messaging.total_order import IsisFinal


class HastyFifo(FifoBroadcast):
    """Delivers a message as soon as its number is not *below* the expected one, so after
    a gap it jumps ahead instead of waiting (and later drops the late message)."""

    def rb_deliver(self, msg: Any) -> None:
        sender = f"{msg.origin}:{msg.epoch}"
        if msg.seq >= self.next_expected.get(sender, 0):
            self.next_expected[sender] = msg.seq + 1
            self.deliver(message_id(msg.origin, msg.epoch, msg.seq), msg.origin, msg.payload)


class FifoCalledCausal(FifoBroadcast):
    """FIFO broadcast sold as causal: per-sender order only."""

    default_name = "causal"


class ArrivalOrder(FifoBroadcast):
    """"Total order" without a sequencer or agreement: everyone delivers in arrival
    order (reliable broadcast with FIFO per sender, but no order across senders)."""

    default_name = "total"


class MinIsis(IsisBroadcast):
    """ISIS with the agreement step wrong: takes the *smallest* proposal, so a member may
    already have delivered a message that then gets a larger timestamp elsewhere."""

    def _record_proposal(self, mid: str, member: str, timestamp: int) -> None:
        waiting = self.proposals.get(mid)
        if waiting is None or member in waiting:
            return
        waiting[member] = timestamp
        if len(waiting) < len(self.members):
            return
        del self.proposals[mid]
        timestamp, proposer = min((ts, node) for node, ts in waiting.items())
        for other in self.others:
            self.links.send(other, f"final:{mid}", IsisFinal(mid, timestamp, proposer))
        self._agree(mid, timestamp, proposer)


class NoDedupe(BestEffortBroadcast):
    """Best-effort broadcast that forgot to ignore the network's duplicates."""

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, BebMessage):
            self.deliver(message_id(msg.origin, msg.epoch, msg.seq), msg.origin, msg.payload)


class Inventive(BestEffortBroadcast):
    """Best-effort broadcast that, on every message, also "delivers" one nobody sent."""

    def on_message(self, src: str, msg: Any) -> None:
        super().on_message(src, msg)
        if isinstance(msg, BebMessage) and msg.seq == 0:
            self.deliver(message_id(msg.origin, msg.epoch, 99), msg.origin, "made up")


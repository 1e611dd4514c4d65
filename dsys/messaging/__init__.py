"""Communication: RPC, the broadcast family, gossip, publish/subscribe, and checkers.

Every protocol here is a :class:`~dsys.Component`, so any node can use it by adding it:
``self.rpc = self.add_component(Rpc())``. Each module reads top-down (messages, state,
handlers, helpers) and names the paper or textbook algorithm it follows.

- :mod:`~dsys.messaging.rpc`: :class:`Rpc`, calls with request ids, timeouts, retries
  with backoff; at-least-once, at-most-once (a duplicate table) and exactly-once.
- :mod:`~dsys.messaging.broadcast`: :class:`BestEffortBroadcast` and the :class:`Broadcast`
  base that every broadcast shares.
- :mod:`~dsys.messaging.reliable`: :class:`ReliableBroadcast`, eager relay: agreement
  despite crashed senders.
- :mod:`~dsys.messaging.fifo`: :class:`FifoBroadcast`, each sender's messages in order.
- :mod:`~dsys.messaging.causal`: :class:`CausalBroadcast`, causal order with vector clocks.
- :mod:`~dsys.messaging.total_order`: :class:`SequencerBroadcast` and
  :class:`IsisBroadcast`, one order for all.
- :mod:`~dsys.messaging.gossip`: :class:`Gossip`, push, pull and push-pull rumor
  spreading (:mod:`dsys.demos.gossip_rounds` measures the rounds it takes to reach
  everyone, in the simulator).
- :mod:`~dsys.messaging.pubsub`: :class:`Broker` and :class:`PubSubClient`, topics
  through a broker.
- :mod:`~dsys.messaging.checkers`: validity, no duplication, no creation, agreement,
  FIFO, causal and total order, judged from a trace.
- :mod:`~dsys.messaging.links`: shared pieces, incarnation epochs and retransmission until
  acknowledged.

Example:
    A FIFO broadcast under loss and reordering, judged by the checkers:

    >>> from dsys import Network, Node, Simulation
    >>> from dsys.messaging import FifoBroadcast, check_broadcast
    >>> class Member(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.bcast = self.add_component(FifoBroadcast())
    ...     def on_start(self) -> None:
    ...         for n in range(3):
    ...             self.bcast.broadcast(f"{self.id}{n}")
    >>> sim = Simulation(seed=1, network=Network(drop=0.2, duplicate=0.2, reorder=0.5))
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Member)
    >>> sim.run(until=2.0)
    >>> print(check_broadcast(sim.trace, FifoBroadcast.guarantees).explain())
    validity, no-duplication, no-creation, agreement, fifo-order: ok (27 deliveries checked)
"""

import importlib
from typing import Any

from dsys.messaging.broadcast import BestEffortBroadcast, Broadcast, Delivery, message_id
from dsys.messaging.causal import CausalBroadcast
from dsys.messaging.checkers import (
    PROPERTIES,
    BroadcastRun,
    Report,
    Violation,
    check_agreement,
    check_broadcast,
    check_causal_order,
    check_fifo_order,
    check_no_creation,
    check_no_duplication,
    check_total_order,
    check_uniform_agreement,
    check_validity,
    read_run,
)
from dsys.messaging.fifo import FifoBroadcast
from dsys.messaging.gossip import Gossip, expected_push_rounds
from dsys.messaging.links import Retransmitter, next_epoch
from dsys.messaging.pubsub import Broker, Event, PubSubClient
from dsys.messaging.reliable import ReliableBroadcast
from dsys.messaging.rpc import Rpc, RpcError, RpcResult
from dsys.messaging.total_order import IsisBroadcast, SequencerBroadcast

__all__ = [
    "PROPERTIES",
    "BestEffortBroadcast",
    "Broadcast",
    "BroadcastRun",
    "Broker",
    "CausalBroadcast",
    "Delivery",
    "Event",
    "FifoBroadcast",
    "Gossip",
    "IsisBroadcast",
    "PubSubClient",
    "ReliableBroadcast",
    "Report",
    "Retransmitter",
    "Rpc",
    "RpcError",
    "RpcResult",
    "SequencerBroadcast",
    "Violation",
    "check_agreement",
    "check_broadcast",
    "check_causal_order",
    "check_fifo_order",
    "check_no_creation",
    "check_no_duplication",
    "check_total_order",
    "check_uniform_agreement",
    "check_validity",
    "expected_push_rounds",
    "message_id",
    "next_epoch",
    "read_run",
]


def __getattr__(name: str) -> Any:
    # Compatibility shim: ``spread_rumor`` and ``RumorRun`` run gossip in the simulator, so
    # they moved to dsys.demos.gossip_rounds (a protocol package never imports the
    # simulator). The old names keep working for now, imported on first use.
    if name in ("RumorRun", "spread_rumor"):
        return getattr(importlib.import_module("dsys.demos.gossip_rounds"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

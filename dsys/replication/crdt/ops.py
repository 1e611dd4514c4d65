"""Operation-based CRDTs (CmRDTs): replicas send operations, not states.

A state-based CRDT ships its whole state and merges it; an *operation-based* one ships
each update, and every replica applies it on arrival (Shapiro et al. 2011, §2.3). An
update runs in two phases:

* ``prepare``, at the replica where it is made (the *source*): read the local state and
  build the operation to send (for an OR-Set remove: the tags of the element seen here);
* ``effect``, at every replica (the source too), when the operation is *delivered*.

Operations are smaller than states, but the price is paid by the delivery layer, which
must give what merge gave for free: every operation delivered **exactly once** at every
replica (no loss: nothing merges a lost operation back in; no duplicates: applying an
increment twice counts it twice), and, unless all operations commute, in an order that
respects their **causality**. Here the delivery layer is a broadcast component of
:mod:`dsys.messaging`: :class:`~dsys.messaging.CausalBroadcast` (reliable, exactly once,
causal order) is the one these CRDTs need.

* :class:`OpCounter`: increments and decrements commute, so the counter needs only
  exactly-once delivery (reliable broadcast is enough).
* :class:`OpORSet` (Spec. 15 of the paper): an add creates a unique tag (here the id of
  the broadcast message that carries it); a remove carries the tags it observed, and
  deletes exactly those. A remove is delivered after the adds it observed only under
  causal order: delivered *before* one of them (which reliable broadcast allows), it
  deletes nothing, the add then arrives and stays, and that replica holds an element
  every other replica removed: the replicas never converge.

Replicas here are *crash-stop*: a node that restarts comes back with empty memory and a
new broadcast incarnation, which missed every earlier operation (a restarted member of a
reliable broadcast is a new member that joined late). Op-based designs need a state
transfer to bring such a replica up to date; the state-based CRDTs of this package
(through :class:`~dsys.replication.crdt.CrdtReplication`) survive restarts as they are.

Example:
    >>> from dsys import Network, Node, Simulation
    >>> from dsys.messaging import CausalBroadcast
    >>> from dsys.replication.crdt import OpORSet
    >>> class Replica(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.cart = OpORSet(self.add_component(CausalBroadcast(), "cart"))
    ...     def on_start(self) -> None:
    ...         if self.id == "a":
    ...             self.cart.add("milk")
    ...             self.cart.add("eggs")
    ...             self.cart.remove("milk")
    >>> sim = Simulation(seed=1, network=Network(drop=0.3, reorder=0.5))
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Replica)
    >>> sim.run(until=2.0)
    >>> [sim.node(n).cart.value for n in ("a", "b", "c")]
    [('eggs',), ('eggs',), ('eggs',)]
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsys.errors import UsageError
from dsys.messaging.broadcast import Broadcast, Delivery
from dsys.replication.crdt.base import amount, scalar_key
from dsys.replication.crdt.sets import Element, element


class OpBased:
    """What the op-based CRDTs share: the broadcast they use, and the trace notes.

    The CRDT takes over the broadcast's ``on_deliver`` callback: give each op-based
    object its own broadcast component (a node may hold several, under different names).
    """

    type_name: ClassVar[str] = ""

    def __init__(self, broadcast: Broadcast) -> None:
        if not isinstance(broadcast, Broadcast):
            raise UsageError(f"an op-based CRDT needs a broadcast component of "
                             f"dsys.messaging, got {type(broadcast).__name__}")
        if broadcast.on_deliver is not None:
            raise UsageError(f"broadcast {type(broadcast).__name__} already delivers to "
                             "someone else: give each op-based CRDT its own broadcast "
                             "component (node.add_component(CausalBroadcast(), NAME))")
        self.broadcast = broadcast
        broadcast.on_deliver = self._delivered

    @property
    def name(self) -> str:
        """The object's name: the name of its broadcast component."""
        return self.broadcast.name

    @property
    def value(self) -> Any:
        """What the application reads."""
        raise NotImplementedError

    def _delivered(self, delivery: Delivery) -> None:
        op = delivery.payload
        if not isinstance(op, dict) or not self.effect(delivery, op):
            # A peer's bug must not crash this replica: the operation is ignored, loudly.
            self.broadcast.log(f"{self.name}: ignored a malformed operation {op!r} "
                               f"from {delivery.origin}")

    def effect(self, delivery: Delivery, op: dict[str, Any]) -> bool:
        """Apply a delivered operation; False if it is malformed."""
        raise NotImplementedError

    def _note(self, op: str, **data: Any) -> None:
        # The update as the convergence checker reads it (kind "note", event "crdt").
        self.broadcast.note("crdt", object=self.name, type=self.type_name, op=op, **data)


class OpCounter(OpBased):
    """An op-based counter: ``increment(by)`` and ``decrement(by)`` broadcast the
    operation; every replica adds it to its value on delivery.

    Example:
        >>> from dsys import Node
        >>> from dsys.messaging import ReliableBroadcast
        >>> class Replica(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.likes = OpCounter(self.add_component(ReliableBroadcast(), "likes"))
    """

    type_name: ClassVar[str] = "op-counter"

    def __init__(self, broadcast: Broadcast) -> None:
        super().__init__(broadcast)
        self._value = 0

    @property
    def value(self) -> int:
        """The sum of the operations delivered here."""
        return self._value

    def increment(self, by: int = 1) -> None:
        """Add ``by`` (>= 1) at every replica."""
        by = amount(by)
        self.broadcast.broadcast({"op": "increment", "by": by})
        self._note("increment", by=by)

    def decrement(self, by: int = 1) -> None:
        """Subtract ``by`` (>= 1) at every replica."""
        by = amount(by)
        self.broadcast.broadcast({"op": "decrement", "by": by})
        self._note("decrement", by=by)

    def effect(self, delivery: Delivery, op: dict[str, Any]) -> bool:
        """Add (or subtract) the delivered amount."""
        by = op.get("by")
        if by.__class__ is not int or by < 1 or op.get("op") not in ("increment", "decrement"):
            return False
        self._value += by if op["op"] == "increment" else -by
        return True


class OpORSet(OpBased):
    """An op-based observed-remove set (add wins): ``add`` and ``remove`` broadcast the
    operation; tags are the ids of the broadcast messages that carry the adds.

    ``tags(element)`` are the tags of ``element`` held here; ``value`` the elements,
    sorted.
    """

    type_name: ClassVar[str] = "op-or-set"

    def __init__(self, broadcast: Broadcast) -> None:
        super().__init__(broadcast)
        self._tags: dict[Element, set[str]] = {}

    @property
    def value(self) -> tuple[Element, ...]:
        """The elements with at least one tag here, sorted."""
        return tuple(sorted((e for e, tags in self._tags.items() if tags), key=scalar_key))

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str | int) or isinstance(item, bool):
            return False
        return bool(self._tags.get(item, ()))

    def tags(self, item: Element) -> tuple[str, ...]:
        """The tags of ``item`` held here, sorted."""
        return tuple(sorted(self._tags.get(item, ())))

    def add(self, item: Element) -> str:
        """Add ``item`` everywhere; returns its tag."""
        item = _element(item)
        tag = self.broadcast.broadcast({"op": "add", "element": item})
        self._note("add", element=item, tag=tag, removes=[])
        return tag

    def remove(self, item: Element) -> bool:
        """Remove ``item`` everywhere: the adds of it observed here. Returns False (and
        sends nothing) if it is not here: there is nothing observed to remove."""
        item = _element(item)
        observed = list(self.tags(item))
        if not observed:
            return False
        self.broadcast.broadcast({"op": "remove", "element": item, "tags": observed})
        self._note("remove", element=item, removes=observed)
        return True

    def effect(self, delivery: Delivery, op: dict[str, Any]) -> bool:
        """An add inserts its tag (the message id); a remove deletes the tags it lists."""
        try:
            item = element(op.get("element"))
        except ValueError:
            return False
        if op.get("op") == "add":
            self._tags.setdefault(item, set()).add(delivery.id)
            return True
        tags = op.get("tags")
        if op.get("op") != "remove" or not isinstance(tags, list) or not all(
                isinstance(t, str) for t in tags):
            return False
        held = self._tags.get(item)
        if held is not None:
            held.difference_update(tags)  # a tag not (yet) here: nothing to delete
        return True


def _element(value: Any) -> Element:
    try:
        return element(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

"""CRDTs: data types that replicas update without coordination, and that still converge.

A conflict-free replicated data type (Shapiro, Preguiça, Baquero and Zawirski, 2011) is
a data type designed so that replicas can accept updates locally, at once, even when cut
off from each other, and still end up in the same state once they have heard of the same
updates, with no consensus, no locks and no rollback. See the concept page
(``docs/concepts/crdts.md``) for the ideas; this package holds:

* state-based CRDTs (CvRDTs): immutable states with ``value``, update operations and a
  ``merge`` that is a semilattice join:
  :class:`GCounter`, :class:`PNCounter` (:mod:`~dsys.replication.crdt.counters`),
  :class:`LWWRegister`, :class:`MVRegister` (:mod:`~dsys.replication.crdt.registers`),
  :class:`ORSet` (:mod:`~dsys.replication.crdt.sets`); their wire form is the codec's
  (:meth:`Crdt.to_json`, :meth:`Crdt.from_json`);
* :class:`CrdtReplication` (:mod:`~dsys.replication.crdt.replication`): a component that
  holds named state-based CRDTs on a node, keeps them in storage and gossips them to
  random peers: ``node.crdts.counter("likes").increment()``;
* op-based CRDTs (CmRDTs) over a broadcast of :mod:`dsys.messaging`: :class:`OpCounter`
  and :class:`OpORSet` (:mod:`~dsys.replication.crdt.ops`);
* the checker :func:`check_crdt_convergence` (:mod:`~dsys.replication.crdt.checkers`).

Example:
    >>> from dsys.replication.crdt import ORSet
    >>> a = ORSet().add("x", "a")
    >>> b = a.remove("x")                  # b removes the x it saw...
    >>> c = a.add("x", "c")                # ...while c adds x again, concurrently
    >>> b.merge(c).value == c.merge(b).value == ("x",)   # add wins, in any order
    True
"""

from dsys.replication.crdt.base import Crdt, Scalar
from dsys.replication.crdt.checkers import (
    CrdtUpdate,
    check_crdt_convergence,
    crdt_states,
    read_crdt_updates,
)
from dsys.replication.crdt.counters import GCounter, PNCounter
from dsys.replication.crdt.ops import OpBased, OpCounter, OpORSet
from dsys.replication.crdt.registers import LWWRegister, MVRegister, Sibling
from dsys.replication.crdt.replication import (
    CounterHandle,
    CrdtGossip,
    CrdtReplication,
    CrdtState,
    GCounterHandle,
    MVRegisterHandle,
    ORSetHandle,
    RegisterHandle,
)
from dsys.replication.crdt.sets import ORSet

__all__ = [
    "CounterHandle",
    "Crdt",
    "CrdtGossip",
    "CrdtReplication",
    "CrdtState",
    "CrdtUpdate",
    "GCounter",
    "GCounterHandle",
    "LWWRegister",
    "MVRegister",
    "MVRegisterHandle",
    "ORSet",
    "ORSetHandle",
    "OpBased",
    "OpCounter",
    "OpORSet",
    "PNCounter",
    "RegisterHandle",
    "Scalar",
    "Sibling",
    "check_crdt_convergence",
    "crdt_states",
    "read_crdt_updates",
]

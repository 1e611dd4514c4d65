"""What every leader election module in :mod:`dsys.election` offers, and the leader probe
that bully and ring share.

An application asks an election module one question: *who leads?* Every module is an
:class:`LeaderElection` component with the same answer: :attr:`LeaderElection.leader` (a node id, or
None while it does not know), :attr:`LeaderElection.epoch` (which election made that leader)
and an ``on_leader(leader, epoch)`` callback. The rules of this file:

* A module decides or learns a leader only through :meth:`LeaderElection.adopt`, which notes
  ``leader`` in the trace (``leader=``, ``epoch=``) before calling the application back,
  so the checkers of :mod:`dsys.election.checkers` judge every module from its trace.
* An epoch names one election, and belongs to one node: node number ``r`` (counting
  from 0 in sorted id order) of ``N`` owns epochs ``r + 1``, ``r + 1 + N``, ``r + 1 +
  2N``... (:func:`owned_epoch`), the trick Paxos uses for its ballot numbers. A node that
  becomes leader takes the next epoch it owns above every epoch it has seen, and
  remembers it in storage (synced before anyone hears of it), so no epoch ever has two
  leaders, even after crashes; :func:`~dsys.election.checkers.check_one_leader_per_epoch`
  checks it. Epochs do not stop two nodes from leading *at the same time* in different
  epochs (a partition does that to bully):
  :func:`~dsys.election.checkers.check_one_leader_at_a_time` shows when.
* ``lost`` is noted when a node stops trusting its leader (the probe went unanswered, an
  election began): it has no leader until the next ``leader`` note.

Bully and ring also need to notice that the coordinator died, which neither paper
specifies beyond "a process notices": Garcia-Molina (1982) has each process ask the
coordinator "are you there?" now and then. :class:`LeaderElection` does that when
``probe_interval`` is set: every ``probe_interval`` seconds a follower sends its leader a
:class:`Probe`; if no :class:`ProbeReply` has come back by the next round, or the reply
says the node no longer leads, it starts an election.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from dsys.core.messages import message
from dsys.core.node import Component
from dsys.errors import ConfigError

# ----- messages ----------------------------------------------------------------------


@message
class Probe:
    """Follower -> its leader: are you there, and do you still lead?"""

    epoch: int


@message
class ProbeReply:
    """Leader -> follower: I am here, and ``leading`` says whether I lead ``epoch``."""

    epoch: int
    leading: bool


def owned_epoch(after: int, node: str, nodes: tuple[str, ...]) -> int:
    """The smallest epoch above ``after`` that ``node`` owns among ``nodes`` (sorted).

    Example:
        >>> [owned_epoch(e, "b", ("a", "b", "c")) for e in (0, 1, 2, 5)]
        [2, 2, 5, 8]
    """
    rank, count = nodes.index(node), len(nodes)
    return after + 1 + (rank - after) % count


#: ``on_leader(leader, epoch)``: called when a node adopts a leader (itself included).
LeaderCallback = Callable[[str, int], None]


class LeaderElection(Component):
    """Base class of the election modules: one answer to "who leads?" per node.

    Every node of the cluster carries the same module as a component, under the name
    ``"election"`` unless given another. Subclasses implement :meth:`start_election` and
    call :meth:`adopt` when they decide or learn the leader.

    Args:
        on_leader: called with ``(leader, epoch)`` each time this node adopts a leader.
        probe_interval: seconds between two probes of the leader (None: never probe; a
            dead leader then goes unnoticed until someone starts an election).

    Example:
        >>> from dsys import Node, Simulation
        >>> from dsys.election import Bully
        >>> class Server(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.election = self.add_component(Bully())
        >>> sim = Simulation(seed=1)
        >>> for name in ("a", "b", "c"):
        ...     sim.add_node(name, Server)
        >>> sim.run(until=1.0)
        >>> [(sim.node(n).election.leader, sim.node(n).election.epoch) for n in "abc"]
        [('c', 3), ('c', 3), ('c', 3)]
    """

    #: Every module, and every subclass of one, is attached under this name unless it
    #: sets its own, so applications and checkers find it as ``"election"``.
    default_name = "election"
    messages: ClassVar[tuple[type, ...]] = (Probe, ProbeReply)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        explicit = "default_name" in cls.__dict__
        super().__init_subclass__(**kwargs)  # (Component would name it after the class)
        if not explicit:
            cls.default_name = "election"

    def __init__(self, on_leader: LeaderCallback | None = None, *,
                 probe_interval: float | None = None) -> None:
        if probe_interval is not None and probe_interval <= 0:
            raise ConfigError(f"probe_interval must be > 0 (or None), got {probe_interval}")
        #: Called with ``(leader, epoch)`` when this node adopts a leader.
        self.on_leader = on_leader
        self.probe_interval = probe_interval
        #: The leader this node trusts, or None while it knows none.
        self.leader: str | None = None
        #: The epoch of that leader (of the last one, while there is none).
        self.epoch = 0
        #: The highest epoch this node has seen or chosen.
        self.seen_epoch = 0
        self._probing = False  # a probe is out and unanswered

    @property
    def is_leader(self) -> bool:
        """True while this node trusts itself as the leader."""
        return self.leader == self.node.id

    # ----- the algorithm's side ------------------------------------------------------

    def start_election(self) -> None:
        """Begin an election from this node (the module's own rules)."""
        raise NotImplementedError

    def adopt(self, leader: str, epoch: int) -> None:
        """Trust ``leader`` as the leader of ``epoch``: note it, then call back."""
        self.leader, self.epoch = leader, epoch
        self._probing = False
        self.note("leader", leader=leader, epoch=epoch)
        if self.on_leader is not None:
            self.on_leader(leader, epoch)

    def observe(self, epoch: int) -> None:
        """Remember that epoch ``epoch`` exists (a message mentioned it)."""
        self.seen_epoch = max(self.seen_epoch, epoch)

    def new_epoch(self) -> int:
        """Choose a fresh epoch of this node's own, above every epoch seen, and keep it
        in storage (synced: a crash cannot make this node choose it again)."""
        nodes = tuple(sorted((self.node.id, *self.peers)))
        epoch = owned_epoch(max(self.seen_epoch, self.storage.get(self._epoch_key, 0)),
                            self.node.id, nodes)
        self.seen_epoch = epoch
        self.storage[self._epoch_key] = epoch
        self.storage.sync()
        return epoch

    @property
    def _epoch_key(self) -> str:
        return f"{self.name}.epoch"

    def forget(self, why: str) -> None:
        """Stop trusting the current leader (noted as ``lost``, with ``why``)."""
        if self.leader is not None:
            self.note("lost", leader=self.leader, epoch=self.epoch, why=why)
        self.leader = None
        self._probing = False

    # ----- the probe (Garcia-Molina's "are you there?") --------------------------------

    def on_start(self) -> None:
        self.seen_epoch = self.storage.get(self._epoch_key, 0)
        if self.probe_interval is not None:
            self.set_timer("probe", self.probe_interval)

    def on_timer(self, name: str) -> None:
        if name != "probe":
            return
        assert self.probe_interval is not None
        self.set_timer("probe", self.probe_interval)
        if self.leader is None or self.is_leader:
            self._probing = False
        elif self._probing:  # the last probe went unanswered for a whole interval
            self.forget("the leader did not answer a probe")
            self.start_election()
        else:
            self._probing = True
            self.send(self.leader, Probe(self.epoch))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Probe(epoch=epoch):
                self.send(src, ProbeReply(epoch, self.is_leader and self.epoch == epoch))
            case ProbeReply(leading=True) if src == self.leader:
                self._probing = False
            case ProbeReply(epoch=epoch) if src == self.leader and epoch == self.epoch:
                self.forget(f"{src} no longer leads epoch {epoch}")
                self.start_election()
            case ProbeReply():
                pass  # a late reply from a former leader

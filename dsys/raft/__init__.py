"""Raft consensus (Ongaro & Ousterhout 2014): leader election, log replication,
persistence, with pre-vote and check-quorum; snapshots (§7), membership changes and
leadership transfer (Ongaro's thesis ch. 4, §3.10), ReadIndex reads (§6.4); and checkers
for its safety properties.

* :class:`Raft`: one server, as a :class:`~dsys.Component` a service node holds;
  ``start(command)`` proposes a command, committed commands are applied in order to a
  :class:`StateMachine` (and reported through ``on_apply``); ``snapshot(index, data)``
  compacts the log; ``read(callback)`` serves a linearizable read; ``add_server``,
  ``remove_server`` and ``transfer_leadership`` change the group;
* :mod:`dsys.raft.messages`: RequestVote, AppendEntries, InstallSnapshot, TimeoutNow,
  their replies, :class:`Entry`;
* :mod:`dsys.raft.checkers`: election safety, log matching, leader completeness, state
  machine safety and applied-index monotonicity, over a trace (``check_*``) or as
  invariants on live nodes (``*_invariant``, for ``sim.add_invariant`` and
  ``Search.add_invariant``).

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.raft import Raft, check_all
    >>> class Server(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.raft = self.add_component(Raft())
    >>> sim = Simulation(seed=4)
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Server)
    >>> sim.run(until=1.0)
    >>> leader = next(n for n in ("a", "b", "c") if sim.node(n).raft.is_leader)
    >>> sim.node(leader).raft.start("x") is not None
    True
    >>> sim.run(until=1.5)
    >>> [sim.node(n).raft.last_applied for n in ("a", "b", "c")]  # the no-op, then "x"
    [2, 2, 2]
    >>> check_all(sim.trace).ok
    True
"""

from dsys.raft.checkers import (
    AppliedNeverGoesBack,
    Report,
    StateMachineSafety,
    Violation,
    applied_in_bounds_invariant,
    check_all,
    check_applied_monotonic,
    check_election_safety,
    check_leader_completeness,
    check_log_matching,
    check_state_machine_safety,
    election_safety_invariant,
    invariants,
    leader_completeness_invariant,
    log_matching_invariant,
    run_invariants,
    state_machine_safety_invariant,
)
from dsys.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    RequestVote,
    RequestVoteReply,
    TimeoutNow,
)
from dsys.raft.raft import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    TRANSITIONS,
    ApplyCallback,
    Configuration,
    Raft,
    ReadCallback,
    Role,
    StateMachine,
)

__all__ = [
    "CANDIDATE",
    "FOLLOWER",
    "LEADER",
    "TRANSITIONS",
    "AppendEntries",
    "AppendEntriesReply",
    "AppliedNeverGoesBack",
    "ApplyCallback",
    "Configuration",
    "Entry",
    "InstallSnapshot",
    "InstallSnapshotReply",
    "Raft",
    "ReadCallback",
    "Report",
    "RequestVote",
    "RequestVoteReply",
    "Role",
    "StateMachine",
    "StateMachineSafety",
    "TimeoutNow",
    "Violation",
    "applied_in_bounds_invariant",
    "check_all",
    "check_applied_monotonic",
    "check_election_safety",
    "check_leader_completeness",
    "check_log_matching",
    "check_state_machine_safety",
    "election_safety_invariant",
    "invariants",
    "leader_completeness_invariant",
    "log_matching_invariant",
    "run_invariants",
    "state_machine_safety_invariant",
]

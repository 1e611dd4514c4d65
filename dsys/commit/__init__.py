"""Atomic commitment: two-phase commit with a write-ahead log, and its checkers.

A :class:`Coordinator` runs two-phase commit for a list of :class:`Transaction`\\ s (each a
set of participants and the writes each applies on commit); each :class:`Participant`
locks the keys, votes (no on a lock conflict), logs before it votes, and obeys the
decision. Both recover from crashes from their log in ``storage``; an in-doubt participant
holds its locks and asks the coordinator and the other participants (cooperative
termination). :func:`check_atomicity` and :func:`check_validity` judge a trace. See the
concept page "Distributed commit".

Example:
    >>> from dsys import Simulation
    >>> from dsys.commit import (Coordinator, Participant, Transaction, check_atomicity,
    ...                          check_validity)
    >>> sim = Simulation(seed=2)
    >>> tx = Transaction("t1", {"rm1": {"x": "1"}, "rm2": {"y": "2"}})
    >>> sim.add_node("tm", lambda: Coordinator([tx]))
    >>> sim.add_node("rm1", Participant)
    >>> sim.add_node("rm2", lambda: Participant(refuse=["t1"]))
    >>> sim.run(until=2.0)
    >>> sim.nodes["tm"].decision("t1"), sim.nodes["rm1"].outcome("t1")
    ('abort', 'aborted')
    >>> bool(check_atomicity(sim.trace)) and bool(check_validity(sim.trace))
    True
"""

from dsys.commit.checkers import check_atomicity, check_validity
from dsys.commit.two_phase import (
    Ack,
    Coordinator,
    Decision,
    DecisionRequest,
    Participant,
    Prepare,
    Transaction,
    Vote,
)

__all__ = [
    "Ack",
    "Coordinator",
    "Decision",
    "DecisionRequest",
    "Participant",
    "Prepare",
    "Transaction",
    "Vote",
    "check_atomicity",
    "check_validity",
]

"""Deliberately broken Paxos acceptors: each breaks one rule of :mod:`dsys.paxos`, and the
tests show the checkers (and the model checker) catch it."""

from __future__ import annotations

from dsys.paxos import Accepted, Ballot, PaxosServer, Promise
from dsys.paxos.multi import MultiPaxosServer


class CarelessAcceptor(PaxosServer):
    """Accepts every Accept, ignoring the ballot it promised: two values can be chosen."""

    def on_accept(self, src: str, ballot: Ballot, value: str) -> None:
        self.accepted, self.accepted_value = ballot, value
        self.persist()
        self.note("accept", slot=0, ballot=list(ballot), value=value)
        self.tell(src, Accepted(ballot))


class ForgetfulAcceptor(PaxosServer):
    """Promises without writing the promise to storage: after a crash and restart it has
    forgotten it, and accepts a lower ballot it had promised to ignore."""

    def on_prepare(self, src: str, ballot: Ballot) -> None:
        if ballot > self.promised:
            self.promised = ballot  # BUG: not persisted before the reply
            self.tell(src, Promise(ballot, self.accepted, self.accepted_value))



class AmnesiacAcceptor(PaxosServer):
    """Keeps its promise and acceptance in memory only (the learner's value and the client
    requests still reach the disk): after a restart it has forgotten a value it accepted,
    so a later ballot's phase 1 can miss a chosen value and choose another."""

    def persist(self) -> None:
        self.storage.update({"promised": None, "accepted": None, "decided": self.decided,
                             "requests": self.requests})  # BUG: the acceptor's state is lost
        self.storage.sync()


class LeaderWithoutRecovery(MultiPaxosServer):
    """A new leader that ignores what the promises report: it fills its unknown slots
    with no-ops instead of re-proposing the highest accepted command (no recovery)."""

    def become_leader(self) -> None:
        self.promises = {src: () for src in self.promises}  # BUG: the reports are dropped
        super().become_leader()

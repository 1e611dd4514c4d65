"""Deliberately broken two-phase commit variants, and the cluster the tests run them in.

Each breaks one rule of :mod:`dsys.commit.two_phase`; the tests show the unit tests, the
scenarios and the checkers catch it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dsys import Network, Simulation
from dsys.commit import Coordinator, Decision, Participant, Prepare, Transaction, Vote


class VotesBeforeLogging(Participant):
    """Sends its yes vote first and logs ``prepared`` after, without syncing it."""

    def on_prepare(self, coordinator: str, msg: Prepare) -> None:
        if self.record(msg.txid) is not None or msg.txid in self.refuse:
            super().on_prepare(coordinator, msg)
            return
        self.note("vote", txid=msg.txid, yes=True)
        self.send(coordinator, Vote(msg.txid, True))
        self.storage[f"tx/{msg.txid}"] = {  # BUG: after the vote, and never synced
            "state": "prepared", "coordinator": coordinator,
            "participants": list(msg.participants), "writes": dict(msg.writes)}
        for key, _ in msg.writes:
            self.locks[key] = msg.txid
        self.set_timer("ask", self.ask)


class SendsBeforeLogging(Coordinator):
    """Sends its decision first and logs it after, without syncing it."""

    def decide(self, txid: str, commit: bool) -> None:
        self.note("decide", txid=txid, commit=commit)
        for participant in self.transactions[txid].participants:
            self.send(participant, Decision(txid, commit))
        self.storage[f"decision/{txid}"] = "commit" if commit else "abort"  # BUG: unsynced


class DecidesAloneOnTimeout(Participant):
    """In doubt, it gives up waiting and aborts on its own."""

    def on_in_doubt_timeout(self, txid: str) -> None:
        self.apply(txid, commit=False)  # BUG: it voted yes; only the decision may say abort


#: Eight transactions over three participants, one every 0.25 s: overlapping keys (so some
#: lose a lock conflict and vote no) and one (``t3``) that ``rm3`` refuses.
TRANSACTIONS = (
    Transaction("t1", {"rm1": {"x": "1"}, "rm2": {"y": "1"}, "rm3": {"z": "1"}}),
    Transaction("t2", {"rm1": {"x": "2"}, "rm2": {"w": "2"}}, at=0.25),
    Transaction("t3", {"rm2": {"v": "3"}, "rm3": {"u": "3"}}, at=0.5),
    Transaction("t4", {"rm1": {"s": "4"}, "rm3": {"r": "4"}}, at=0.75),
    Transaction("t5", {"rm1": {"x": "5"}, "rm2": {"y": "5"}, "rm3": {"z": "5"}}, at=1.0),
    Transaction("t6", {"rm2": {"y": "6"}, "rm3": {"q": "6"}}, at=1.25),
    Transaction("t7", {"rm1": {"p": "7"}, "rm2": {"o": "7"}, "rm3": {"n": "7"}}, at=1.5),
    Transaction("t8", {"rm1": {"x": "8"}, "rm3": {"z": "8"}}, at=1.75),
)


def cluster(seed: int, *, coordinator: Callable[..., Coordinator] = Coordinator,
            participant: Callable[..., Participant] = Participant,
            transactions: Sequence[Transaction] = TRANSACTIONS,
            network: Network | None = None) -> Simulation:
    """A coordinator ``tm`` and participants ``rm1``..``rm3`` (``rm3`` refuses ``t3``)."""
    sim = Simulation(seed=seed, network=network or Network())
    sim.add_node("tm", lambda: coordinator(transactions))
    sim.add_node("rm1", participant)
    sim.add_node("rm2", participant)
    sim.add_node("rm3", lambda: participant(refuse=["t3"]))
    return sim

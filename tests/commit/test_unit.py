"""Unit tests with the NodeHarness: the write-ahead rules, recovery, cooperative termination."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dsys.commit import (
    Ack,
    Coordinator,
    Decision,
    DecisionRequest,
    Participant,
    Prepare,
    Transaction,
    Vote,
)
from dsys.errors import ConfigError
from dsys.testing import NodeHarness
from dsys.testing.harness import Effect, Note, Sent, StorageSync
from tests.commit.broken import SendsBeforeLogging, VotesBeforeLogging

TX = Transaction("t1", {"rm1": {"x": "1"}, "rm2": {"y": "2"}})
PREPARE = Prepare("t1", ("rm1", "rm2"), (("x", "1"),))


def logged_before_sent(effects: Sequence[Effect], key: str, msg_type: type) -> bool:
    """True if every ``msg_type`` sent follows a sync that made ``key`` durable."""
    synced = False
    sent = False
    for effect in effects:
        if isinstance(effect, StorageSync) and key in effect.keys:
            synced = True
        if isinstance(effect, Sent) and isinstance(effect.msg, msg_type):
            sent = True
            if not synced:
                return False
    return sent


def rm(h: NodeHarness) -> Participant:
    """The participant under test."""
    node = h.node
    assert isinstance(node, Participant)
    return node


def participant(factory: type[Participant] = Participant) -> NodeHarness:
    h = NodeHarness(factory, "rm1", peers=("rm2", "tm"))
    h.start()
    return h


def coordinator(factory: type[Coordinator] = Coordinator) -> NodeHarness:
    return NodeHarness(lambda: factory([TX]), "tm", peers=("rm1", "rm2"))


# ----- log before the vote ------------------------------------------------------------------


def test_participant_syncs_prepared_before_voting_yes() -> None:
    h = participant()
    effects = h.deliver("tm", PREPARE)
    assert h.sent(Vote) == [Sent("tm", Vote("t1", True))]
    assert logged_before_sent(effects, "tx/t1", Vote)
    assert h.storage.durable_text("tx/t1") is not None
    assert rm(h).locks == {"x": "t1"}


def test_participant_syncs_abort_before_voting_no() -> None:
    h = NodeHarness(lambda: Participant(refuse=["t1"]), "rm1", peers=("rm2", "tm"))
    h.start()
    effects = h.deliver("tm", PREPARE)
    assert h.sent(Vote) == [Sent("tm", Vote("t1", False))]
    assert logged_before_sent(effects, "tx/t1", Vote)
    assert rm(h).outcome("t1") == "aborted"


def test_broken_participant_that_votes_before_logging_is_caught() -> None:
    h = participant(VotesBeforeLogging)
    effects = h.deliver("tm", PREPARE)
    assert not logged_before_sent(effects, "tx/t1", Vote)
    h.crash()  # the unsynced record is lost: it forgot its yes vote
    h.recover()
    assert rm(h).outcome("t1") is None


# ----- log before the decision -------------------------------------------------------------


def test_coordinator_syncs_decision_before_sending_it() -> None:
    h = coordinator()
    h.start()
    assert {s.dst for s in h.sent(Prepare)} == {"rm1", "rm2"}
    h.deliver("rm1", Vote("t1", True))
    assert h.sent(Decision) == []
    effects = h.deliver("rm2", Vote("t1", True))
    assert logged_before_sent(effects, "decision/t1", Decision)
    assert [(s.dst, s.msg) for s in h.sent(Decision)] == [
        ("rm1", Decision("t1", True)), ("rm2", Decision("t1", True))]


def test_coordinator_aborts_at_the_first_no_after_logging_it() -> None:
    h = coordinator()
    h.start()
    effects = h.deliver("rm2", Vote("t1", False))
    assert logged_before_sent(effects, "decision/t1", Decision)
    assert {s.msg for s in h.sent(Decision)} == {Decision("t1", False)}


def test_broken_coordinator_that_sends_before_logging_is_caught() -> None:
    h = coordinator(SendsBeforeLogging)
    h.start()
    h.deliver("rm1", Vote("t1", True))
    effects = h.deliver("rm2", Vote("t1", True))
    assert not logged_before_sent(effects, "decision/t1", Decision)


# ----- recovery -------------------------------------------------------------------------------


def test_coordinator_resends_its_logged_decision_after_a_crash() -> None:
    h = coordinator()
    h.start()
    h.deliver("rm1", Vote("t1", True))
    h.deliver("rm2", Vote("t1", True))
    h.crash()
    h.clear()
    h.recover()
    assert {s.msg for s in h.sent(Decision)} == {Decision("t1", True)}
    assert h.sent(Decision, to="rm1") and h.sent(Decision, to="rm2")


def test_coordinator_aborts_what_it_never_decided_after_a_crash() -> None:
    h = coordinator()
    h.start()
    h.deliver("rm1", Vote("t1", True))  # rm2's vote never arrives
    h.crash()
    h.clear()
    effects = h.recover()
    assert logged_before_sent(effects, "decision/t1", Decision)
    assert {s.msg for s in h.sent(Decision)} == {Decision("t1", False)}


def test_coordinator_answers_requests_only_once_decided() -> None:
    h = coordinator()
    h.start()
    h.clear()
    h.deliver("rm1", DecisionRequest("t1"))
    assert h.sent(Decision) == []  # still voting: it will decide, it does not guess
    h.deliver("rm1", DecisionRequest("t9"))
    assert h.sent(Decision) == [Sent("rm1", Decision("t9", False))]  # presumed abort
    h.deliver("rm1", Vote("t1", True))
    h.deliver("rm2", Vote("t1", True))
    h.clear()
    h.deliver("rm2", DecisionRequest("t1"))  # decided since: the answer is the decision
    assert h.sent(Decision) == [Sent("rm2", Decision("t1", True))]


def test_prepared_participant_recovers_in_doubt_holding_its_locks() -> None:
    h = participant()
    h.deliver("tm", PREPARE)
    h.crash()
    effects = h.recover()
    assert Note("in_doubt", {"txid": "t1"}) in effects
    assert rm(h).in_doubt() == ["t1"] and rm(h).locks == {"x": "t1"}
    h.clear()
    h.advance(1.0)
    asked = {s.dst for s in h.sent(DecisionRequest)}
    assert asked == {"tm", "rm2"}  # the coordinator and the other participant
    assert rm(h).in_doubt() == ["t1"]  # asking never decides
    # a conflicting transaction cannot take the lock while t1 is in doubt
    h.deliver("tm", Prepare("t2", ("rm1",), (("x", "9"),)))
    assert Sent("tm", Vote("t2", False)) in h.sent(Vote)
    h.deliver("rm2", Decision("t1", True))
    assert rm(h).outcome("t1") == "committed" and h.storage["data/x"] == "1"
    assert rm(h).locks == {}


def test_participant_acks_the_coordinator_only() -> None:
    h = participant()
    h.deliver("tm", PREPARE)
    h.deliver("tm", Decision("t1", False))
    assert h.sent(Ack) == [Sent("tm", Ack("t1"))]
    assert rm(h).outcome("t1") == "aborted" and "data/x" not in h.storage


# ----- cooperative termination ----------------------------------------------------------------


def test_participant_that_has_not_voted_aborts_and_answers() -> None:
    h = participant()
    effects = h.deliver("rm2", DecisionRequest("t1"))
    assert logged_before_sent(effects, "tx/t1", Decision)
    assert h.sent(Decision) == [Sent("rm2", Decision("t1", False))]
    h.deliver("tm", PREPARE)  # too late: it aborted
    assert h.sent(Vote) == [Sent("tm", Vote("t1", False))]


def test_in_doubt_participant_does_not_answer_and_decided_one_does() -> None:
    h = participant()
    h.deliver("tm", PREPARE)
    h.clear()
    h.deliver("rm2", DecisionRequest("t1"))
    assert h.sent(Decision) == []
    h.deliver("tm", Decision("t1", True))
    h.clear()
    h.deliver("rm2", DecisionRequest("t1"))
    assert h.sent(Decision) == [Sent("rm2", Decision("t1", True))]


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one participant"):
        Transaction("t1", {})
    with pytest.raises(ConfigError, match="str keys to str values"):
        Transaction("t1", {"rm1": {"x": 1}})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="at least one Transaction"):
        NodeHarness(lambda: Coordinator([]), "tm", peers=("rm1",)).start()


def test_a_decision_learnt_from_another_participant_is_acknowledged_to_no_one() -> None:
    # Cooperative termination: rm2 tells rm1 the outcome. Only the coordinator recorded
    # in rm1's log (tm) waits for acknowledgements; rm2 gets none.
    h = participant()
    h.deliver("tm", PREPARE)
    h.clear()
    h.deliver("rm2", Decision("t1", True))
    assert h.sent(Ack) == []
    h.deliver("tm", Decision("t1", True))
    assert h.sent(Ack) == [Sent("tm", Ack("t1"))]

"""Multi-Paxos, the branches the fault runs rarely decide on (issue 21: the gaps one-token
mutants of ``dsys/paxos`` showed): an acceptor's refusals, which ``Nack`` deposes whom,
the leader's bookkeeping (who gets the answer, how many slots a catch-up sends, when a
proposal is sent again and to whom), the election timer's bounds, the log lines a reader
of the trace sees, the key-value store's duplicate rules, and the client's way round the
servers. Each is one handler at a time on a :class:`~dsys.testing.NodeHarness`: cheap,
and exact where a run under faults would only notice a slower convergence."""

from __future__ import annotations

import functools

import pytest

from dsys.paxos.multi import (
    CATCH_UP_BATCH,
    NOOP,
    Accept,
    Accepted,
    CatchUp,
    Chosen,
    Command,
    Heartbeat,
    KVStore,
    MultiPaxosClient,
    MultiPaxosServer,
    Nack,
    NotLeader,
    Prepare,
    Promise,
    Reply,
    Request,
)
from dsys.testing import NodeHarness
from dsys.testing.harness import Completed

SERVERS = ("s1", "s2", "s3", "s4", "s5")
CLIENTS = ("c1", "c2")
A = Command("c1-1", 1, "put", "x", "a")
B = Command("c1-1", 2, "append", "x", "b")


def server(node_id: str = "s1", seed: int = 0, **kw: float) -> NodeHarness:
    peers = tuple(s for s in SERVERS if s != node_id)
    h = NodeHarness(functools.partial(MultiPaxosServer, **kw), node_id, peers,
                    clients=CLIENTS, seed=seed)
    h.start()
    return h


def leader(heartbeat: float = 0.05) -> NodeHarness:
    """s1, leading with ballot (1, s1): it timed out, and s2 and s3 promised."""
    h = server(heartbeat=heartbeat)
    h.fire("election")
    for peer in ("s2", "s3"):
        h.deliver(peer, Promise((1, "s1"), ()))
    assert h.node.is_leader  # type: ignore[attr-defined]
    h.clear()
    return h


def role(h: NodeHarness) -> str:
    return str(h.node.role)  # type: ignore[attr-defined]


# ----- the acceptor's refusals ---------------------------------------------------------------


def test_an_acceptor_refuses_an_accept_below_its_promise_with_a_nack() -> None:
    h = server("s2")
    h.deliver("s4", Prepare((3, "s4"), 1))
    h.clear()
    h.deliver("s1", Accept((2, "s1"), 1, A))
    assert [(s.dst, s.msg) for s in h.sent()] == [("s1", Nack((2, "s1"), (3, "s4")))]
    assert h.notes == [] and h.node.accepted == {}  # type: ignore[attr-defined]
    # at the promised ballot itself it accepts
    h.deliver("s4", Accept((3, "s4"), 1, A))
    assert [s.msg for s in h.sent(to="s4")][-1] == Accepted((3, "s4"), 1)


def test_a_heartbeat_below_the_promise_is_refused_and_not_followed() -> None:
    h = server("s2")
    h.deliver("s4", Prepare((3, "s4"), 1))
    h.clear()
    h.deliver("s1", Heartbeat((2, "s1"), 5))
    assert [(s.dst, s.msg) for s in h.sent()] == [("s1", Nack((2, "s1"), (3, "s4")))]
    assert h.node.leader is None  # type: ignore[attr-defined]


def test_an_accept_already_held_is_acknowledged_again_without_a_second_write() -> None:
    h = server("s2")
    h.deliver("s1", Accept((1, "s1"), 1, A))
    h.clear()
    h.deliver("s1", Accept((1, "s1"), 1, A))  # a retransmission
    assert [s.msg for s in h.sent()] == [Accepted((1, "s1"), 1)]
    assert h.notes == []  # the protocol step happened once


# ----- who a Nack deposes ----------------------------------------------------------------------


def test_a_nack_deposes_a_leader_only_with_a_ballot_above_its_own() -> None:
    h = leader()
    h.deliver("s4", Nack((1, "s1"), (1, "s1")))  # a stale refusal: not higher than ours
    h.deliver("s4", Nack((1, "s1"), (0, "")))
    assert h.node.is_leader and "heartbeat" in h.timers  # type: ignore[attr-defined]
    h.deliver("s4", Nack((1, "s1"), (2, "s4")))
    assert role(h) == "follower" and "heartbeat" not in h.timers
    assert h.node.leader is None  # type: ignore[attr-defined]
    h.fire("election")  # the next ballot goes above the one the Nack reported
    assert [s.msg for s in h.sent(Prepare, to="s2")][-1].ballot == (3, "s1")


def test_a_candidate_gives_up_only_for_a_higher_ballot() -> None:
    h = server()
    h.fire("election")
    h.deliver("s2", Nack((1, "s1"), (0, "")))
    assert role(h) == "candidate"
    h.deliver("s2", Nack((1, "s1"), (4, "s5")))
    assert role(h) == "follower"


def test_a_late_nack_does_not_make_a_follower_forget_its_leader() -> None:
    h = server()
    h.deliver("s4", Heartbeat((2, "s4"), 1))
    h.deliver("s3", Nack((1, "s1"), (3, "s3")))  # an answer to a ballot of long ago
    assert role(h) == "follower" and h.node.leader == "s4"  # type: ignore[attr-defined]
    h.clear()
    h.deliver("c1", Request(A))  # it still points clients to the leader it follows
    assert [s.msg for s in h.sent(to="c1")] == [NotLeader("c1-1", 1, "s4")]


# ----- the leader's bookkeeping ----------------------------------------------------------------


def test_a_retried_command_is_answered_where_it_was_asked_last() -> None:
    h = leader()
    h.deliver("c1", Request(A))
    h.deliver("c2", Request(A))  # the same command, now asked from elsewhere
    assert len(h.sent(Accept, to="s2")) == 1  # proposed once
    for peer in ("s2", "s3"):
        h.deliver(peer, Accepted((1, "s1"), 1))
    replies = [(s.dst, s.msg) for s in h.sent(Reply)]
    assert replies == [("c2", Reply("c1-1", 1, "a"))]
    h.clear()
    h.deliver("c1", Request(A))  # applied already: answered at once, not proposed again
    assert [(s.dst, s.msg) for s in h.sent()] == [("c1", Reply("c1-1", 1, "a"))]


def test_a_catch_up_sends_one_batch_of_the_chosen_slots() -> None:
    h = leader()
    for slot in range(1, CATCH_UP_BATCH + 20):
        h.deliver("s2", Chosen(slot, Command("c1-1", slot, "append", "x", ".")))
    h.clear()
    h.deliver("s3", CatchUp(1))
    slots = [s.msg.slot for s in h.sent(Chosen, to="s3")]
    assert slots == list(range(1, CATCH_UP_BATCH + 1))
    h.clear()
    h.deliver("s3", CatchUp(CATCH_UP_BATCH + 10))  # from the middle: what there is
    assert [s.msg.slot for s in h.sent(Chosen)] == list(range(CATCH_UP_BATCH + 10,
                                                             CATCH_UP_BATCH + 20))


def test_a_learner_asks_to_catch_up_only_when_it_lacks_slots() -> None:
    h = server("s2")
    h.deliver("s1", Heartbeat((1, "s1"), 1))  # nothing chosen yet: nothing to ask
    assert h.sent(CatchUp) == []
    h.deliver("s1", Chosen(1, A))
    h.deliver("s1", Heartbeat((1, "s1"), 2))  # it has slot 1, the leader knows slot 1
    assert h.sent(CatchUp) == []
    h.deliver("s1", Heartbeat((1, "s1"), 4))  # slots 2 and 3 chosen: ask from 2
    assert [s.msg for s in h.sent(CatchUp)] == [CatchUp(2)]


def test_a_proposal_is_sent_again_after_a_heartbeat_period_to_those_that_did_not_accept(
) -> None:
    h = leader(heartbeat=0.05)
    h.deliver("c1", Request(A))
    h.deliver("s2", Accepted((1, "s1"), 1))
    h.clear()
    h.advance(0.049)  # within the period: nothing is due
    assert h.sent(Accept) == []
    h.advance(0.001)  # the heartbeat: the proposal is a period old
    assert sorted(s.dst for s in h.sent(Accept)) == ["s3", "s4", "s5"]
    assert sorted(s.dst for s in h.sent(Heartbeat)) == ["s2", "s3", "s4", "s5"]
    assert h.timers["heartbeat"] == pytest.approx(0.1)


def test_the_election_timeout_is_drawn_between_one_and_two_timeouts() -> None:
    deadlines = []
    for seed in range(12):
        h = server(seed=seed, election_timeout=0.3)
        deadlines.append(h.timers["election"])
    assert all(0.3 <= d <= 0.6 for d in deadlines), deadlines
    assert len(set(deadlines)) == len(deadlines)
    assert min(deadlines) < 0.4 and max(deadlines) > 0.5  # spread over the range


def test_a_lone_server_leads_and_chooses_on_its_own() -> None:
    h = NodeHarness(MultiPaxosServer, "s1", (), clients=CLIENTS)
    h.start()
    h.fire("election")
    assert h.node.is_leader  # type: ignore[attr-defined]
    h.deliver("c1", Request(A))
    assert [(s.dst, s.msg) for s in h.sent(Reply)] == [("c1", Reply("c1-1", 1, "a"))]


# ----- what the log says --------------------------------------------------------------------------


def test_the_log_tells_phase_1_leading_and_stepping_down() -> None:
    h = server()
    h.deliver("s4", Heartbeat((2, "s4"), 1))
    h.fire("election")
    h.deliver("s2", Promise((3, "s1"), ((2, (1, "s2"), A),)))
    h.deliver("s3", Promise((3, "s1"), ()))
    h.deliver("s5", Nack((3, "s1"), (4, "s5")))
    assert h.logs == [
        "phase 1 with ballot (3, 's1') from slot 1",
        "leading with ballot (3, 's1'): recovered 1 slot(s), filling 1 gap(s)",
        "stepping down from ballot (3, 's1')",
    ]


def test_a_candidate_that_gives_up_does_not_claim_to_step_down_from_leading() -> None:
    h = server()
    h.fire("election")
    h.deliver("s4", Heartbeat((2, "s4"), 1))  # a live leader: the candidate follows it
    assert role(h) == "follower" and h.node.leader == "s4"  # type: ignore[attr-defined]
    assert not any("stepping down" in line for line in h.logs)


# ----- the state machine -----------------------------------------------------------------------


def test_the_store_applies_each_command_of_a_session_once_in_order() -> None:
    store = KVStore()
    assert store.apply(A) == "a" and store.apply(B) == "ab"
    assert store.apply(A) == "ab"  # overtaken by a later command: the last result
    assert store.data == {"x": "ab"}
    assert store.result("c1-1", 2) == "ab" and store.result("c1-1", 1) is None
    assert store.result("c9", 1) is None
    assert store.apply(NOOP) == "" and store.sessions == {"c1-1": (2, "ab")}
    assert store.apply(Command("c2-1", 1, "get", "y", "")) == ""
    assert store.data == {"x": "ab"}  # a get of a missing key writes nothing


# ----- the client ------------------------------------------------------------------------------


def client(**kw: float) -> NodeHarness:
    h = NodeHarness(functools.partial(MultiPaxosClient, SERVERS, **kw), "c1", SERVERS)
    h.start()
    return h


def targets(h: NodeHarness) -> list[str]:
    return [s.dst for s in h.sent(Request)]


def test_the_client_tries_the_servers_round_robin_on_silence() -> None:
    h = client(retry=0.1, op_timeout=5.0)
    h.invoke({"f": "put", "key": "x", "value": "v"})
    for _ in range(len(SERVERS)):
        h.fire("retry")
    assert targets(h) == [*SERVERS, "s1"]


def test_the_client_follows_a_hint_unless_it_names_the_sender_or_nobody() -> None:
    h = client()
    h.invoke({"f": "put", "key": "x", "value": "v"})
    request = h.sent(Request)[0].msg.command
    h.deliver("s1", NotLeader(request.session, request.seq, "s4"))
    h.deliver("s4", NotLeader(request.session, request.seq, "s4"))  # itself: move on
    h.deliver("s5", NotLeader(request.session, request.seq, None))  # unknown: move on
    h.deliver("s1", NotLeader(request.session, request.seq, "zz"))  # not a server
    assert targets(h) == ["s1", "s4", "s5", "s1", "s2"]


def test_the_client_completes_on_its_own_reply_only() -> None:
    h = client()
    h.invoke({"f": "get", "key": "x"})
    request = h.sent(Request)[0].msg.command
    h.deliver("s1", Reply(request.session, request.seq + 1, "other"))  # not ours
    h.deliver("s1", Reply("someone-else", request.seq, "other"))
    assert not [e for e in h.effects if isinstance(e, Completed)]
    h.deliver("s1", Reply(request.session, request.seq, "abc"))
    assert [e for e in h.effects if isinstance(e, Completed)] == [Completed("ok", "abc")]
    assert "retry" not in h.timers and "give up" not in h.timers
    h.invoke({"f": "append", "key": "x", "value": "d"})
    second = h.sent(Request)[-1].msg.command
    assert (second.seq, second.f, second.value) == (request.seq + 1, "append", "d")
    h.deliver("s1", Reply(second.session, second.seq, "abcd"))
    # a write completes with what it wrote (the harness's default), not the key's value
    assert [e for e in h.effects if isinstance(e, Completed)][-1] == Completed("ok", "d")


def test_the_client_gives_up_after_its_timeout_with_an_unknown_outcome() -> None:
    h = client(retry=0.1, op_timeout=0.35)
    h.invoke({"f": "put", "key": "x", "value": "v"})
    h.advance(0.34)
    assert targets(h) == ["s1", "s2", "s3", "s4"]
    h.advance(0.01)
    assert [e for e in h.effects if isinstance(e, Completed)] == [Completed("info", "v")]
    h.advance(1.0)  # and stops retrying
    assert len(targets(h)) == 4

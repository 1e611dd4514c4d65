"""The model checker: it finds shortest counterexamples, verifies small correct systems
exhaustively with stable state counts, honours its fault budgets, and its paths replay in
the simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from dsys import Client, Node, message
from dsys.search import Search, Step
from dsys.search.state import canonical


@message(name="searchtest:Vote")
class Vote:
    pass


@message(name="searchtest:Req")
class Req:
    n: int


@message(name="searchtest:Ack")
class Ack:
    n: int


class Counter(Node):
    """Counts every Vote it receives (a duplicate counts twice: a bug under duplication)."""

    def on_start(self) -> None:
        self.votes = 0

    def on_message(self, src: str, msg: Vote) -> None:
        self.votes += 1


class Voter(Node):
    def on_start(self) -> None:
        self.send("counter", Vote())


class DedupCounter(Node):
    """Counts each voter once: correct under duplication."""

    def on_start(self) -> None:
        self.voters: set[str] = set()

    def on_message(self, src: str, msg: Vote) -> None:
        self.voters.add(src)


def voting(counter: type[Node], voters: int = 2, **budgets: Any) -> Search:
    nodes: dict[str, Any] = {"counter": counter}
    nodes.update({f"v{i}": Voter for i in range(1, voters + 1)})
    return Search(nodes, **budgets)


def at_most_one_vote_each(view: Any) -> None:
    counter = view.node("counter")
    count = counter.votes if hasattr(counter, "votes") else len(counter.voters)
    assert count <= len(view.node_ids) - 1, f"{count} votes counted"


def test_bfs_finds_a_shortest_counterexample_and_it_replays() -> None:
    search = voting(Counter, duplicates=1)
    search.add_invariant(at_most_one_vote_each)
    result = search.bfs()
    assert result.verdict == "violation" and "3 votes counted" in result.problem
    assert len(result.path) == 4  # deliver, duplicate, deliver, deliver: nothing shorter
    assert [s.kind for s in result.path].count("duplicate") == 1
    sim = result.replay()
    assert sim.node("counter").votes == 3
    assert sim.trace.digest() == result.replay().trace.digest()
    with pytest.raises(Exception, match="at_most_one_vote_each"):
        result.replay(check=True)


def test_without_a_duplicate_budget_the_same_bug_cannot_happen() -> None:
    search = voting(Counter)
    search.add_invariant(at_most_one_vote_each)
    result = search.bfs()
    assert result.verdict == "ok"
    # start; then the two deliveries in either order: {none, v1, v2, both}.
    assert result.states == 4 and result.depth == 2


def test_a_correct_system_is_verified_with_a_stable_state_count() -> None:
    search = voting(DedupCounter, voters=3, duplicates=2, drops=1)
    search.add_invariant(at_most_one_vote_each)
    first, second = search.bfs(), voting(DedupCounter, voters=3, duplicates=2, drops=1).bfs()
    assert first.verdict == second.verdict == "ok"
    assert first.states == second.states > 50
    assert first.transitions == second.transitions


def test_state_counts_do_not_depend_on_the_hash_seed() -> None:
    code = ("from tests.search.test_engine import DedupCounter, voting;"
            "from bench.search import paxos_search;"
            "r = voting(DedupCounter, voters=3, duplicates=1).bfs();"
            "p = paxos_search().bfs(max_depth=12);"
            "print(r.states, r.transitions, p.states, p.transitions)")
    outputs = set()
    for hash_seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=120, check=True)
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1, outputs


def test_every_strategy_finds_the_bug_and_iterative_deepening_as_short_as_bfs() -> None:
    def make() -> Search:
        search = voting(Counter, duplicates=1)
        search.add_invariant(at_most_one_vote_each)
        return search

    bfs = make().bfs()
    dfs = make().dfs(max_depth=10)
    iddfs = make().iterative_deepening(max_depth=10)
    walks = make().random_walks(walks=200, max_depth=10, seed=1)
    assert {r.verdict for r in (bfs, dfs, iddfs, walks)} == {"violation"}
    assert len(iddfs.path) == len(bfs.path) <= len(dfs.path)
    assert dfs.replay().node("counter").votes == 3
    assert walks.replay().node("counter").votes == 3


def test_a_depth_bound_hides_a_deeper_bug() -> None:
    search = voting(Counter, duplicates=1)
    search.add_invariant(at_most_one_vote_each)
    assert search.bfs(max_depth=3).verdict == "ok"
    assert search.dfs(max_depth=3).verdict == "ok"
    assert search.bfs(max_depth=4).verdict == "violation"


class Sender(Node):
    """Sends Req(0) once, no retransmission; done when acked."""

    def on_start(self) -> None:
        self.done = False
        self.send("receiver", Req(0))

    def on_message(self, src: str, msg: Ack) -> None:
        self.done = True


class RetrySender(Sender):
    def on_start(self) -> None:
        super().on_start()
        self.set_timer("retry", 0.1)

    def on_timer(self, name: str) -> None:
        if not self.done:
            self.send("receiver", Req(0))
            self.set_timer("retry", 0.1)


class Receiver(Node):
    def on_message(self, src: str, msg: Req) -> None:
        self.send(src, Ack(msg.n))


def sender_done(view: Any) -> bool:
    return bool(view.node("sender").done)


def test_deadlock_detection_catches_a_lost_message_without_retransmission() -> None:
    reliable = Search({"sender": Sender, "receiver": Receiver})
    reliable.add_goal(sender_done)
    reached = reliable.bfs()
    assert reached.verdict == "goal" and len(reached.path) == 2  # deliver, deliver
    assert reliable.bfs(deadlock=True).verdict == "ok"  # it always ends with the goal
    lossy = Search({"sender": Sender, "receiver": Receiver}, drops=1)
    lossy.add_goal(sender_done)
    found = lossy.bfs(deadlock=True)
    assert found.verdict == "violation" and "no goal holds" in found.problem
    assert [s.kind for s in found.path] == ["drop"]  # one lost message: stuck for ever
    retrying = Search({"sender": RetrySender, "receiver": Receiver}, drops=1)
    retrying.add_goal(sender_done)
    assert retrying.bfs(deadlock=True, max_depth=8).verdict == "ok"
    no_goal = Search({"sender": Sender, "receiver": Receiver})
    assert "nothing can happen" in no_goal.bfs(deadlock=True).problem


def test_with_retransmission_no_lost_message_leaves_the_sender_stuck() -> None:
    def not_done_and_quiet(view: Any) -> None:
        assert view.node("sender").done or view.in_flight or view.node("sender").timers_armed

    class Watched(RetrySender):
        @property
        def timers_armed(self) -> bool:
            return not self.done

    search = Search({"sender": Watched, "receiver": Receiver}, drops=2)
    search.add_invariant(not_done_and_quiet)
    result = search.bfs(max_depth=8)
    assert result.verdict == "ok" and result.states > 10


def test_timers_of_one_node_fire_in_deadline_order_and_move_time() -> None:
    class Timers(Node):
        def on_start(self) -> None:
            self.fired: list[str] = []
            self.set_timer("slow", 10.0)
            self.set_timer("fast", 0.1)

        def on_timer(self, name: str) -> None:
            self.fired.append(f"{name}@{self.now}")

    search = Search({"a": Timers})
    search.add_invariant(lambda view: view.node("a").fired in ([], ["fast@0.1"],
                                                                ["fast@0.1", "slow@10.0"]))
    result = search.bfs()
    assert result.verdict == "ok" and result.states == 3


class Persister(Node):
    """Writes its counter to storage and syncs only sometimes: after a crash it may
    count the same number twice, which the invariant catches."""

    sync = False

    def on_start(self) -> None:
        self.n = self.storage.get("n", 0)
        self.given: list[int] = []
        self.set_timer("next", 1.0)

    def on_recover(self) -> None:
        self.on_start()

    def on_timer(self, name: str) -> None:
        self.n += 1
        self.storage["n"] = self.n
        if self.sync:
            self.storage.sync()
        self.send("log", Req(self.n))
        self.set_timer("next", 1.0)


class SyncedPersister(Persister):
    sync = True


class Log(Node):
    def on_start(self) -> None:
        self.seen: list[int] = []

    def on_message(self, src: str, msg: Req) -> None:
        self.seen.append(msg.n)


def numbers_unique(view: Any) -> None:
    log = view.node("log")
    seen = log.seen if log is not None else []
    assert len(seen) == len(set(seen)), f"a number was given twice: {seen}"


@pytest.mark.parametrize(("counter", "verdict"), [(Persister, "violation"),
                                                  (SyncedPersister, "ok")])
def test_a_crash_loses_unsynced_writes_and_the_search_finds_what_that_breaks(
        counter: type[Node], verdict: str) -> None:
    search = Search({"counter": counter, "log": Log}, crashes=1)
    search.add_invariant(numbers_unique)
    result = search.bfs(max_depth=7)
    assert result.verdict == verdict
    if verdict == "violation":
        kinds = [s.kind for s in result.path]
        assert "crash" in kinds and "restart" in kinds
        sim = result.replay()
        seen = sim.node("log").seen
        assert len(seen) != len(set(seen))  # the replay shows the same bug


def test_a_handler_that_raises_is_a_violation_with_its_path() -> None:
    class Fragile(Node):
        def on_message(self, src: str, msg: Any) -> None:
            raise RuntimeError("boom")

    result = Search({"counter": Fragile, "v1": Voter}).bfs()
    assert result.verdict == "violation"
    assert "RuntimeError: boom" in result.problem
    assert [s.kind for s in result.path] == ["deliver"]


def test_symmetry_merges_states_equal_up_to_renaming() -> None:
    plain = voting(DedupCounter, voters=3).bfs()
    reduced = Search({"counter": DedupCounter, "v1": Voter, "v2": Voter, "v3": Voter},
                     symmetry=[("v1", "v2", "v3")]).bfs()
    assert plain.verdict == reduced.verdict == "ok"
    # Without symmetry: every subset of delivered voters (8); with it: how many (4).
    assert (plain.states, reduced.states) == (8, 4)


def test_prune_stops_exploring_but_still_checks() -> None:
    search = voting(Counter, duplicates=1)
    search.add_invariant(at_most_one_vote_each)
    search.add_prune(lambda view: view.node("counter").votes >= 1)
    assert search.bfs().verdict == "ok"


class Adder(Client):
    def on_invoke(self, op: dict[str, Any]) -> None:
        self.send("server", Req(op["value"]))

    def on_message(self, src: str, msg: Ack) -> None:
        self.ok(msg.n)


class Echo(Node):
    def on_message(self, src: str, msg: Req) -> None:
        self.send(src, Ack(msg.n))


def test_clients_invoke_operations_and_histories_replay() -> None:
    search = Search({"server": Echo}, clients={"c1": Adder, "c2": Adder},
                    workload=lambda rng: {"f": "add", "value": rng.randrange(10)}, ops=2)
    search.add_goal(lambda view: view.clients_done, "clients done")
    result = search.bfs()
    assert result.verdict == "goal"
    assert [s.kind for s in result.path].count("invoke") == 4
    sim = result.replay()
    assert [e["type"] for e in sim.history].count("ok") == 4
    assert all(e["type"] in ("invoke", "ok") for e in sim.history)


def test_canonical_keys_ignore_set_order_but_not_list_order_or_bool_vs_int() -> None:
    assert canonical({"x": {"b", "a"}}) == canonical({"x": {"a", "b"}})
    assert canonical([1, 2]) != canonical([2, 1])
    assert canonical(True) != canonical(1)
    assert canonical((1, "a")) == ("t", (1, "a"))
    assert canonical(("l", (1, 2))) != canonical([1, 2])  # tags cannot be forged

    class WithOverride:
        def __init__(self, keep: int, cache: int) -> None:
            self.keep, self.cache = keep, cache

        def search_state(self) -> int:
            return self.keep

    assert canonical(WithOverride(1, 2)) == canonical(WithOverride(1, 3))


def test_a_replay_that_cannot_follow_the_path_says_why() -> None:
    search = voting(Counter)
    bogus = (Step("timer", "counter", name="nope"),)
    with pytest.raises(Exception, match="replay diverged"):
        search.replay(bogus)


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(Exception, match="at least one node"):
        Search({})
    with pytest.raises(Exception, match="drops must be an int"):
        Search({"a": Node}, drops=-1)
    with pytest.raises(Exception, match="need a workload"):
        Search({"a": Node}, clients={"c": Adder})
    with pytest.raises(Exception, match="not a node"):
        Search({"a": Node}, symmetry=[("a", "zz")])


def test_bfs_stops_at_its_memory_limit_with_a_report_instead_of_being_killed() -> None:
    """A breadth-first frontier of node copies can fill the machine (a Raft cluster's
    holds ~30 KB a state): past ``memory_limit`` the search stops cleanly and says why."""
    from dsys.search.engine import MEMORY_LIMIT, _resident

    search = voting(DedupCounter, voters=4, duplicates=2, drops=1)
    held = _resident()
    assert held is not None and held > 2**20  # /proc says (this is Linux)
    stopped = search.bfs(memory_limit=2**20)  # 1 MiB: less than the process already holds
    assert stopped.verdict == "limit"
    assert "memory: the search holds" in stopped.problem and "over its limit of 0.0 GiB" \
        in stopped.problem
    assert "stopped at a limit (memory:" in stopped.summary()
    complete = voting(DedupCounter, voters=4, duplicates=2, drops=1).bfs()
    assert complete.verdict == "ok" and stopped.states < complete.states
    assert voting(DedupCounter, voters=4, duplicates=2, drops=1).bfs(
        memory_limit=None).states == complete.states
    assert MEMORY_LIMIT is not None and 2**20 < MEMORY_LIMIT < os.sysconf("SC_PAGE_SIZE") \
        * os.sysconf("SC_PHYS_PAGES")
    with pytest.raises(Exception, match="memory_limit must be"):
        search.bfs(memory_limit=0)

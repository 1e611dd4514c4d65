"""RPC: what each semantics guarantees under loss, duplication and server crashes, shown
by counting executions in the trace, and where each one stops guaranteeing it."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from dsys import ConfigError, Network, Node, Simulation, Trace
from dsys.messaging import Rpc, RpcError, RpcResult
from dsys.messaging.rpc import RpcReply, RpcRequest, Semantics

LOSSY = dict(latency=(0.001, 0.010), drop=0.3, duplicate=0.3, reorder=0.3, reorder_delay=0.05)


class Server(Node):
    """Keeps a running total in storage; ``add`` returns the new total."""

    def __init__(self, semantics: Semantics) -> None:
        super().__init__()
        self.rpc = self.add_component(Rpc(semantics))
        self.rpc.register("add", self.add)
        self.rpc.register("refuse", self.refuse)

    def add(self, caller: str, amount: int) -> int:
        total = int(self.storage.get("total", 0)) + amount
        self.storage["total"] = total
        return total

    def refuse(self, caller: str, args: Any) -> None:
        raise RpcError(f"no, {caller}")


class Caller(Node):
    """Makes ``calls`` calls of ``add(k)`` to ``server``, one after the other (or all at
    once with ``concurrent``), and keeps the results."""

    def __init__(self, calls: int = 5, *, concurrent: bool = False, method: str = "add",
                 start: float = 0.01, **options: Any) -> None:
        super().__init__()
        self.rpc = self.add_component(Rpc(**options))
        self.calls = calls
        self.concurrent = concurrent
        self.method = method
        self.start = start
        self.results: list[RpcResult] = []

    def on_start(self) -> None:
        self.set_timer("go", self.start)

    def on_timer(self, name: str) -> None:
        for k in range(self.calls if self.concurrent else 1):
            self.rpc.call("server", self.method, k + 1, self.done)

    def done(self, result: RpcResult) -> None:
        self.results.append(result)
        issued = self.rpc.next_rid
        if not self.concurrent and issued < self.calls:
            self.rpc.call("server", self.method, issued + 1, self.done)


def executions(trace: Trace) -> Counter[tuple[str, int, int]]:
    """How many times the server ran each call: (client, client epoch, request id) -> n."""
    return Counter((e.data["client"], e.data["epoch"], e.data["rid"]) for e in trace
                   if e.kind == "note" and e.data.get("event") == "execute")


def build(semantics: Semantics, seed: int, network: dict[str, Any] | None = None,
          clients: int = 2, **caller: Any) -> Simulation:
    sim = Simulation(seed=seed, network=Network(**(network if network is not None else LOSSY)))
    sim.add_node("server", lambda: Server(semantics))
    for i in range(1, clients + 1):
        sim.add_node(f"c{i}", lambda: Caller(**caller))
    return sim


def results(sim: Simulation) -> list[RpcResult]:
    return [r for c in sim.node_ids if c != "server"
            for r in sim.node(c).results]  # type: ignore[union-attr]


# ----- at-most-once: one execution per call, despite loss and duplication ---------------------


@pytest.mark.dsys(runs=12)
def test_at_most_once_never_repeats_an_execution(dsys_seed: int) -> None:
    sim = build("at-most-once", dsys_seed, calls=6, retries=None, timeout=0.03)
    sim.run(until=10.0)
    done = results(sim)
    assert len(done) == 12 and all(r.ok for r in done)  # retrying forever: all complete
    counts = executions(sim.trace)
    assert sorted(counts.values()) == [1] * 12  # ...and each ran exactly once
    # The retries were real: without the table, some calls would have run again.
    assert any(r.attempts > 1 for r in done)
    assert sum(1 for e in sim.trace if e.kind == "note" and e.data["event"] == "duplicate")
    # The totals each client saw are consistent with one execution per call.
    assert sim.node("server").storage["total"] == 2 * sum(range(1, 7))  # type: ignore[union-attr]


@pytest.mark.dsys(runs=6)
def test_concurrent_calls_are_told_apart(dsys_seed: int) -> None:
    sim = build("at-most-once", dsys_seed, calls=8, concurrent=True, retries=None,
                timeout=0.03)
    sim.run(until=10.0)
    assert sorted(executions(sim.trace).values()) == [1] * 16
    for client in ("c1", "c2"):
        got = sim.node(client).results  # type: ignore[union-attr]
        assert sorted(r.rid for r in got) == list(range(8))


# ----- at-least-once: retries and duplicates run the handler again ---------------------------


def test_at_least_once_runs_retries_and_duplicates_again() -> None:
    repeated = []
    for seed in range(10):
        sim = build("at-least-once", seed, calls=6, retries=None, timeout=0.03)
        sim.run(until=10.0)
        done = results(sim)
        assert len(done) == 12 and all(r.ok for r in done)
        counts = executions(sim.trace)
        assert len(counts) == 12 and min(counts.values()) >= 1  # at least once...
        if max(counts.values()) > 1:
            repeated.append(seed)  # ...and sometimes more
    assert len(repeated) >= 8, repeated


# ----- no retries: a timeout does not say whether the call ran -----------------------------------


def test_without_retries_a_timeout_may_or_may_not_have_run() -> None:
    ran_anyway = never_ran = 0
    for seed in range(10):
        sim = build("at-most-once", seed, network=dict(drop=0.4), calls=6, retries=0,
                    timeout=0.05)
        sim.run(until=3.0)
        counts = executions(sim.trace)
        for client in ("c1", "c2"):
            for r in sim.node(client).results:  # type: ignore[union-attr]
                ran = counts.get((client, 1, r.rid), 0)
                assert ran <= 1 and r.attempts == 1
                if r.status == "timeout":
                    ran_anyway += ran == 1  # the reply was lost
                    never_ran += ran == 0  # the request was lost
                else:
                    assert ran == 1
    assert ran_anyway > 0 and never_ran > 0


# ----- server crashes: the in-memory table forgets; a durable one does not -----------------------


def crash_between_execution_and_reply(semantics: Semantics) -> Simulation:
    """The server runs the call, its reply cannot get out, it crashes and comes back;
    then the client's retry arrives."""
    sim = build(semantics, 1, network={}, clients=1, calls=1, retries=None, timeout=0.05,
                start=0.1)
    sim.at(0.05, sim.block, "server", "c1")  # replies are lost
    sim.at(0.2, sim.crash, "server")
    sim.at(0.3, sim.restart, "server")
    sim.at(0.31, sim.heal)
    sim.run(until=3.0)
    return sim


def test_the_in_memory_table_forgets_on_a_crash() -> None:
    sim = crash_between_execution_and_reply("at-most-once")
    assert executions(sim.trace) == Counter({("c1", 1, 0): 2})  # ran twice: once per life
    assert [r.status for r in sim.node("c1").results] == ["ok"]  # type: ignore[union-attr]


def test_a_durable_table_answers_the_retry_after_a_crash() -> None:
    sim = crash_between_execution_and_reply("exactly-once")
    assert executions(sim.trace) == Counter({("c1", 1, 0): 1})
    duplicates = [e for e in sim.trace if e.kind == "note" and e.data["event"] == "duplicate"]
    assert any(e.time > 0.3 for e in duplicates)  # the new server answered from its table
    assert [r.value for r in sim.node("c1").results] == [1]  # type: ignore[union-attr]
    assert sim.durable_storage("server")["total"] == 1


def with_server_crashes(sim: Simulation, seed: int, times: int = 5) -> Simulation:
    """Crash the server ``times`` times, at random moments, for a random while. Only the
    server: a crashed client would forget its own calls."""
    chaos = random.Random(f"{seed}/crashes")
    t = 0.0
    for _ in range(times):
        t += chaos.uniform(0.02, 0.3)
        sim.at(t, sim.crash, "server")
        t += chaos.uniform(0.02, 0.2)
        sim.at(t, sim.restart, "server")
    return sim


@pytest.mark.dsys(runs=8)
def test_exactly_once_through_random_server_crashes(dsys_seed: int) -> None:
    sim = with_server_crashes(build("exactly-once", dsys_seed, calls=6, concurrent=True,
                                    retries=None, timeout=0.03), dsys_seed)
    sim.run(until=12.0)
    done = results(sim)
    assert len(done) == 12 and all(r.ok for r in done)
    assert sorted(executions(sim.trace).values()) == [1] * 12
    assert sim.durable_storage("server")["total"] == 2 * sum(range(1, 7))


def test_at_most_once_through_random_server_crashes_repeats_some_calls() -> None:
    repeated = []
    for seed in range(8):
        sim = with_server_crashes(build("at-most-once", seed, calls=6, concurrent=True,
                                        retries=None, timeout=0.03), seed)
        sim.run(until=12.0)
        assert all(r.ok for r in results(sim))
        if max(executions(sim.trace).values()) > 1:
            repeated.append(seed)
    assert len(repeated) >= 3, repeated


# ----- the duplicate table stays small ------------------------------------------------------------


def test_the_table_keeps_only_unfinished_calls_and_ignores_late_duplicates() -> None:
    sim = build("at-most-once", 3, network=dict(duplicate=0.5, reorder=0.5, reorder_delay=0.3),
                clients=1, calls=30, retries=None, timeout=0.03)
    sim.run(until=20.0)
    assert sorted(executions(sim.trace).values()) == [1] * 30
    record = sim.node("server").rpc.table["c1"]  # type: ignore[union-attr]
    assert record.done_below == 29 and list(record.replies) == [29]


class RawClient(Node):
    """Sends hand-made requests, to test the server's rules one by one."""

    def on_start(self) -> None:
        self.replies: list[RpcReply] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.replies.append(msg)


def test_server_rules_for_watermarks_and_incarnations() -> None:
    sim = Simulation(seed=1)
    sim.add_node("server", lambda: Server("at-most-once"))
    sim.add_node("raw", RawClient)
    sim.run(until=0.01)
    raw = sim.node("raw")
    assert raw is not None
    steps: list[tuple[RpcRequest, bool]] = [
        (RpcRequest(1, 0, "add", 1, 0), True),  # new: runs
        (RpcRequest(1, 0, "add", 1, 0), False),  # retry: answered from the table
        (RpcRequest(1, 1, "add", 2, 1), True),  # new, and the client is done with 0
        (RpcRequest(1, 0, "add", 1, 0), False),  # late duplicate below the watermark
        (RpcRequest(2, 0, "add", 10, 0), True),  # the client restarted: a new record
        (RpcRequest(1, 2, "add", 3, 1), False),  # from the dead incarnation: ignored
    ]
    for number, (request, _) in enumerate(steps):
        sim.at(0.1 * (number + 1), raw.send, "server", request)
    sim.run(until=1.0)
    runs = executions(sim.trace)
    assert runs == Counter({("raw", 1, 0): 1, ("raw", 1, 1): 1, ("raw", 2, 0): 1})
    assert [(r.epoch, r.rid, r.value) for r in raw.replies] == [  # type: ignore[attr-defined]
        (1, 0, 1), (1, 0, 1), (1, 1, 3), (2, 0, 13)]
    record = sim.node("server").rpc.table["raw"]  # type: ignore[union-attr]
    assert (record.epoch, record.done_below, list(record.replies)) == (2, 0, [0])


# ----- timeouts, backoff, errors ---------------------------------------------------------------


def test_retries_back_off_and_then_time_out() -> None:
    sim = Simulation(seed=1)
    sim.add_node("server", RawClient)  # never answers
    sim.add_node("c1", lambda: Caller(calls=1, start=0.0, retries=3, timeout=0.1,
                                      max_timeout=0.3))
    sim.run(until=3.0)
    sends = [round(e.time, 6) for e in sim.trace
             if e.kind == "send" and e.message_name == "RpcRequest"]
    assert sends == [0.0, 0.1, 0.3, 0.6]  # waits 0.1, 0.2, then 0.3 (capped), 0.3
    (result,) = sim.node("c1").results  # type: ignore[union-attr]
    assert (result.status, result.attempts, result.error) == ("timeout", 4, "no reply")
    assert [e.time for e in sim.trace if e.kind == "note" and e.data["event"] == "result"] \
        == [pytest.approx(0.9)]


def test_jitter_spreads_retries_out() -> None:
    sim = Simulation(seed=1)
    sim.add_node("server", RawClient)
    sim.add_node("c1", lambda: Caller(calls=1, start=0.0, retries=2, timeout=0.1,
                                      jitter=0.5))
    sim.run(until=3.0)
    sends = [e.time for e in sim.trace if e.kind == "send" and e.message_name == "RpcRequest"]
    assert 0.1 < sends[1] < 0.15 and 0.3 < sends[2] < 0.45


def test_errors_come_back_as_results() -> None:
    for method, expected in (("refuse", "no, c1"), ("nope", "no method 'nope' on server "
                                                    "(methods: add, refuse)")):
        sim = build("at-most-once", 1, network={}, clients=1, calls=1, method=method)
        sim.run(until=1.0)
        (result,) = sim.node("c1").results  # type: ignore[union-attr]
        assert (result.status, result.ok, result.value, result.error) == (
            "error", False, None, expected)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="semantics"):
        Rpc("exactly-twice")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="backoff"):
        Rpc(backoff=0.5)


@pytest.mark.soak
def test_soak_exactly_once_through_crashes_on_many_seeds() -> None:
    for seed in range(300):
        sim = with_server_crashes(build("exactly-once", seed, calls=8, concurrent=seed % 2 == 0,
                                        retries=None, timeout=0.03), seed, times=8)
        sim.run(until=20.0)
        assert sorted(executions(sim.trace).values()) == [1] * 16, f"seed {seed}"
        assert sim.durable_storage("server")["total"] == 2 * sum(range(1, 9)), f"seed {seed}"

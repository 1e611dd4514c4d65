"""Chain replication (and CRAQ reads), judged by checkers under faults and in the repair
scenarios of the paper (§3: head, tail and middle failure, a new tail).

* Under the seeded nemesis (partitions, one-way cuts, crashes with restarts, clock jumps)
  on a network that loses, duplicates and reorders: the clients' history is
  linearizable (``kv`` model), tail reads and CRAQ reads alike; no write is applied twice;
  the master's chains obey its rules (:func:`~dsys.replication.check_configs`); the
  members agree at the end; once the faults stop every client finishes, unless the service
  stopped for the one good reason (no member of the chain holds the state).
* Repair of each failure position, a new tail with state transfer, a removed tail that
  does not know it, CRAQ reads of dirty keys.
* Broken variants, and the judge that catches each: so these tests can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dsys import Simulation
from dsys.demos.pb_chain import chain_cluster
from dsys.kv.messages import OK as STATUS_OK
from dsys.kv.messages import KVReply, KVRequest
from dsys.replication import (
    ChainClient,
    ChainConfig,
    ChainMaster,
    ChainServer,
    check_configs,
)
from dsys.testing import SimulationFactory
from tests.replication.pb_chain_judges import (
    UNRELIABLE,
    applied_once,
    completions,
    done,
    get,
    hostile,
    linearizable,
    no_session_expired,
    not_linearizable,
    put,
    same_state,
    script,
)

CLIENTS, OPS, UNTIL = 4, 40, 6.0
SERVERS = ("s1", "s2", "s3")


def stopped_for_good(sim: Simulation) -> bool:
    """No member of the master's chain holds the state: nobody can serve, ever."""
    chain = sim.node("master").config.chain  # type: ignore[union-attr]
    return not any(getattr(sim.node(s), "ready", False) and sim.node(s).position is not None  # type: ignore[union-attr]
                   for s in chain)


def members_agree(sim: Simulation) -> None:
    """Members holding the state, with nothing in flight, hold the same state."""
    chain = sim.node("master").config.chain  # type: ignore[union-attr]
    settled = [s for s in chain if getattr(sim.node(s), "ready", False)
               and sim.node(s).committed == sim.node(s).applied]  # type: ignore[union-attr]
    if len(settled) > 1:
        same_state(sim, settled)


def under_faults(seed: int, sim: Simulation | None = None, *, craq: bool = False,
                 server: Any = None) -> Simulation:
    """The nemesis run; every judge must pass."""
    sim = chain_cluster(seed, clients=CLIENTS, ops=OPS, network=UNRELIABLE, cas=True,
                        think=(0.02, 0.12), craq=craq, server=server, sim=sim)
    hostile(sim, UNTIL)
    finished = sim.run_until(done(CLIENTS * OPS), timeout=UNTIL + 30.0)
    assert finished or stopped_for_good(sim), (
        f"seed {sim.seed}: the clients did not finish after the faults, and chain "
        f"{sim.node('master').config} can serve")  # type: ignore[union-attr]
    linearizable(sim)
    applied_once(sim)
    no_session_expired(sim)
    report = check_configs(sim.trace)
    assert report.ok, report.explain()
    if finished:
        sim.run(until=sim.now + 1.0)
        members_agree(sim)
    return sim


@pytest.mark.dsys(runs=4)
@pytest.mark.parametrize("craq", [False, True], ids=["tail-reads", "craq"])
def test_linearizable_under_every_fault(craq: bool, dsys_seed: int,
                                        simulation: SimulationFactory) -> None:
    sim = under_faults(dsys_seed, simulation(UNRELIABLE), craq=craq)
    kinds = [e["type"] for e in sim.history]
    configs = sum(1 for e in sim.trace if e.kind == "note" and e.data.get("event") == "config")
    assert kinds.count("ok") >= CLIENTS * OPS // 2 and configs >= 2, (kinds.count("ok"),
                                                                      configs)


@pytest.mark.soak
@pytest.mark.parametrize("craq", [False, True], ids=["tail-reads", "craq"])
def test_linearizable_under_every_fault_soak(craq: bool) -> None:
    for seed in range(4, 400):  # each failure names its seed
        under_faults(seed, craq=craq)


DIGESTS = """
import sys
sys.path.insert(0, {root!r})
from tests.replication import test_chain, test_primary_backup
print(test_chain.under_faults(5, craq=True).trace.digest())
print(test_primary_backup.under_faults(5).trace.digest())
"""


def test_same_seed_same_trace_under_another_hash_seed() -> None:
    """Both designs, under faults: one trace per seed, whatever PYTHONHASHSEED (this
    process's, and another in a fresh process)."""
    from tests.replication import test_primary_backup

    here = [under_faults(5, craq=True).trace.digest(),
            test_primary_backup.under_faults(5).trace.digest()]
    root = str(Path(__file__).resolve().parents[2])
    hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    out = subprocess.run([sys.executable, "-c", DIGESTS.format(root=root)],
                         capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "PYTHONHASHSEED": hash_seed}).stdout.split()
    assert out == here


# ----- repair: each failure position, and a new tail ------------------------------------------


def up(sim: Simulation, length: int = 3) -> tuple[str, ...]:
    """Run until the master's chain has ``length`` members holding the state."""
    assert sim.run_until(lambda s: len(s.node("master").config.chain) == length  # type: ignore[union-attr]
                         and all(s.node("master").ready), timeout=5.0)  # type: ignore[union-attr]
    return sim.node("master").config.chain  # type: ignore[union-attr]


@pytest.mark.parametrize("position", ["head", "middle", "tail"])
@pytest.mark.parametrize("craq", [False, True], ids=["tail-reads", "craq"])
def test_repair_after_each_failure_position(position: str, craq: bool) -> None:
    """A member fails in the middle of the workload, with writes in flight around it (the
    link after it, or before the tail, is cut for a while first, so writes pile up in a
    Sent list: the head's writes its successor never gets; the middle's, which the head
    must resend; the middle's, which it must commit when it becomes the tail): the chain
    goes on without it, every client finishes, the history is linearizable; restarted, it
    comes back as the new tail, with the state."""
    sim = chain_cluster(1, clients=3, ops=40, craq=craq)
    chain = up(sim)
    victim = chain[{"head": 0, "middle": 1, "tail": 2}[position]]
    cut = (chain[1], chain[2]) if position == "tail" else (victim, chain[chain.index(victim) + 1])
    sim.at(1.3, sim.block, *cut)
    sim.at(1.5, sim.crash, victim)
    sim.at(1.5, sim.heal)
    sim.at(3.0, sim.restart, victim)
    assert sim.run_until(done(120), timeout=20.0), completions(sim, "c1")[-3:]
    linearizable(sim)
    configs = [e.data["chain"] for e in sim.trace if e.kind == "note"
               and e.data.get("event") == "config"]
    assert [s for s in chain if s != victim] in configs, configs
    assert sim.run_until(lambda s: s.node("master").config.chain[-1] == victim  # type: ignore[union-attr]
                         and all(s.node("master").ready), timeout=5.0)  # type: ignore[union-attr]
    assert any(e.kind == "note" and e.data.get("event") == "snapshot" and e.node == victim
               for e in sim.trace)
    sim.run(until=sim.now + 0.5)
    members_agree(sim)
    assert check_configs(sim.trace).ok


def new_tail(server: Any = ChainServer, seed: int = 0) -> Simulation:
    """A chain of two takes writes; a third server arrives and becomes the tail; reads go
    to it."""
    sim = Simulation(seed=seed)
    sim.add_node("master", lambda: ChainMaster(replicas=3, servers=("s1", "s2")))
    for name in ("s1", "s2"):
        sim.add_node(name, server)
    script(sim, "w", [put("x", "1"), put("y", "2"), put("x", "3")], ChainClient, start=0.5)
    assert sim.run_until(done(3), timeout=5.0)
    sim.add_node("s3", server)
    sim.run_until(lambda s: s.node("master").config.chain == ("s1", "s2", "s3"),  # type: ignore[union-attr]
                  timeout=5.0)
    script(sim, "r", [get("x"), get("y")], ChainClient, start=sim.now + 0.5)
    sim.run_until(done(5), timeout=5.0)
    return sim


def test_a_new_tail_gets_the_state_before_it_answers() -> None:
    sim = new_tail()
    assert sim.node("master").config.chain == ("s1", "s2", "s3")  # type: ignore[union-attr]
    assert completions(sim, "r") == [("ok", "get", "3"), ("ok", "get", "2")]
    linearizable(sim)
    same_state(sim, ["s1", "s2", "s3"])


class Pinned(ChainClient):
    """A client that sends every request to ``server``, whatever the chain."""

    def __init__(self, server: str, *, craq: bool = False) -> None:
        super().__init__(craq=craq)
        self.pinned = server

    def route(self, request: KVRequest) -> str | None:
        return self.pinned


def removed_tail(server: Any = ChainServer, seed: int = 0) -> Simulation:
    """The tail is cut off from the master and the chain (not from clients) and removed;
    a write commits at the new tail; a client that still believes in the old tail reads
    there."""
    sim = chain_cluster(seed, clients=0, server=server)
    chain = up(sim)
    script(sim, "w0", [put("x", "before")], ChainClient)
    assert sim.run_until(done(1), timeout=5.0)
    t0 = sim.now
    sim.partition([chain[-1]])
    script(sim, "w1", [put("x", "after")], ChainClient, start=t0 + 1.0)
    script(sim, "old", [get("x")], lambda: Pinned(chain[-1]), start=t0 + 1.5)
    sim.run_until(done(3), timeout=10.0)
    return sim


def test_a_removed_tail_that_does_not_know_it_serves_no_stale_read() -> None:
    for seed in range(3):
        sim = removed_tail(seed=seed)
        assert completions(sim, "w1") == [("ok", "put", "after")]
        assert completions(sim, "old") == [("info", "get", None)]
        linearizable(sim)


def dirty_read(server: Any, seed: int = 0) -> Simulation:
    """CRAQ: a write reaches the head and the middle but not the tail; the middle is
    read (dirty), then the tail."""
    sim = chain_cluster(seed, clients=0, craq=True, server=server)
    _, middle, tail = up(sim)
    t0 = sim.now
    # The writes start at t0 + 0.5 and t0 + 1.0 (and a bit): cut the middle off the tail
    # between them, read the middle then the tail while the second is in flight.
    script(sim, "w", [put("x", "old"), put("x", "new")], ChainClient, start=t0, think=0.5)
    sim.at(t0 + 0.8, sim.block, middle, tail)
    script(sim, "r1", [get("x")], lambda: Pinned(middle, craq=True), start=t0 + 1.2)
    script(sim, "r2", [get("x")], lambda: Pinned(tail, craq=True), start=t0 + 1.3)
    sim.at(t0 + 1.5, sim.heal)
    sim.run_until(done(4), timeout=10.0)
    return sim


def test_craq_reads_of_a_dirty_key_ask_the_tail() -> None:
    sim = dirty_read(lambda: ChainServer(craq=True))
    assert completions(sim, "r1") == [("ok", "get", "old")]
    assert completions(sim, "w") == [("ok", "put", "old"), ("ok", "put", "new")]
    linearizable(sim)
    asked = [e for e in sim.trace if e.kind == "send"
             and type(e.data["msg"]).__name__ == "VersionQuery"]
    assert asked, "the middle asked the tail for the committed version"


def test_craq_spreads_reads_over_the_chain() -> None:
    sim = chain_cluster(2, clients=4, ops=30, craq=True, reads=0.8)
    assert sim.run_until(done(120), timeout=20.0)
    linearizable(sim)
    answered = {e.node for e in sim.trace if e.kind == "send"
                and type(e.data["msg"]).__name__ == "KVReply" and e.data["msg"].status == "ok"}
    assert answered == set(SERVERS), answered


# ----- broken variants, and the judge that catches each ------------------------------------------


class HeadAnswers(ChainServer):
    """The head answers a write as soon as it applied it (rule 2 broken)."""

    def on_request(self, src: str, msg: KVRequest) -> None:
        super().on_request(src, msg)
        if self.is_head and msg.f != "get" and self.applied in self.sent:
            _, result = self.sent[self.applied]
            self.send(src, KVReply(msg.session, msg.seq, result["status"], result["value"]))


class TailWithoutLease(ChainServer):
    """The tail answers reads whether or not its lease lasts (rule 5 broken)."""

    @property
    def has_lease(self) -> bool:
        return True


class NoResend(ChainServer):
    """On a new successor, sends only the writes that come next, not its Sent list
    (rule 4 broken: the middle failure)."""

    def reconfigure(self, config: ChainConfig) -> None:
        old_succ = self.succ
        self.forward = lambda start: None  # type: ignore[method-assign]
        try:
            super().reconfigure(config)
        finally:
            del self.forward
        if self.succ != old_succ:
            self.succ_received = self.applied  # as if the new successor had everything


class CraqDirtyReads(ChainServer):
    """Answers every read from its own store, dirty or not (rule 3 broken)."""

    def read(self, src: str, msg: KVRequest) -> None:
        if self.ready and self.has_lease:
            self.send(src, KVReply(msg.session, msg.seq, STATUS_OK, self.store.read(msg.key)))
        else:
            super().read(src, msg)


class TailWithoutState(ChainServer):
    """A new member counts as holding the state at once, without the snapshot (rule 4
    broken: the new tail)."""

    def reconfigure(self, config: ChainConfig) -> None:
        super().reconfigure(config)
        if self.position is not None and not self.ready:
            self.ready = True


class StartsOver(ChainMaster):
    """When every member is gone, makes a new chain of whoever is alive (rule 1 broken)."""

    def reconfigure(self) -> None:
        config = self.config
        gone = config.version > 0 and not any(
            self.alive(s) and self.boots.get(s) == b for s, b in zip(config.chain, config.boots,
                                                                       strict=True))
        alive = [s for s in sorted(self.last_ping) if self.alive(s)]
        if gone and alive:
            self.change(alive, [self.boots[s] for s in alive], [config.version + 1] * len(alive),
                        [True] * len(alive))
            return
        super().reconfigure()


def test_a_head_that_answers_before_the_tail_is_caught() -> None:
    def scenario(server: Any) -> Simulation:
        sim = chain_cluster(0, clients=0, server=server)
        head, middle, _ = up(sim)
        t0 = sim.now
        script(sim, "w", [put("x", "old"), put("x", "new")], ChainClient, start=t0, think=0.5)
        sim.at(t0 + 0.8, sim.block, head, middle)  # between the two writes
        script(sim, "r", [get("x")], ChainClient, start=t0 + 1.2)
        sim.at(t0 + 1.5, sim.heal)
        sim.run_until(done(3), timeout=10.0)
        return sim

    sim = scenario(ChainServer)
    assert completions(sim, "r") == [("ok", "get", "old")]
    linearizable(sim)
    assert not_linearizable(scenario(HeadAnswers))


def test_a_tail_that_reads_without_a_lease_is_caught() -> None:
    assert any(not_linearizable(removed_tail(TailWithoutLease, seed)) for seed in range(3))


def test_craq_reads_of_dirty_keys_from_the_local_store_are_caught() -> None:
    assert not_linearizable(dirty_read(lambda: CraqDirtyReads(craq=True)))


def test_a_middle_failure_without_resending_the_sent_list_is_caught() -> None:
    """The successor misses the writes its failed predecessor held: without the resend it
    waits for them forever, and the clients never finish."""

    def finishes(server: Any) -> bool:
        sim = chain_cluster(1, clients=3, ops=20, server=server)
        chain = up(sim)
        sim.at(1.3, sim.block, chain[1], chain[2])
        sim.at(1.5, sim.crash, chain[1])
        sim.at(1.5, sim.heal)
        finished = sim.run_until(done(60), timeout=8.0)
        linearizable(sim)  # safe either way: it only stops
        return finished

    assert finishes(ChainServer)
    assert not finishes(NoResend)


def test_a_new_tail_without_the_state_is_caught() -> None:
    assert not_linearizable(new_tail(TailWithoutState))


def test_a_master_that_starts_over_is_caught() -> None:
    def scenario(master: Any) -> Simulation:
        sim = chain_cluster(0, clients=0, master=master)
        chain = up(sim)
        script(sim, "w", [put("x", "1")], ChainClient)
        assert sim.run_until(done(1), timeout=5.0)
        for server in chain:
            sim.crash(server)
        for server in chain:
            sim.at(sim.now + 1.0, sim.restart, server)
        script(sim, "r", [get("x")], ChainClient, start=sim.now + 2.0)
        sim.run(until=sim.now + 6.0)
        return sim

    sim = scenario(lambda: ChainMaster(replicas=3, servers=SERVERS))
    assert check_configs(sim.trace).ok and completions(sim, "r") == [("info", "get", None)]
    broken = scenario(lambda: StartsOver(replicas=3, servers=SERVERS))
    report = check_configs(broken.trace)
    assert not report.ok and "starts over" in report.explain()
    # The servers themselves refuse to hold a state they never got: nothing is served.
    linearizable(broken)


def test_configuration_errors_are_clear() -> None:
    from dsys.errors import ConfigError

    with pytest.raises(ConfigError, match="dead_pings"):
        ChainMaster(dead_pings=3)
    with pytest.raises(ConfigError, match="replicas"):
        ChainMaster(replicas=0)
    with pytest.raises(ConfigError, match="lease_pings"):
        ChainServer(lease_pings=0)


# ----- on the real runtime --------------------------------------------------------------------


async def test_the_same_nodes_run_on_the_trio_runtime(tmp_path: Path) -> None:
    import trio

    from dsys.check import check_linearizable
    from dsys.demos.pb_chain import workload
    from dsys.runtime import merge_histories, parse_cluster, run_client
    from tests.runtime.conftest import running
    from tests.runtime.helpers import cluster_text

    # The tail answers clients that wrote to the head: they need known addresses.
    cluster = parse_cluster(cluster_text({"master": None, "s1": None, "s2": None,
                                          "s3": None}, clients=("c1", "c2")))
    files = [tmp_path / f"{name}.jsonl" for name in ("c1", "c2")]
    craq = lambda: ChainServer(craq=True)  # noqa: E731
    with trio.fail_after(60):
        async with running(cluster, {"master": ChainMaster, "s1": craq, "s2": craq,
                                     "s3": craq}) as hosts:
            async with trio.open_nursery() as nursery:
                for path in files:
                    nursery.start_soon(lambda p=path: run_client(
                        lambda: ChainClient(craq=True), cluster, p.stem,
                        workload=workload(p.stem), ops=15, history=p, echo_logs=False))
            chain = hosts["master"].node.config.chain  # type: ignore[union-attr]
    merged = merge_histories(files)
    assert sum(e["type"] == "ok" for e in merged) == 30
    assert check_linearizable(merged, "kv").linearizable
    assert chain == SERVERS

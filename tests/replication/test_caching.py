"""Client caches (``dsys.replication.caching``) judged by the checkers under faults.

* A TTL cache gives stale reads: the linearizability checker rejects its histories, and
  the stale reads, counted from real time, are never more than the TTL (plus one message
  delay) behind.
* Leases and invalidations give linearizable histories, under the seeded nemesis
  (partitions that also cut clients off, one-way cuts, server crashes with restarts, jumps
  of the server's clock) on a network that loses, duplicates and reorders, with client
  clocks drifting within the bound; and the caches are really used (hits are counted).
* A client clock that drifts beyond the bound breaks leases; within it, the same scenario
  is fine. An unreachable client holds up writes under invalidation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from random import Random
from typing import Any

import pytest

from dsys import Nemesis, Network, Simulation
from dsys.check import Verdict, check_linearizable
from dsys.replication import CacheClient, CacheServer, KeyCache
from dsys.replication.caching import stale_reads

#: The network: loss, duplication, reordering; at most 0.02 + 0.05 s per message.
NETWORK = Network(latency=(0.001, 0.02), drop=0.03, duplicate=0.03, reorder=0.1,
                  reorder_delay=0.05)
MAX_DELAY = 0.07
CLIENTS, OPS, UNTIL = 3, 40, 6.0
TTL = LEASE = 0.5
RHO = 1e-3  # the drift bound the servers assume


def workload(client: int) -> Callable[[Random], dict[str, Any]]:
    """Mostly reads, of two keys; each write a fresh value."""
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        key = rng.choice(["a", "b"])
        if rng.random() < 0.7:
            return {"f": "get", "key": key, "value": None}
        return {"f": "put", "key": key, "value": f"c{client}-{next(numbers)}"}

    return next_op


def cached_run(seed: int, policy: Any, *, faults: bool = True) -> Simulation:
    """One server, three caching clients with clocks drifting within the bound, and the
    nemesis until UNTIL; then run until every client is done."""
    sim = Simulation(seed=seed, network=NETWORK)
    sim.add_node("server", lambda: CacheServer(policy=policy, lease=LEASE, max_drift=RHO))
    rng = Random(f"{seed}/drift")
    for k in range(CLIENTS):
        name = f"c{k}"
        sim.add_client(name, lambda: CacheClient(policy=policy, ttl=TTL, lease=LEASE),
                       workload=workload(k), ops=OPS, think=(0.0, 0.12))
        sim.set_clock(name, drift=rng.uniform(-RHO, RHO))
    if faults:
        Nemesis(faults=("partition", "isolate", "oneway", "crash", "clock"),
                interval=(0.3, 1.0), duration=(0.2, 0.8), stop=UNTIL, max_crashed=1,
                include_clients=True).install(sim)
    finished = sim.run_until(
        lambda s: sum(e["type"] != "invoke" for e in s.history) >= CLIENTS * OPS,
        timeout=UNTIL + 20.0)
    assert finished, f"seed {seed}: the clients did not finish after the faults stopped"
    return sim


def hits(sim: Simulation) -> int:
    return sum(sim.node(f"c{k}").cache.hits for k in range(CLIENTS))  # type: ignore[union-attr]


def linearizable(sim: Simulation) -> bool:
    result = check_linearizable(sim.history, "kv", max_steps=2_000_000)
    assert result.verdict is not Verdict.UNKNOWN, f"seed {sim.seed}: undecided"
    return result.linearizable


# ----- a TTL cache: stale reads, bounded by the TTL ------------------------------------------


@pytest.mark.parametrize("seeds", [
    pytest.param(range(6), id="6-seeds"),
    pytest.param(range(6, 100), id="94-seeds", marks=pytest.mark.soak),
])
def test_a_ttl_cache_gives_stale_reads_bounded_by_the_ttl(seeds: range) -> None:
    rejected, lags = 0, []
    for seed in seeds:
        sim = cached_run(seed, "ttl")
        found = stale_reads(sim.history)
        lags += found
        if not linearizable(sim):
            rejected += 1
        else:
            assert not found, f"seed {seed}: stale reads in a linearizable history?"
    # Most runs are rejected, and stale reads are common...
    assert rejected >= len(seeds) // 2 + 1, (rejected, len(seeds))
    assert len(lags) >= len(seeds), lags
    # ...but none is further behind than the TTL allows (a copy is trusted for TTL seconds
    # after it arrives, and was current when the server sent it, one delay earlier).
    assert max(lags) <= TTL * (1 + RHO) + MAX_DELAY, max(lags)


def test_stale_reads_are_measured_from_real_time() -> None:
    def op(p: int, f: str, value: str, start: float, end: float) -> list[dict[str, Any]]:
        invoke = {"process": p, "type": "invoke", "f": f, "key": "x",
                  "value": None if f == "get" else value, "time": start}
        return [invoke, dict(invoke, type="ok", value=value, time=end)]

    events = sorted(op(0, "put", "a", 0, 1) + op(1, "put", "b", 0.5, 2)  # overlapping
                    + op(2, "get", "a", 3, 3.5) + op(2, "get", "", 4, 4.5)
                    + op(0, "put", "c", 5, 6) + op(1, "get", "b", 7, 7.5),
                    key=lambda e: e["time"])
    # Reading "a" after "b" completed is fine (b overlapped a: it may come first); the
    # empty value is 3.0 s behind "a"; "b" is 1.0 s behind "c".
    assert stale_reads(events) == [3.0, 1.0]


def test_without_faults_a_ttl_cache_still_serves_stale_reads() -> None:
    # Not the faults' doing: a copy simply outlives the write that overwrote it.
    stale = sum(len(stale_reads(cached_run(seed, "ttl", faults=False).history))
                for seed in range(3))
    assert stale > 0


# ----- leases and invalidations: linearizable --------------------------------------------------


@pytest.mark.parametrize("policy", ["lease", "invalidate"])
@pytest.mark.parametrize("seeds", [
    pytest.param(range(5), id="5-seeds"),
    pytest.param(range(5, 100), id="95-seeds", marks=pytest.mark.soak),
])
def test_leases_and_invalidations_give_linearizable_histories(policy: str, seeds: range
                                                              ) -> None:
    served = 0
    for seed in seeds:
        sim = cached_run(seed, policy)
        assert linearizable(sim), f"seed {seed}: a {policy} cache served a stale read"
        assert not stale_reads(sim.history)
        served += hits(sim)
    # The caches were used: a cache that never serves anything is trivially correct.
    assert served >= 5 * len(seeds), served


def test_the_same_seed_gives_the_same_run() -> None:
    first, second = cached_run(3, "lease"), cached_run(3, "lease")
    assert first.trace.digest() == second.trace.digest()
    assert first.history == second.history


# ----- the drift bound of leases ---------------------------------------------------------------


def lease_scenario(drift: float) -> Simulation:
    """c1 reads x at t=1.5 (a lease of 1 s), then is cut off from the server; c2 writes x
    at t=1.6, which the server applies once c1's lease has run out on its clock (it cannot
    revoke it); c1 reads x again at about t=3.0, and the partition heals at t=2.8.

    With c1's clock within the bound, its lease has run out by then too, and it asks the
    server: it reads c2's write. With c1's clock running slow beyond the bound, c1 still
    trusts its copy and reads the old value, after c2's write completed: a stale read.
    """
    sim = Simulation(seed=1, network=Network(latency=(0.001, 0.002)))
    sim.add_node("server", lambda: CacheServer(policy="lease", lease=1.0, max_drift=RHO))
    c1_ops = iter([{"f": "get", "key": "x", "value": None}] * 2)
    sim.add_client("c1", lambda: CacheClient(policy="lease", lease=1.0),
                   workload=lambda rng: next(c1_ops), ops=2, think=1.5)
    sim.add_client("c2", lambda: CacheClient(policy="lease", lease=1.0),
                   workload=lambda rng: {"f": "put", "key": "x", "value": "new"}, ops=1,
                   start=1.6)
    sim.set_clock("c1", drift=drift)
    sim.at(1.55, sim.partition, ["c1"], ["server"])
    sim.at(2.8, sim.heal)
    sim.run(until=5.0)
    return sim


def gets_of(sim: Simulation, client: str) -> list[Any]:
    return [e["value"] for e in sim.history
            if e["client"] == client and e["type"] == "ok" and e["f"] == "get"]


@pytest.mark.parametrize("drift", [0.0, -RHO, RHO, -RHO / 2])
def test_a_lease_within_the_drift_bound_is_safe(drift: float) -> None:
    sim = lease_scenario(drift)
    assert gets_of(sim, "c1") == ["", "new"]
    assert linearizable(sim)


@pytest.mark.parametrize("drift", [-0.5, -0.4])
def test_a_client_clock_slower_than_the_bound_breaks_leases(drift: float) -> None:
    sim = lease_scenario(drift)
    assert gets_of(sim, "c1") == ["", ""]  # the second from a copy the server gave up
    assert sim.node("c1").cache.hits == 1  # type: ignore[union-attr]
    assert not linearizable(sim)
    assert len(stale_reads(sim.history)) == 1


def test_the_server_waits_out_an_unreachable_lease_holder() -> None:
    sim = lease_scenario(0.0)
    put = next(e for e in sim.history if e["client"] == "c2" and e["type"] == "ok")
    server: CacheServer = sim.node("server")  # type: ignore[assignment]
    # The grant was at about 1.5; the promise lasts `wait` on the server's clock.
    assert 1.5 + server.wait <= put["time"] <= 1.5 + server.wait + 0.01
    assert server.wait == pytest.approx(1.0 + 2 * RHO / (1 - RHO))


# ----- the races the rules of caching.py close ----------------------------------------------


def two_reads_and_a_write(policy: str, *, slow_reply: float, write_at: float,
                          second_read: float, cut: float | None = None,
                          heal: float | None = None) -> Simulation:
    """c1 reads x at t=0.1, and its reply from the server is held back ``slow_reply``
    seconds (the link's latency, restored at t=0.12; c1 does not resend before 1.1); c2
    writes x at ``write_at``; c1 reads x again at ``second_read``. With ``cut``, c1 is cut
    off from the server from then to ``heal``."""
    sim = Simulation(seed=1, network=Network(latency=(0.001, 0.002)))
    sim.add_node("server", lambda: CacheServer(policy=policy, lease=1.0, max_drift=RHO))
    reads = iter([{"f": "get", "key": "x", "value": None}] * 2)
    sim.add_client("c1", lambda: CacheClient(policy=policy, lease=1.0, retry=1.0,
                                             op_timeout=2.0),
                   workload=lambda rng: next(reads), ops=2, start=0.0,
                   think=lambda rng: 0.1 if not sim.history else second_read - sim.now)
    sim.add_client("c2", lambda: CacheClient(policy=policy, lease=1.0),
                   workload=lambda rng: {"f": "put", "key": "x", "value": "new"}, ops=1,
                   start=write_at)
    sim.network.set_link("server", "c1", latency=slow_reply)
    sim.at(0.12, sim.network.reset_link, "server", "c1")
    if cut is not None:
        sim.at(cut, sim.partition, ["c1"], ["server"])
    if heal is not None:
        sim.at(heal, sim.heal)
    sim.run(until=4.0)
    return sim


@pytest.mark.parametrize("policy", ["lease", "invalidate"])
def test_a_revocation_that_overtakes_its_grant_is_not_undone(policy: str) -> None:
    """The grant to c1 is slow; c2's write revokes it, and the revocation (sent later)
    arrives first: c1 answers it, the server applies the write, and then the old grant
    arrives. c1 returns it (it was current when the read began) but must not keep it
    (rule 1): its next read sees the write."""
    sim = two_reads_and_a_write(policy, slow_reply=0.4, write_at=0.2, second_read=0.8)
    assert gets_of(sim, "c1") == ["", "new"]
    assert sim.node("c1").cache.hits == 0  # type: ignore[union-attr]
    assert linearizable(sim)


def test_a_lease_counts_from_the_request_not_the_reply() -> None:
    """The grant reaches c1 0.3 s late; then c1 is cut off, so the server cannot revoke
    it when c2 writes (at 0.5), waits the lease out, counted from the grant, and applies
    the write at about 1.1. Counted from the reply, c1 would trust its copy until 1.4 and
    read it at 1.2, stale; counted from its request (0.1), the lease ran out at 1.1, and
    c1 asks the server."""
    sim = two_reads_and_a_write("lease", slow_reply=0.3, write_at=0.5, second_read=1.2,
                                cut=0.45, heal=1.15)
    put = next(e for e in sim.history if e["client"] == "c2" and e["type"] == "ok")
    assert put["time"] < 1.2
    assert gets_of(sim, "c1") == ["", "new"]
    assert linearizable(sim)


@pytest.mark.parametrize("policy", ["lease", "invalidate"])
def test_a_restarted_server_still_protects_the_copies_it_granted(policy: str) -> None:
    """c1 holds a copy of x from t=0.1; the server crashes at 0.2 and restarts at 0.3; c2
    writes x at 0.4, and c1 reads x again at 0.8. The server has forgotten its leases, so
    it waits one lease out before applying anything (rule 3); it has not forgotten who
    holds copies (stored durably), so it revokes c1's. Either way, c1 reads no stale x."""
    sim = Simulation(seed=1, network=Network(latency=(0.001, 0.002)))
    sim.add_node("server", lambda: CacheServer(policy=policy, lease=1.0, max_drift=RHO))
    reads = iter([{"f": "get", "key": "x", "value": None}] * 2)
    sim.add_client("c1", lambda: CacheClient(policy=policy, lease=1.0),
                   workload=lambda rng: next(reads), ops=2,
                   think=lambda rng: 0.1 if not sim.history else 0.8 - sim.now)
    sim.add_client("c2", lambda: CacheClient(policy=policy, lease=1.0, op_timeout=3.0),
                   workload=lambda rng: {"f": "put", "key": "x", "value": "new"}, ops=1,
                   start=0.4)
    sim.at(0.2, sim.crash, "server")
    sim.at(0.3, sim.restart, "server")
    sim.run(until=3.0)
    assert linearizable(sim)
    put = next(e for e in sim.history if e["client"] == "c2" and e["type"] == "ok")
    if policy == "lease":
        assert put["time"] >= 0.3 + sim.node("server").wait  # type: ignore[union-attr]
        assert gets_of(sim, "c1") == ["", ""]  # the write was not applied yet
    else:
        assert put["time"] < 0.5
        assert gets_of(sim, "c1") == ["", "new"]


def test_readers_do_not_starve_a_write() -> None:
    """r2 reads x over and over, and r1 tries to (it cannot hear the server: its reads go
    unanswered, and each retry asks for the lease again), while w writes x. Because no
    lease is granted while a write waits (rule 2), the write waits only for the leases out
    at the time, at most one lease (1 s), not for the readers to stop."""
    sim = Simulation(seed=4, network=Network(latency=(0.001, 0.003)))
    sim.add_node("server", lambda: CacheServer(policy="lease", lease=1.0, max_drift=RHO))
    for name in ("r1", "r2"):
        sim.add_client(name, lambda: CacheClient(policy="lease", lease=1.0),
                       workload=lambda rng: {"f": "get", "key": "x", "value": None},
                       ops=None, think=(0.05, 0.1))
    sim.add_client("w", lambda: CacheClient(policy="lease", lease=1.0, op_timeout=5.0),
                   workload=lambda rng: {"f": "put", "key": "x", "value": "new"}, ops=1,
                   start=0.5)
    sim.network.set_link("server", "r1", drop=1.0)  # r1 never hears a revocation...
    sim.network.set_link("r1", "server", drop=0.0)
    sim.run(until=4.0)
    put = [e for e in sim.history if e["client"] == "w" and e["type"] != "invoke"]
    assert put and put[0]["type"] == "ok" and put[0]["time"] < 0.5 + 1.0 + 0.05, put
    assert linearizable(sim)


# ----- invalidation: an unreachable client holds writes up -------------------------------------


def test_invalidation_waits_for_an_unreachable_holder() -> None:
    """c1 caches x and is cut off from t=0.5 to t=3.0. c2's write of x at t=1.0 cannot be
    applied while c1 may still read its copy: c2 gives up (outcome unknown), and the server
    applies the write once c1 answers the revocation, after the partition heals."""
    sim = Simulation(seed=2, network=Network(latency=(0.001, 0.002)))
    sim.add_node("server", lambda: CacheServer(policy="invalidate"))
    c1_ops = iter([{"f": "get", "key": "x", "value": None}] * 2)
    sim.add_client("c1", lambda: CacheClient(policy="invalidate"),
                   workload=lambda rng: next(c1_ops), ops=2, think=(0.1, 0.1))
    c2_ops = iter([{"f": "put", "key": "x", "value": "new"}, {"f": "get", "key": "y",
                                                              "value": None}])
    sim.add_client("c2", lambda: CacheClient(policy="invalidate", op_timeout=1.0),
                   workload=lambda rng: next(c2_ops), ops=2, start=0.9, think=0.1)
    sim.at(0.5, sim.partition, ["c1"], ["server"])
    sim.at(3.0, sim.heal)
    sim.run(until=2.9)
    server: CacheServer = sim.node("server")  # type: ignore[assignment]
    assert server.value("x") == ""  # not applied while c1 holds a copy
    assert [e["type"] for e in sim.history if e["client"] == "c2" and e["f"] == "put"] == [
        "invoke", "info"]
    assert gets_of(sim, "c2") == [""]  # other keys are still served
    sim.run(until=4.0)
    assert server.value("x") == "new"  # applied once c1 answered
    assert linearizable(sim)


def test_bad_settings_are_refused() -> None:
    from dsys.errors import ConfigError

    with pytest.raises(ConfigError, match="policy"):
        CacheServer(policy="write-back")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="lease"):
        CacheServer(lease=0)
    with pytest.raises(ConfigError, match="max_drift"):
        CacheServer(max_drift=1.0)
    with pytest.raises(ConfigError, match="ttl"):
        CacheClient(policy="ttl", ttl=-1)


# ----- each rule is needed: broken variants, and the test that catches each --------------------


def _grant_while_pending(mp: pytest.MonkeyPatch) -> None:
    serve_read = CacheServer.serve_read

    def broken(self: CacheServer, client: str, seq: int, key: str) -> None:
        waiting = self.pending.pop(key, None)  # as if no write were waiting
        serve_read(self, client, seq, key)
        if waiting is not None:
            self.pending[key] = waiting

    mp.setattr(CacheServer, "serve_read", broken)


def _trust_revoked_grants(mp: pytest.MonkeyPatch) -> None:
    keep = KeyCache.keep

    def broken(self: KeyCache, key: str, value: str, version: int, until: float) -> None:
        self.revoked.pop(key, None)  # forget the revocations seen
        keep(self, key, value, version, until)

    mp.setattr(KeyCache, "keep", broken)


def _lease_from_reply(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(CacheClient, "valid_until", lambda self: self.now + self.lease)


def _apply_at_once(mp: pytest.MonkeyPatch) -> None:
    apply_ready = CacheServer.apply_ready

    def broken(self: CacheServer, key: str) -> None:
        self.holders.pop(key, None)  # ignore the copies out there
        apply_ready(self, key)

    mp.setattr(CacheServer, "apply_ready", broken)


def _forget_after_crash(mp: pytest.MonkeyPatch) -> None:
    on_start = CacheServer.on_start

    def broken(self: CacheServer) -> None:
        on_start(self)
        self.holders = {}  # holders not kept durably
        self.recovering = False

    mp.setattr(CacheServer, "on_start", broken)
    mp.setattr(CacheServer, "on_recover", broken)


BROKEN = {
    "grants a lease while a write waits": (
        _grant_while_pending, test_readers_do_not_starve_a_write, ()),
    "trusts a grant that a revocation overtook": (
        _trust_revoked_grants, test_a_revocation_that_overtakes_its_grant_is_not_undone,
        ("lease",)),
    "counts a lease from the reply": (
        _lease_from_reply, test_a_lease_counts_from_the_request_not_the_reply, ()),
    "applies a write without revoking": (
        _apply_at_once, test_invalidation_waits_for_an_unreachable_holder, ()),
    "forgets its promises in a crash (lease)": (
        _forget_after_crash, test_a_restarted_server_still_protects_the_copies_it_granted,
        ("lease",)),
    "forgets its promises in a crash (invalidate)": (
        _forget_after_crash, test_a_restarted_server_still_protects_the_copies_it_granted,
        ("invalidate",)),
}


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_each_rule_is_needed(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    breaks, catches, args = BROKEN[variant]
    breaks(monkeypatch)
    with pytest.raises(AssertionError):
        catches(*args)

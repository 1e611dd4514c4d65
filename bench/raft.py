"""Raft in the simulator: MIT 6.5840's test suite in virtual time, throughput, messages.

Three measurements, each printed with the anchor it is compared to, measured in the same
run (no assertions: a bench reports):

1. **The MIT suite** (:mod:`dsys.testing.raft_scenarios`, every 3A-3D scenario against
   ``RaftAdapter.for_component()``, one seed): wall time per scenario against the
   virtual time it covers. MIT's Go tests run in real time (their handout quotes a few
   minutes for the whole of 3A-3D); here the ratio virtual/wall says how much faster
   than real time the same scenarios run. The harness checks its invariants after every
   event throughout.
2. **Throughput**: committed commands per wall-clock second, 5 servers, no faults, four
   clients that each propose a command to the leader as soon as their previous one is
   applied. Anchors: the same run with no harness (trace off, no invariants: the
   protocol alone), and the simulator's own speed on a ring of 5 nodes (deliveries per
   wall second), so the figure reads as "a committed command costs the time of N
   deliveries".
3. **Messages per committed command** in steady state (after the first election and
   commit): one command at a time (``one()``), the four waiting clients, and an open
   load of 200 commands per virtual second (for one virtual second). Far above the
   anchor, a load's cost grows faster than its length (each command's messages beget
   more): then keep ``--load-seconds`` small. Anchor: the protocol's 2(n-1), one
   AppendEntries to each follower and its reply per command sent alone. Batching can go
   below it; re-sending entries already on their way goes above.

Run from the repository root::

    python bench/raft.py [--seed S] [--load-seconds T] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from dsys import Network, Node, Simulation, message
from dsys.raft import Raft
from dsys.testing.raft import RaftAdapter, RaftCluster, RaftServer
from dsys.testing.raft_scenarios import SCENARIOS, SNAPSHOT_EVERY, cluster_factory

SERVERS = 5


# ----- 1. the suite ------------------------------------------------------------------------


def suite(seed: int, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Run every scenario (or ``only`` those) once: one row each."""
    rows = []
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        adapter = RaftAdapter.for_component(
            snapshot_every=SNAPSHOT_EVERY if scenario.snapshots else None)
        built: list[Simulation] = []

        def simulation(built: list[Simulation] = built) -> Simulation:
            sim = Simulation(seed=seed)
            built.append(sim)
            return sim

        started = time.perf_counter()
        outcome = "ok"
        try:
            scenario(cluster_factory(adapter, simulation))
        except Exception as exc:  # a bench reports, it does not stop
            outcome = f"FAIL: {str(exc).splitlines()[0][:70]}"
        wall = time.perf_counter() - started
        stats = built[-1].statistics()
        rows.append({"name": name, "part": scenario.part, "wall": wall,
                     "virtual": built[-1].now, "events": stats.events, "sent": stats.sent,
                     "outcome": outcome})
    return rows


def print_suite(rows: list[dict[str, Any]]) -> None:
    print(f"1. MIT 6.5840 Raft tests in virtual time ({len(rows)} scenarios, one seed)")
    print(f"   {'scenario':<34} {'part':>4} {'wall s':>7} {'virtual s':>9} "
          f"{'x real time':>11} {'events':>8} {'messages':>8}  outcome")
    for r in rows:
        speed = r["virtual"] / r["wall"] if r["wall"] else float("inf")
        print(f"   {r['name']:<34} {r['part']:>4} {r['wall']:7.2f} {r['virtual']:9.2f} "
              f"{speed:11.1f} {r['events']:8d} {r['sent']:8d}  {r['outcome']}")
    wall = sum(r["wall"] for r in rows)
    virtual = sum(r["virtual"] for r in rows)
    print(f"   {'total':<34} {'':>4} {wall:7.2f} {virtual:9.2f} {virtual / wall:11.1f}")
    for part in ("3A", "3B", "3C", "3D"):
        part_rows = [r for r in rows if r["part"] == part]
        if part_rows:
            print(f"   part {part}: {sum(r['wall'] for r in part_rows):6.2f} s wall for "
                  f"{sum(r['virtual'] for r in part_rows):7.2f} s of virtual time")


# ----- 2 and 3. throughput and messages per command ---------------------------------------


def servers(harness: bool, seed: int) -> Simulation:
    """5 reference servers: under the harness (trace, invariants), or bare (trace off)."""
    if harness:
        return RaftCluster(Simulation(seed=seed), RaftAdapter.for_component(), SERVERS).sim
    sim = Simulation(seed=seed, trace=False)
    for i in range(SERVERS):
        sim.add_node(f"s{i}", RaftServer)
    return sim


def leader_of(sim: Simulation) -> Raft | None:
    rafts = [node.raft for node in sim.nodes.values()]  # type: ignore[attr-defined]
    leading = [r for r in rafts if r.is_leader]
    return max(leading, key=lambda r: r.term) if leading else None


def warm_up(sim: Simulation) -> Raft:
    """Elect a leader and commit a first command: the steady state starts here."""
    sim.run_until(lambda s: leader_of(s) is not None, timeout=5.0)
    leader = leader_of(sim)
    assert leader is not None
    leader.start("warm-up")
    sim.run_until(lambda s: leader.last_applied >= leader.last_log_index, timeout=5.0)
    return leader


def measured(sim: Simulation, leader: Raft, run: Any) -> dict[str, float]:
    applied0, sent0, began = leader.last_applied, sim.statistics().sent, time.perf_counter()
    run()
    wall = time.perf_counter() - began
    committed = leader.last_applied - applied0
    return {"committed": committed, "wall": wall, "per_second": committed / wall,
            "messages": (sim.statistics().sent - sent0) / max(committed, 1)}


def closed_loop(seconds: float, *, clients: int, harness: bool, seed: int) -> dict[str, float]:
    """``clients`` clients, each proposing its next command as soon as the leader has
    applied its previous one, for ``seconds`` of virtual time."""
    sim = servers(harness, seed)
    leader = warm_up(sim)
    end = sim.now + seconds

    def propose(client: int, k: int) -> None:
        if sim.now < end:
            answer = leader.start(f"c{client}-{k}")
            assert answer is not None, "no faults: the leader stays"
            watch(client, k, answer[0])

    def watch(client: int, k: int, index: int) -> None:
        if leader.last_applied >= index:
            propose(client, k + 1)
        else:
            sim.after(0.001, watch, client, k, index)

    for client in range(clients):
        sim.after(0.0, propose, client, 0)
    return measured(sim, leader, lambda: sim.run(until=end + 0.5))


def open_loop(seconds: float, rate: int, seed: int) -> dict[str, float]:
    """A command offered to the leader ``rate`` times a virtual second, whatever
    happened to the earlier ones (trace off)."""
    sim = servers(False, seed)
    leader = warm_up(sim)
    now = sim.now
    for k in range(int(seconds * rate)):
        sim.at(now + k / rate, leader.start, k)
    return measured(sim, leader, lambda: sim.run(until=now + seconds + 0.5))


def one_at_a_time(commands: int, seed: int) -> dict[str, float]:
    """``one()`` after ``one()``: each command applied by all 5 before the next."""
    cluster = RaftCluster(Simulation(seed=seed), RaftAdapter.for_component(), SERVERS)
    cluster.one("warm-up", SERVERS)
    sent0, began = cluster.rpc_count(), time.perf_counter()
    for k in range(commands):
        cluster.one(k, SERVERS)
    wall = time.perf_counter() - began
    return {"committed": commands, "wall": wall, "per_second": commands / wall,
            "messages": (cluster.rpc_count() - sent0) / commands}


@message(name="bench:raft.Token")
class Token:
    hops: int


class RingNode(Node):
    def on_start(self) -> None:
        self.next = f"r{(int(self.id[1:]) + 1) % SERVERS}"
        self.send(self.next, Token(0))

    def on_message(self, src: str, msg: Token) -> None:
        self.send(self.next, Token(msg.hops + 1))


def ring_deliveries_per_second(seconds: float) -> float:
    """The simulator alone: a ring of 5 nodes passing tokens, trace off."""
    sim = Simulation(seed=1, network=Network(latency=(0.001, 0.010)), trace=False)
    for i in range(SERVERS):
        sim.add_node(f"r{i}", RingNode)
    began = time.perf_counter()
    sim.run(until=seconds)
    return sim.statistics().delivered / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--load-seconds", type=float, default=2.0,
                        help="virtual seconds of the client load (default 2)")
    parser.add_argument("--only", nargs="*", help="scenarios to run (default: all)")
    args = parser.parse_args()

    print_suite(suite(args.seed, args.only))

    print()
    clients = 4
    with_harness = closed_loop(args.load_seconds, clients=clients, harness=True, seed=args.seed)
    bare = closed_loop(args.load_seconds, clients=clients, harness=False, seed=args.seed)
    ring = ring_deliveries_per_second(20.0)
    print(f"2. Throughput: {SERVERS} servers, no faults, {clients} clients each waiting for "
          f"its command ({args.load_seconds:g} virtual s)")
    print(f"   with the harness (trace, invariants): {with_harness['per_second']:8.0f} "
          f"commands/wall s ({with_harness['committed']:.0f} committed)")
    print(f"   the protocol alone (trace off):       {bare['per_second']:8.0f} "
          f"commands/wall s  -> the harness costs x"
          f"{bare['per_second'] / with_harness['per_second']:.2f}")
    print(f"   anchor, the simulator on a ring:      {ring:8.0f} deliveries/wall s  -> a "
          f"committed command costs {ring / bare['per_second']:.0f} deliveries' time")

    print()
    sequential = one_at_a_time(50, args.seed)
    offered = open_loop(1.0, 200, args.seed)
    ideal = 2 * (SERVERS - 1)
    print(f"3. Messages per committed command, steady state (anchor 2(n-1) = {ideal}: one "
          "AppendEntries and its reply per follower)")
    for label, row in (("one() at a time", sequential),
                       (f"{clients} waiting clients", with_harness),
                       ("200 commands/s offered", offered)):
        print(f"   {label:<24} {row['messages']:7.2f} messages/command  "
              f"(x{row['messages'] / ideal:.2f} the anchor; {row['committed']:.0f} commands)")


if __name__ == "__main__":
    main()

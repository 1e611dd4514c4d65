"""Run your key-value service once and watch what it does.

    python try_it.py                      # seed 0: five servers, two clients, a calm network
    python try_it.py 7 --drop 0.1         # another seed, a lossy network
    python try_it.py --crash-leader 0.5   # crash the leader at t=0.5 s (restarted 0.5 s later)
    python try_it.py --max-raft-state 500 # snapshot when Raft's log passes 500 characters
    python try_it.py --trace --svg run.svg --history history.html   # show and draw it all

It prints what each server holds at the end (its data, how far it applied the log, the
size of its Raft log and its snapshot), and the verdict of the linearizability checker
on the clients' history. Same seed, same run: change your code, run again with the same
seed, and compare.
"""

from __future__ import annotations

import argparse
import itertools
from random import Random
from typing import Any

import kvraft
from rich.console import Console

from dsys import Network, Simulation
from dsys.check import check_linearizable, draw_history
from dsys.trace import svg
from dsys.trace.terminal import render

SERVERS = ("s1", "s2", "s3", "s4", "s5")


def workload(client: str) -> Any:
    """Gets, puts and appends on keys x and y; each write has a value of its own."""
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        number, key, draw = next(numbers), rng.choice("xy"), rng.random()
        if draw < 0.35:
            return {"f": "get", "key": key, "value": None}
        return {"f": "put" if draw < 0.5 else "append", "key": key,
                "value": f"{client}.{number};"}

    return next_op


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the lab 7 servers and clients once.")
    parser.add_argument("seed", type=int, nargs="?", default=0, help="simulation seed")
    parser.add_argument("--clients", type=int, default=2, help="how many clients")
    parser.add_argument("--ops", type=int, default=10, help="operations per client")
    parser.add_argument("--drop", type=float, default=0.0, help="probability a message is lost")
    parser.add_argument("--duplicate", type=float, default=0.0,
                        help="probability a message is delivered twice")
    parser.add_argument("--max-raft-state", type=int, default=None,
                        help="snapshot when Raft's log holds more characters than this")
    parser.add_argument("--crash-leader", type=float, metavar="T",
                        help="crash the leader at time T, restart it 0.5 s later")
    parser.add_argument("--trace", action="store_true", help="print the trace")
    parser.add_argument("--svg", metavar="FILE", help="draw a space-time diagram into FILE")
    parser.add_argument("--history", metavar="FILE",
                        help="draw the history and the checker's verdict into FILE (.svg, .html)")
    args = parser.parse_args()

    sim = Simulation(seed=args.seed, network=Network(drop=args.drop, duplicate=args.duplicate))
    for name in SERVERS:
        sim.add_node(name, lambda: kvraft.KVServer(args.max_raft_state))
    clients = [f"c{i}" for i in range(1, args.clients + 1)]
    for name in clients:
        sim.add_client(name, kvraft.KVClient, workload=workload(name), ops=args.ops,
                       think=(0.0, 0.05))
    if args.crash_leader is not None:
        def crash_leader() -> None:
            nodes: dict[str, Any] = sim.nodes
            leaders = [name for name, node in nodes.items() if node.raft.is_leader]
            if leaders:
                sim.crash(leaders[0], unsynced="lost")
                sim.after(0.5, sim.restart, leaders[0])
        sim.at(args.crash_leader, crash_leader)
    total = args.clients * args.ops
    done = sim.run_until(lambda s: len(s.history) >= 2 * total, timeout=30.0)

    console = Console()
    if args.trace:
        shown = sim.trace.filter(kinds=["send", "recv", "drop", "invoke", "complete", "crash",
                                        "restart", "partition", "heal", "log"])
        console.print(render(shown, nodes=[*clients, *SERVERS], title=f"seed {args.seed}"))
    if not done:
        console.print(f"[red]after 30 s, only {len(sim.history)} history events of "
                      f"{2 * total}: some operation never completed[/red]")
    for name in SERVERS:
        node: Any = sim.node(name)
        if node is None:
            console.print(f"{name}: down")
            continue
        raft = node.raft
        console.print(f"{name}: {raft.role:9} applied through {raft.last_applied:3}, log "
                      f"{raft.log_bytes():5} chars, snapshot at {raft.snapshot_index:3}, "
                      f"data {node.data}")
    result = check_linearizable(sim.history, "kv", max_steps=1_000_000)
    console.print(result.explain())
    if args.svg:
        console.print(f"diagram saved to {svg.save(sim.trace, args.svg)}")
    if args.history:
        console.print(f"history saved to {draw_history(result, args.history)}")


if __name__ == "__main__":
    main()

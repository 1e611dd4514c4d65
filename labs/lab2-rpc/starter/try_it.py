"""Run your key-value store once and watch what it does.

    python try_it.py                  # seed 0: two clients, 20% loss, some duplicates
    python try_it.py 7 --drop 0.4     # another seed, a worse network
    python try_it.py --cut 0.3 1.6    # also cut c1 off from the server from 0.3 s to 1.6 s
    python try_it.py --svg run.svg --history history.html   # draw the run and the history

It shows the trace of the run (each client's column, and the server's), what the store
holds at the end, and the verdict of the linearizability checker on the clients' history.
Same seed, same run: change your code, run again with the same seed, and compare.
"""

from __future__ import annotations

import argparse
import itertools
from random import Random
from typing import Any

import kv
from rich.console import Console

from dsys import Network, Simulation
from dsys.check import check_linearizable, draw_history
from dsys.trace import svg
from dsys.trace.terminal import render


def workload(client: str) -> Any:
    """Gets, puts and appends on keys x and y; each write has a value of its own."""
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        number, key, draw = next(numbers), rng.choice("xy"), rng.random()
        if draw < 0.4:
            return {"f": "get", "key": key, "value": None}
        return {"f": "put" if draw < 0.55 else "append", "key": key, "value": f"{client}.{number};"}

    return next_op


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the lab 2 clients and server once.")
    parser.add_argument("seed", type=int, nargs="?", default=0, help="simulation seed")
    parser.add_argument("--clients", type=int, default=2, help="how many clients")
    parser.add_argument("--ops", type=int, default=5, help="operations per client")
    parser.add_argument("--drop", type=float, default=0.2, help="probability a message is lost")
    parser.add_argument("--duplicate", type=float, default=0.1,
                        help="probability a message is delivered twice")
    parser.add_argument("--reorder", type=float, default=0.1,
                        help="probability a message is held back (and overtaken)")
    parser.add_argument("--cut", type=float, nargs=2, metavar=("FROM", "TO"),
                        help="cut client c1 off from the server between these times")
    parser.add_argument("--svg", metavar="FILE", help="draw a space-time diagram into FILE")
    parser.add_argument("--history", metavar="FILE",
                        help="draw the history and the checker's verdict into FILE (.svg, .html)")
    args = parser.parse_args()

    network = Network(drop=args.drop, duplicate=args.duplicate, reorder=args.reorder,
                      reorder_delay=0.1)
    sim = Simulation(seed=args.seed, network=network)
    sim.add_node("server", kv.KVServer)
    clients = [f"c{i}" for i in range(1, args.clients + 1)]
    for name in clients:
        sim.add_client(name, lambda: kv.KVClient("server"), workload=workload(name),
                       ops=args.ops, think=(0.0, 0.05))
    if args.cut:
        sim.at(args.cut[0], sim.partition, ["c1"], ["server"])
        sim.at(args.cut[1], sim.heal)
    sim.run_until_quiet(timeout=60.0)

    console = Console()
    shown = sim.trace.filter(kinds=["send", "recv", "drop", "duplicate", "note", "log",
                                    "invoke", "complete", "partition", "heal"])
    console.print(render(shown, nodes=[*clients, "server"], title=f"seed {args.seed}"))
    server = sim.node("server")
    console.print(f"the store holds: {getattr(server, 'data', '?')}")
    console.print(f"the duplicate table holds {len(getattr(server, 'replies', ()))} entries")
    result = check_linearizable(sim.history, "kv", timeout=10.0)
    console.print(result.explain())
    if args.svg:
        console.print(f"diagram saved to {svg.save(sim.trace, args.svg)}")
    if args.history:
        console.print(f"history saved to {draw_history(result, args.history)}")


if __name__ == "__main__":
    main()

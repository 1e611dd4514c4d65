"""Run your implementation once and watch what it does.

    python try_it.py                 # seed 0, a network that loses 20% of messages
    python try_it.py 7 --drop 0.5    # another seed, a worse network
    python try_it.py --svg run.svg   # also draw a space-time diagram (open it in a browser)

Same seed, same run: change your code, run again with the same seed, and compare. The
grader runs many seeds; when it reports a failing one, `dsys lab test` prints the command
that replays it and saves its full trace.
"""

from __future__ import annotations

import argparse

import reliable
from rich.console import Console

from dsys import Network, Simulation
from dsys.trace import svg
from dsys.trace.terminal import render


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the lab 0 client and server once.")
    parser.add_argument("seed", type=int, nargs="?", default=0, help="simulation seed")
    parser.add_argument("--requests", type=int, default=5, help="how many requests to send")
    parser.add_argument("--drop", type=float, default=0.2, help="probability a message is lost")
    parser.add_argument("--duplicate", type=float, default=0.1,
                        help="probability a message is delivered twice")
    parser.add_argument("--reorder", type=float, default=0.1,
                        help="probability a message is held back (and overtaken)")
    parser.add_argument("--until", type=float, default=2.0, help="virtual seconds to run")
    parser.add_argument("--svg", metavar="FILE", help="draw a space-time diagram into FILE")
    args = parser.parse_args()

    requests = [f"request {i}" for i in range(args.requests)]
    network = Network(drop=args.drop, duplicate=args.duplicate, reorder=args.reorder)
    sim = Simulation(seed=args.seed, network=network)
    sim.add_node("server", reliable.Server)
    sim.add_node("client", lambda: reliable.Client("server", requests))
    sim.run(until=args.until)

    console = Console()
    shown = sim.trace.filter(kinds=["send", "recv", "drop", "duplicate", "timer_fire", "log"])
    console.print(render(shown, nodes=["client", "server"], title=f"seed {args.seed}"))
    server, client = sim.node("server"), sim.node("client")
    console.print(f"requests:  {requests}")
    console.print(f"delivered: {getattr(server, 'delivered', '?')}")
    console.print(f"client done: {getattr(client, 'done', '?')}")
    if args.svg:
        console.print(f"diagram saved to {svg.save(sim.trace, args.svg)}")


if __name__ == "__main__":
    main()

"""Run your members once and watch what they deliver.

    python try_it.py                       # seed 0, 3 members, a network that reorders
    python try_it.py 7 --duplicate 0.5     # another seed, and copies of half the messages
    python try_it.py --all --svg run.svg   # every event, and a space-time diagram

Each member says hello; each member answers every message of the member before it (a
answers c, b answers a, c answers b), and answers those answers too, two levels deep. An
answer causally follows what it answers: no member may deliver it first. The checkers of
dsys.messaging judge the run, as the grader does.

Same seed, same run: change your code, run again with the same seed, and compare. When
`dsys lab test` reports a failing seed, it prints the command that replays exactly that
run and saves its full trace.
"""

from __future__ import annotations

import argparse
from typing import Any

import causal
from rich.console import Console

from dsys import Network, Simulation
from dsys.messaging.checkers import check_broadcast
from dsys.trace import svg
from dsys.trace.terminal import render

PROPERTIES = ("no-creation", "no-duplication", "causal-order", "validity")


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the lab 1 members once.")
    parser.add_argument("seed", type=int, nargs="?", default=0, help="simulation seed")
    parser.add_argument("--members", type=int, default=3, help="how many members (2 to 6)")
    parser.add_argument("--reorder", type=float, default=0.5,
                        help="probability a message is held back (and overtaken)")
    parser.add_argument("--duplicate", type=float, default=0.0,
                        help="probability a message is delivered twice")
    parser.add_argument("--all", action="store_true",
                        help="show every event, not only broadcasts and deliveries")
    parser.add_argument("--svg", metavar="FILE", help="draw a space-time diagram into FILE")
    args = parser.parse_args()

    names = "abcdef"[: max(2, min(6, args.members))]
    network = Network(reorder=args.reorder, reorder_delay=0.05, duplicate=args.duplicate)
    sim = Simulation(seed=args.seed, network=network)

    def say(name: str, text: str) -> None:
        member: Any = sim.node(name)
        member.broadcast(text)

    def listener(name: str) -> causal.DeliverCallback:
        before = names[names.index(name) - 1]

        def heard(origin: str, payload: str) -> None:
            if origin == before and payload.count("re:") < 2:
                say(name, f"re: {payload}")

        return heard

    for name in names:
        sim.add_node(name, lambda name=name: causal.Member(on_deliver=listener(name)))
    for i, name in enumerate(names):
        sim.at(0.001 * (i + 1), say, name, f"hello from {name}")
    sim.run(until=2.0)

    console = Console()
    shown = sim.trace if args.all else sim.trace.filter(kinds=["note", "log", "error"])
    console.print(render(shown, nodes=list(names), title=f"seed {args.seed}"))
    for name in names:
        member: Any = sim.node(name)
        console.print(f"{name} delivered: {[m.payload for m in member.delivered]}")
        if member.held_back:
            console.print(f"  and still holds back: {[m.id for m in member.held_back]}")
    console.print(check_broadcast(sim.trace, PROPERTIES).explain())
    if args.svg:
        console.print(f"diagram saved to {svg.save(sim.trace, args.svg)}")


if __name__ == "__main__":
    main()

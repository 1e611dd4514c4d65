"""Run your Dynamo-style store once and watch what it does.

    python try_it.py                  # seed 0: five nodes, three clients, a calm network
    python try_it.py 7 --drop 0.1     # another seed, a lossy network
    python try_it.py --isolate n3     # cut n3 off from t=0.5 s to t=2 s: stand-ins, hints
    python try_it.py --crash n2       # crash n2 at t=0.5 s (losing unsynced writes), back at 2 s
    python try_it.py --trace          # and print the whole trace

It prints the clients' operations, what every node holds at the end (its data and the
hints it keeps for others), and the verdict of ``check_fresh_reads`` (every get saw every
put acknowledged before it began). Same seed, same run: change your code, run again with
the same seed, and compare.
"""

from __future__ import annotations

import argparse
import functools

import dynamo

from dsys import Network, Simulation
from dsys.demos.quorum import workload
from dsys.replication import QuorumClient, check_fresh_reads
from dsys.trace.terminal import render

NODES = ("n1", "n2", "n3", "n4", "n5")
KEYS = ("cart", "wishlist")


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the lab 8 nodes and clients once.")
    parser.add_argument("seed", type=int, nargs="?", default=0, help="simulation seed")
    parser.add_argument("--clients", type=int, default=3, help="how many clients")
    parser.add_argument("--ops", type=int, default=8, help="operations per client")
    parser.add_argument("--drop", type=float, default=0.0, help="message loss rate")
    parser.add_argument("--strict", action="store_true", help="sloppy=False")
    parser.add_argument("--isolate", choices=NODES, help="cut this node off for a while")
    parser.add_argument("--crash", choices=NODES, help="crash this node for a while")
    parser.add_argument("--trace", action="store_true", help="print the trace")
    args = parser.parse_args()

    sim = Simulation(seed=args.seed, network=Network(drop=args.drop))
    for name in NODES:
        sim.add_node(name, functools.partial(dynamo.DynamoNode, sloppy=not args.strict))
    for i in range(1, args.clients + 1):
        name = f"c{i}"
        sim.add_client(name, QuorumClient, workload=workload(name, KEYS), ops=args.ops,
                       think=(0.05, 0.2))
    if args.isolate:
        sim.at(0.5, sim.isolate, args.isolate)
        sim.at(2.0, sim.heal)
    if args.crash:
        sim.at(0.5, sim.crash, args.crash, unsynced="lost")
        sim.at(2.0, sim.restart, args.crash)
    sim.run(until=5.0)

    if args.trace:
        print(render(sim.trace, nodes=list(sim.node_ids) + list(sim.client_ids)))
    print("operations:")
    for event in sim.history:
        if event["type"] != "invoke":
            print(f"  {event['time']:7.3f}  {event['client']}  {event['f']} {event['key']} "
                  f"{event['value']!r} -> {event['type']}")
    print("what each node holds at the end:")
    for name, node in sorted(sim.nodes.items()):
        data = {key: sorted(v.value for v in versions)
                for key, versions in sorted(getattr(node, "data", {}).items())}
        hints = {owner: sorted(keys) for owner, keys in sorted(getattr(node, "hints", {}).items())
                 if keys}
        print(f"  {name}: data {data}" + (f", hints for {hints}" if hints else ""))
    print(check_fresh_reads(sim.history).explain())


if __name__ == "__main__":
    main()

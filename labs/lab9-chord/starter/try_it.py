"""Run your Chord once: ten nodes join, one crashes; print the ring and a few lookups.

    python try_it.py [SEED]

Every second of virtual time it prints each node (in identifier order) with its
successor and predecessor, marks what is wrong, and looks up three keys. The trace is
saved to try_it.jsonl (see it with `dsys trace show try_it.jsonl`).
"""

from __future__ import annotations

import functools
import sys

from chord import ChordNode, chord_id

from dsys import Simulation

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
sim = Simulation(seed=seed)
names = [f"n{i}" for i in range(10)]
for i, name in enumerate(names):
    sim.add_node(name, functools.partial(ChordNode, None if i == 0 else names[0]),
                 start=0.2 * i)


def show() -> None:
    live = sorted((n for n in names if sim.is_up(n) and sim.node(n).joined),  # type: ignore
                  key=chord_id)
    print(f"t={sim.now:4.1f}  ring of {len(live)}:")
    for at, name in enumerate(live):
        node = sim.node(name)
        succ, pred = node.successor, node.predecessor  # type: ignore[union-attr]
        right_succ, right_pred = live[(at + 1) % len(live)], live[at - 1]
        marks = ("" if succ == right_succ else f"  <- successor should be {right_succ}") + (
            "" if pred == right_pred or len(live) == 1 else
            f"  <- predecessor should be {right_pred}")
        print(f"  {name:4} {chord_id(name):5}  successor {succ:4} predecessor {pred}{marks}")
    for key in ("apple", "banana", "cherry"):
        asker = live[0]

        def answered(owner: str | None, key: str = key, asker: str = asker) -> None:
            print(f"    lookup of {key!r} ({chord_id(key)}) from {asker}: {owner}")

        sim.node(asker).lookup(chord_id(key), answered)  # type: ignore[union-attr]


for second in range(1, 7):
    if second == 4:
        print("crashing n3")
        sim.crash("n3")
    sim.run(until=float(second))
    show()
sim.run(until=7.0)
sim.trace.save("try_it.jsonl")

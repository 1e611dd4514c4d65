"""Draw the pictures of the mutual exclusion page from real simulated runs.

``main(out_dir)`` writes, into ``out_dir``:

- ``mutex-ricart-agrawala.svg``: one Ricart-Agrawala round on three nodes: n1 and n3 ask
  at nearly the same time with the same timestamp, n2 does not; n1 wins the tie (smaller
  id), so n1 defers its reply to n3 until it leaves;
- ``mutex-central.svg``: the same two requests served by a coordinator (n1);
- ``mutex-token-ring.svg``: the same two requests served by a token going round;
- ``mutex-coordinator-crash.svg``: the coordinator crashes and restarts with an empty
  memory, and lets a second node in.

The lock's ``request`` / ``enter`` / ``exit`` notes are drawn as log marks on the lanes;
timers are left out. Run it by hand with ``python docs/gen_mutex_pictures.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from dsys import Simulation, Trace, TraceEvent
from dsys.demos.mutex_workload import Workload
from dsys.mutex import CentralMutex, Mutex, RicartAgrawala, TokenRing
from dsys.trace import svg

#: When each node asks (None: never), and how long it stays inside, in seconds.
ASKS = {"n1": 0.001, "n2": None, "n3": 0.002}
HOLD = 0.008


def two_requests(algorithm: Callable[[], Mutex]) -> Simulation:
    """Three nodes; n1 and n3 each ask once, almost together; n2 never asks."""
    sim = Simulation(seed=1)
    for node_id, ask in ASKS.items():
        sim.add_node(node_id, _asker(algorithm, ask))
    return sim


def _asker(algorithm: Callable[[], Mutex], ask: float | None) -> Callable[[], Workload]:
    return lambda: Workload(algorithm, think=(ask or 0.0, ask or 0.0), hold=(HOLD, HOLD),
                            requests=0 if ask is None else 1)


def coordinator_crash() -> Simulation:
    """n1 coordinates; n2 enters and stays; n3 queues; n1 crashes, restarts, and grants
    n4's request while n2 is still inside."""
    sim = Simulation(seed=1)
    plan = {"n1": (None, 0.0), "n2": (0.001, 0.06), "n3": (0.01, HOLD), "n4": (0.04, HOLD)}
    for node_id, (ask, hold) in plan.items():
        sim.add_node(node_id, _one_shot(ask, hold))
    sim.at(0.02, sim.crash, "n1")
    sim.at(0.03, sim.restart, "n1")
    return sim


def _one_shot(ask: float | None, hold: float) -> Callable[[], Workload]:
    return lambda: Workload(CentralMutex, think=(ask or 0.0, ask or 0.0), hold=(hold, hold),
                            requests=0 if ask is None else 1)


def for_drawing(trace: Trace, end: float | None = None) -> Trace:
    """Messages, faults and the lock's notes (as log marks) up to ``end``; no timers."""
    kept = []
    for e in trace.filter(end=end):
        if e.kind == "note":
            order = e.data.get("order")
            key = " (" + ", ".join(str(part) for part in order) + ")" if order else ""
            text = f"{e.data.get('event')}{key}"
            kept.append(TraceEvent(e.time, e.node, "log", {"text": text}))
        elif e.kind in ("send", "recv", "drop", "crash", "restart"):
            kept.append(e)
    return Trace(kept)


def main(out_dir: Path) -> None:
    """Write the pictures into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pictures = [
        ("mutex-ricart-agrawala.svg", two_requests(RicartAgrawala), None,
         "Ricart-Agrawala: n1 and n3 ask at once"),
        ("mutex-central.svg", two_requests(CentralMutex), None,
         "central coordinator n1: request, grant, release"),
        ("mutex-token-ring.svg", two_requests(TokenRing), 0.08,
         "token ring n1 -> n2 -> n3 -> n1"),
        ("mutex-coordinator-crash.svg", coordinator_crash(), None,
         "coordinator n1 crashes: n3 is forgotten, n4 joins n2"),
    ]
    for name, sim, end, title in pictures:
        sim.run(until=0.2 if end is None else end)
        svg.save(for_drawing(sim.trace, end), out_dir / name, title=title, height=420.0,
                 nodes=list(sim.trace.nodes))  # n1, n2, ... in order


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)

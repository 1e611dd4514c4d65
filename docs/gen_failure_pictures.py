"""Draw the pictures of the failure detection page from real simulation runs.

``main(out_dir)`` writes, into ``out_dir``:

- ``failure-phi.svg``: φ that member ``a`` computes for ``b`` over a run: heartbeats
  every 100 ms over a jittery link (latency 1 to 60 ms), then ``b`` crashes at t = 4 s and
  φ climbs through the threshold;
- ``failure-phi-adapts.svg``: the same, but from t = 2 s the link gets much more jittery
  (1 to 250 ms): φ learns the new spread, and a late heartbeat no longer looks like death;
- ``failure-swim-states.svg``: SWIM's states of a member as seen by another, drawn from
  :data:`dsys.failure.swim.TRANSITIONS`.

The docs build calls ``main``; run it by hand with ``python docs/gen_failure_pictures.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dsys import Network, Node, Simulation, Uniform
from dsys.failure import PhiAccrualDetector
from dsys.failure.draw import draw_phi, draw_states

SEED = 1
INTERVAL = 0.1
THRESHOLD = 8.0


class Watcher(Node):
    def __init__(self) -> None:
        super().__init__()
        self.detector = self.add_component(PhiAccrualDetector(INTERVAL, THRESHOLD))


def phi_run(until: float, *, crash: float | None = None, wider: float | None = None
            ) -> tuple[list[tuple[float, float]], list[float]]:
    """φ of b as a sees it, every 10 ms, and the times b's heartbeats reached a."""
    sim = Simulation(seed=SEED, network=Network(latency=(0.001, 0.060)))
    sim.add_node("a", Watcher)
    sim.add_node("b", Watcher)
    samples: list[tuple[float, float]] = []

    def sample() -> None:
        node = sim.nodes["a"]
        assert isinstance(node, Watcher)
        samples.append((sim.now, node.detector.phi("b")))

    for step in range(1, int(until / 0.01)):
        sim.at(step * 0.01, sample)
    if crash is not None:
        sim.at(crash, sim.crash, "b")
    if wider is not None:
        sim.at(wider, lambda: sim.network.set_link("b", "a", latency=Uniform(0.001, 0.250)))
    sim.run(until=until)
    arrivals = [e.time for e in sim.trace
                if e.kind == "recv" and e.node == "a" and e.data.get("from") == "b"]
    return samples, arrivals


def main(out_dir: str | Path) -> None:
    """Write the pictures into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples, arrivals = phi_run(5.0, crash=4.0)
    (out / "failure-phi.svg").write_text(draw_phi(
        samples, threshold=THRESHOLD, arrivals=arrivals, crash=4.0,
        title="φ of b, seen from a: heartbeats every 100 ms, then b crashes at t=4 s"))
    samples, arrivals = phi_run(6.0, wider=2.0)
    (out / "failure-phi-adapts.svg").write_text(draw_phi(
        samples, threshold=THRESHOLD, arrivals=arrivals,
        title="from t=2 s the link jitters up to 250 ms: φ learns it"))
    (out / "failure-swim-states.svg").write_text(draw_states())


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    main(sys.argv[1] if len(sys.argv) > 1 else default)

"""Draw the pictures of the failure detection page from real simulation runs.

``main(out_dir)`` writes, into ``out_dir``:

- ``failure-phi.svg``: φ that member ``a`` computes for ``b`` over a run: heartbeats
  every 100 ms over a jittery link (latency 1 to 60 ms), then ``b`` crashes at t = 4 s and
  φ climbs through the threshold;
- ``failure-phi-adapts.svg``: the same, but from t = 2 s the link gets much more jittery
  (1 to 250 ms): φ learns the new spread, and a late heartbeat no longer looks like death;
- ``failure-swim-states.svg``: SWIM's states of a member as seen by another, drawn from
  :data:`dsys.failure.swim.TRANSITIONS`;
- ``failure-tradeoff.svg``: detection time against false suspicions, one curve per
  detector, its sensitivity knob swept (:func:`dsys.demos.detector_tradeoff.sweep` under
  :data:`~dsys.demos.detector_tradeoff.PLOT`, over
  :data:`~dsys.demos.detector_tradeoff.PLOT_SEEDS`: a few seconds).

The docs build calls ``main``; run it by hand with ``python docs/gen_failure_pictures.py``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path

import dsys.trace.svg as measure  # measures text; these are charts, not space-time diagrams
from dsys import Network, Node, Simulation, Uniform
from dsys.demos.detector_tradeoff import KNOBS, PLOT, PLOT_SEEDS, Conditions, Outcome, sweep
from dsys.failure import PhiAccrualDetector
from dsys.failure.draw import draw_phi, draw_states, free_spot

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


#: A colour and a marker for each detector's curve.
STYLE = {"heartbeat": ("#c53030", "circle"), "phi": ("#2b6cb0", "square"),
         "swim": ("#b7791f", "diamond"), "swim+lifeguard": ("#2f855a", "triangle")}


def conditions_text(conditions: Conditions, seeds: Sequence[int]) -> str:
    """The plot's conditions in words (its subtitle; the page says the same)."""
    low, high = conditions.slow_latency
    return (f"{conditions.size} members, {conditions.loss:.0%} of messages lost, "
            f"{conditions.slow} slow member ({low * 1000:.0f}-{high * 1000:.0f} ms a "
            f"message), {conditions.crashes} crashes, {conditions.seconds:.0f} s, "
            f"{len(seeds)} seeds")


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if shape == "diamond":
        return (f'<path d="M {x:.1f} {y - 5:.1f} L {x + 5:.1f} {y:.1f} L {x:.1f} {y + 5:.1f} '
                f'L {x - 5:.1f} {y:.1f} z" fill="{colour}"/>')
    return (f'<path d="M {x:.1f} {y - 5:.1f} L {x + 5:.1f} {y + 4:.1f} L {x - 5:.1f} '
            f'{y + 4:.1f} z" fill="{colour}"/>')


def tradeoff_picture(outcomes: Sequence[Outcome], subtitle: str, *, width: float = 680.0,
                     height: float = 400.0) -> str:
    """Detection time (x, seconds) against false suspicions per member-minute (y, on a
    log scale, with a row for none at all): a curve per detector through its knob's
    values, each point labelled with its value."""
    left, top, right, bottom = 60.0, 84.0, width - 150, height - 50
    zero_row = bottom  # "none": below the lowest decade
    decades = [0.1, 1.0, 10.0, 100.0, 1000.0]
    shown = [o for o in outcomes if not math.isnan(o.detection)]
    x_max = max(0.2, math.ceil(max((o.detection for o in shown), default=1.0) * 5) / 5)

    def x(seconds: float) -> float:
        return left + seconds / x_max * (right - left)

    def y(rate: float) -> float:
        if rate <= 0:
            return zero_row
        scale = (math.log10(max(rate, decades[0])) - math.log10(decades[0])) / (
            math.log10(decades[-1]) - math.log10(decades[0]))
        return bottom - 22 - scale * (bottom - 22 - top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{measure.FONT_FAMILY}" '
        'font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="10" y="18" font-size="13" font-weight="bold">Detection time against '
        "false suspicions: each detector's knob swept</text>",
        f'<text x="10" y="34" fill="#4a5568">{escape(subtitle)}</text>',
        '<text x="10" y="50" fill="#4a5568">lower left is better; each point is labelled '
        "with its knob's value</text>",
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#a0aec0"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#a0aec0"/>',
        f'<text x="{(left + right) / 2:.1f}" y="{height - 12}" text-anchor="middle" '
        'fill="#2d3748">mean time from a crash to its suspicion (s)</text>',
        f'<text x="10" y="{top - 12}" fill="#2d3748">false suspicions per member-minute '
        "(log scale)</text>",
    ]
    for decade in decades:
        out.append(f'<line x1="{left}" y1="{y(decade):.1f}" x2="{right}" y2="{y(decade):.1f}" '
                   'stroke="#edf2f7"/>')
        out.append(f'<text x="{left - 6}" y="{y(decade) + 4:.1f}" text-anchor="end" '
                   f'fill="#718096">{decade:g}</text>')
    out.append(f'<text x="{left - 6}" y="{zero_row + 4:.1f}" text-anchor="end" '
               'fill="#718096">none</text>')
    for k in range(6):
        t = x_max * k / 5
        out.append(f'<text x="{x(t):.1f}" y="{bottom + 20}" text-anchor="middle" '
                   f'fill="#718096">{t:.1f}</text>')
    curves = {name: [(x(o.detection), y(o.false_rate), o.knob) for o in shown
                      if o.detector == name] for name in KNOBS}
    # Each point's label goes to the first free spot around it: clear of every other
    # text and of every marker; a label with no free spot is left to the point's tooltip.
    labels: list[tuple[float, float, str, str]] = []
    taken: list[measure.Box] = [(px - 5, py - 5, px + 5, py + 5) for points in curves.values()
                        for px, py, _ in points]
    for number, name in enumerate(KNOBS):
        colour, shape = STYLE[name]
        points = curves[name]
        if points:
            line = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
            out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" '
                       'stroke-width="1.5" stroke-opacity="0.7"/>')
        for px, py, knob in points:
            out.append(f"<g><title>{escape(name)}, {escape(KNOBS[name].name)} {knob:g}: "
                       f"{(px - left) / (right - left) * x_max:.2f} s</title>"
                       f"{_marker(shape, px, py, colour)}</g>")
            labels.append((px, py, colour, f"{knob:g}"))
        legend_y = top + 32 * number
        out.append(_marker(shape, right + 20, legend_y, colour))
        out.append(f'<text x="{right + 30}" y="{legend_y + 4:.1f}" fill="{colour}">'
                   f"{escape(name)}</text>")
        out.append(f'<text x="{right + 30}" y="{legend_y + 17:.1f}" fill="#718096" '
                   f'font-size="9">{escape(KNOBS[name].name)}</text>')
    taken += [box for _, box in measure.text_boxes("\n".join(out) + "</svg>")]
    for px, py, colour, text in labels:
        spots = [(px + dx, py + dy, anchor) for distance in (1, 2, 3)
                 for dx, dy, anchor in ((7, -6, "start"), (7, 12, "start"), (-7, -6, "end"),
                                        (-7, 12, "end"), (0, -8, "middle"),
                                        (0, 16, "middle"))
                 for dx, dy in [(dx * distance, dy + (6 if dy > 0 else -6) * (distance - 1))]]
        spot = free_spot(text, 9, spots, taken, (left, top - 6, right + 10, bottom - 2))
        if spot is not None:
            out.append(f'<text x="{spot[0]:.1f}" y="{spot[1]:.1f}" text-anchor="{spot[2]}" '
                       f'fill="{colour}" font-size="9">{text}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


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
    (out / "failure-tradeoff.svg").write_text(tradeoff_picture(
        sweep(PLOT, PLOT_SEEDS), conditions_text(PLOT, PLOT_SEEDS)))


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    main(sys.argv[1] if len(sys.argv) > 1 else default)

"""Draw the pictures of the scale-out pages from real simulation runs.

``main(out_dir)`` writes, into ``out_dir``:

- ``scaling-throughput.svg``: answers per second against the number of servers behind a
  balancer that spends :data:`BALANCER_COST` on each request (closed loop, 4 users a
  server; :func:`dsys.demos.scaling.measure_throughput`), with the ideal line (100
  requests a second a server) and the balancer's ceiling;
- ``scaling-p99.svg``: p99 latency against utilization, one curve per routing policy, 10
  servers (:func:`dsys.demos.scaling.measure_policy`, :data:`PLOT_REQUESTS` requests a
  server, seed 1);
- ``scaling-autoscaler.svg``: demand and capacity over time under the autoscaler, the
  demo's run (:func:`dsys.demos.scaling.autoscaled`, seed 1).

About three seconds in all. The docs build calls ``main``; run it by hand with
``python docs/gen_scaling_pictures.py``.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from dsys.demos.scaling import (
    DEMO_SERVICE,
    POLICY,
    SERVICE,
    AutoscaleRun,
    autoscaled,
    measure_policy,
    measure_throughput,
)
from dsys.scaling import POLICIES

BALANCER_COST = 0.0005
SERVER_COUNTS = (1, 2, 4, 8, 12, 16, 20, 24, 32, 48, 64)
PLOT_SERVERS = 10
PLOT_UTILIZATIONS = (0.5, 0.6, 0.7, 0.8, 0.9)
PLOT_REQUESTS = 200

#: A colour per routing policy.
COLOURS = {"round-robin": "#b7791f", "random": "#c53030", "least-outstanding": "#2f855a",
           "two-choices": "#2b6cb0", "consistent-hash": "#6b46c1"}


class Chart:
    """A plot area: data coordinates to SVG coordinates, axes with ticks, lines, points."""

    def __init__(self, title: str, subtitle: str, *, x_range: tuple[float, float],
                 y_range: tuple[float, float], width: float = 680.0, height: float = 400.0,
                 right: float = 160.0, log_y: bool = False) -> None:
        self.width, self.height = width, height
        self.left, self.top = 64.0, 62.0
        self.right_edge, self.bottom = width - right, height - 50.0
        self.x_range, self.y_range, self.log_y = x_range, y_range, log_y
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            'font-family="monospace" font-size="11">',
            '<rect width="100%" height="100%" fill="white"/>',
            f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
            f'<text x="10" y="34" fill="#4a5568">{escape(subtitle)}</text>',
        ]

    def x(self, value: float) -> float:
        low, high = self.x_range
        return self.left + (value - low) / (high - low) * (self.right_edge - self.left)

    def y(self, value: float) -> float:
        low, high = self.y_range
        if self.log_y:
            value, low, high = (math.log10(max(value, low)), math.log10(low),
                                math.log10(high))
        return self.bottom - (value - low) / (high - low) * (self.bottom - self.top)

    def axes(self, x_label: str, y_label: str, x_ticks: Sequence[float],
             y_ticks: Sequence[float], *, x_format: Callable[[float], str] = "{:g}".format,
             y_format: Callable[[float], str] = "{:g}".format) -> None:
        left, top, right, bottom = self.left, self.top, self.right_edge, self.bottom
        middle = (top + bottom) / 2
        self.parts += [
            f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#a0aec0"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#a0aec0"/>',
            f'<text x="{(left + right) / 2:.1f}" y="{self.height - 12}" text-anchor="middle" '
            f'fill="#2d3748">{escape(x_label)}</text>',
            f'<text x="14" y="{middle:.1f}" fill="#2d3748" text-anchor="middle" '
            f'transform="rotate(-90 14 {middle:.1f})">{escape(y_label)}</text>',
        ]
        for tick in y_ticks:
            y = self.y(tick)
            self.parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
                              'stroke="#edf2f7"/>')
            self.parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                              f'fill="#718096">{y_format(tick)}</text>')
        for tick in x_ticks:
            self.parts.append(f'<text x="{self.x(tick):.1f}" y="{bottom + 16}" '
                              f'text-anchor="middle" fill="#718096">'
                              f"{x_format(tick)}</text>")

    def line(self, points: Sequence[tuple[float, float]], colour: str, *, width: float = 2.0,
             dash: str = "", marks: bool = False, step: bool = False, fill: str = "") -> None:
        coords = [(self.x(px), self.y(py)) for px, py in points]
        if step:  # hold each value until the next point
            held = []
            for (x0, y0), (x1, _) in itertools.pairwise(coords):
                held += [(x0, y0), (x1, y0)]
            coords = held + coords[-1:]
        text = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        if fill:
            area = (f"{coords[0][0]:.1f},{self.bottom} {text} "
                    f"{coords[-1][0]:.1f},{self.bottom}")
            self.parts.append(f'<polygon points="{area}" fill="{fill}" stroke="none"/>')
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<polyline points="{text}" fill="none" stroke="{colour}" '
                          f'stroke-width="{width}"{dashes}/>')
        if marks:
            for cx, cy in coords:
                self.parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" '
                                  f'fill="{colour}"/>')

    def legend(self, row: int, colour: str, text: str, *, dash: str = "",
               note: str = "") -> None:
        x, y = self.right_edge + 16, self.top + 8 + 30 * row
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{colour}" '
                          f'stroke-width="2"{dashes}/>')
        self.parts.append(f'<text x="{x + 24}" y="{y + 4}" fill="{colour}">{escape(text)}</text>')
        if note:
            self.parts.append(f'<text x="{x + 24}" y="{y + 17}" fill="#718096" '
                              f'font-size="9">{escape(note)}</text>')

    def svg(self) -> str:
        return "\n".join([*self.parts, "</svg>"]) + "\n"


def throughput_picture(counts: Sequence[int] = SERVER_COUNTS) -> str:
    """Throughput against the number of servers, with the ideal line and the ceiling."""
    runs = [measure_throughput(n, cost=BALANCER_COST, requests=1500) for n in counts]
    ceiling = 1 / BALANCER_COST
    top = max(max(r.throughput for r in runs), ceiling) * 1.25
    chart = Chart("Throughput against servers: linear until the balancer saturates",
                  f"servers of {SERVICE * 1000:.0f} ms, 4 users a server (closed loop); the "
                  f"balancer spends {BALANCER_COST * 1000:.1f} ms a request",
                  x_range=(0, counts[-1]), y_range=(0, top))
    chart.axes("servers behind the balancer", "answers per second",
               [0, 8, 16, 24, 32, 40, 48, 56, 64], [0, 500, 1000, 1500, 2000, 2500])
    chart.line([(0, 0), (top * SERVICE, top)], "#a0aec0", width=1.5, dash="5 4")
    chart.line([(0, ceiling), (counts[-1], ceiling)], "#c53030", width=1.5, dash="2 3")
    chart.line([(r.servers, r.throughput) for r in runs], "#2b6cb0", marks=True)
    chart.legend(0, "#2b6cb0", "measured")
    chart.legend(1, "#a0aec0", "100 per server", dash="5 4", note="no balancer cost")
    chart.legend(2, "#c53030", "balancer ceiling", dash="2 3",
                 note=f"1 / {BALANCER_COST * 1000:.1f} ms = {ceiling:.0f}/s")
    return chart.svg()


def p99_picture() -> str:
    """p99 latency against utilization, a curve per policy (log scale)."""
    curves = {policy: [measure_policy(policy, servers=PLOT_SERVERS, utilization=u, seed=1,
                                      requests_per_server=PLOT_REQUESTS)
                       for u in PLOT_UTILIZATIONS] for policy in POLICIES}
    chart = Chart("p99 latency against utilization, per routing policy",
                  f"{PLOT_SERVERS} servers of {SERVICE * 1000:.0f} ms (exponential), Poisson "
                  f"arrivals, {PLOT_REQUESTS} requests a server, seed 1",
                  x_range=(PLOT_UTILIZATIONS[0] - 0.02, PLOT_UTILIZATIONS[-1] + 0.02),
                  y_range=(0.03, 0.6), log_y=True, right=190.0)
    chart.axes("utilization (arrival rate / capacity)", "p99 latency (ms, log scale)",
               PLOT_UTILIZATIONS, [0.03, 0.05, 0.1, 0.2, 0.3, 0.5],
               x_format="{:.0%}".format, y_format=lambda s: f"{s * 1000:.0f}")
    for row, (policy, runs) in enumerate(curves.items()):
        colour = COLOURS[policy]
        chart.line([(r.utilization, r.p99) for r in runs], colour, marks=True)
        chart.legend(row, colour, policy,
                     note=f"at 90%: {runs[-1].p99 * 1000:.0f} ms")
    return chart.svg()


def autoscaler_picture(run: AutoscaleRun | None = None) -> str:
    """Demand and capacity (servers in service) over time, and the servers paid for."""
    run = run if run is not None else autoscaled(1)
    per_server = 1 / DEMO_SERVICE
    end = run.timeline[-1][0]
    highest = max(max(demand, paid * per_server) for _, demand, _, _, paid in run.timeline)
    top = math.ceil(highest * 1.2 / 20) * 20
    chart = Chart("Capacity following demand under the autoscaler",
                  f"target {POLICY.target:.0%} (band {POLICY.low:.0%}-{POLICY.high:.0%}), "
                  f"cooldown {POLICY.cooldown:g} s, stabilization {POLICY.stabilization:g} s; "
                  f"servers of {per_server:.0f} requests/s; seed 1",
                  x_range=(0, end), y_range=(0, top), right=190.0)
    chart.axes("time (s)", "requests per second", list(range(0, int(end) + 1, 60)),
               list(range(0, int(top) + 1, 20)))
    chart.line([(t, paid * per_server) for t, _, _, _, paid in run.timeline], "#a0aec0",
               width=1.0, step=True, dash="3 3")
    chart.line([(t, capacity) for t, _, capacity, _, _ in run.timeline], "#2f855a",
               step=True, fill="#f0fff4")
    chart.line([(t, capacity * POLICY.target) for t, _, capacity, _, _ in run.timeline],
               "#2f855a", width=1.0, step=True, dash="6 3")
    chart.line([(t, demand) for t, demand, _, _, _ in run.timeline], "#c53030")
    chart.legend(0, "#c53030", "demand")
    chart.legend(1, "#2f855a", "capacity", note="servers in service x 10/s")
    chart.legend(2, "#2f855a", "capacity x target", dash="6 3",
                 note="what the autoscaler aims at")
    chart.legend(3, "#a0aec0", "servers on x 10/s", dash="3 3",
                 note="booting and draining too")
    return chart.svg()


def main(out_dir: str | Path) -> None:
    """Write the pictures into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling-throughput.svg").write_text(throughput_picture())
    (out / "scaling-p99.svg").write_text(p99_picture())
    (out / "scaling-autoscaler.svg").write_text(autoscaler_picture())


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    main(sys.argv[1] if len(sys.argv) > 1 else default)

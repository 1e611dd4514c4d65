"""``dsys demo scaling`` (dsys.demos.scaling): capacity follows demand up and down, the
checkers pass, and the command draws it, the same under any PYTHONHASHSEED."""

from __future__ import annotations

import math
import os
import subprocess
import sys

from rich.console import Console

from dsys.demos.scaling import (
    DEMAND,
    DEMO_SERVICE,
    POLICY,
    QUIET,
    UNTIL,
    present,
    scenario,
)


def test_capacity_follows_demand_up_and_back_down() -> None:
    sim = scenario(seed=1)
    sim.run(until=UNTIL)
    run = sim.result()
    for report in run.checks:
        assert report, report.explain()
    assert run.answered == run.issued
    serving = {t: s for t, _, _, s, _ in run.timeline}
    # At the plateau (40 requests/s from 80 s to 110 s) enough servers serve to keep
    # utilization under the scale-out threshold...
    needed = math.ceil(DEMAND.peak * DEMO_SERVICE / POLICY.high)
    assert all(serving[t] >= needed for t in range(90, 111))
    # ... and at the end, back at 10 requests/s, more than half of them are off again.
    assert serving[UNTIL] < serving[100] / 2
    outs = [c for c in run.changes if c[2] > c[1]]
    ins = [c for c in run.changes if c[2] < c[1]]
    assert outs and ins and max(c[0] for c in outs) < min(c[0] for c in ins)
    console = Console(width=120, record=True, color_system=None)
    present(sim, console)
    text = console.export_text()
    assert "no flapping within 16 s: ok" in text and "summary: demand went from 10" in text


def test_the_command_draws_it_the_same_under_any_hash_seed() -> None:
    until = 60.0
    sim = scenario(seed=2, until=until)
    sim.run(until=until)
    env = {**os.environ, "COLUMNS": "120",
           "PYTHONHASHSEED": "7" if os.environ.get("PYTHONHASHSEED") == "99" else "99"}
    result = subprocess.run([sys.executable, "-m", "dsys.cli", "demo", "scaling", "--seed", "2",
                             "--until", str(until)], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"trace digest: {sim.trace.digest()}" in out
    for shown in ("demand and capacity", "every request answered once: ok",
                  "removed servers drain: ok", "no flapping", "summary:"):
        assert shown in out, out
    assert until - QUIET > 0

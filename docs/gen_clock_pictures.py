"""Draw the pictures of the time-and-clocks page from real simulation runs.

``main(out_dir)`` writes, into ``out_dir``:

- ``clocks-lamport-vector.svg``: the ``dsys demo clocks`` run (seed 1), every event
  labelled with its Lamport time and its vector;
- ``clocks-causality.svg``: the same run, one event highlighted with its causal past, its
  causal future and the events concurrent with it (from the happens-before oracle);
- ``clocks-cristian.svg`` and ``clocks-berkeley.svg``: the error achieved by Cristian's and
  Berkeley's algorithms over time, against the bound they claim.

The docs build calls ``main``; run it by hand with ``python docs/gen_clock_pictures.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dsys.clocks import HappensBefore, read_timestamps
from dsys.clocks.draw import draw_clocks
from dsys.demos import clocks as demo
from dsys.demos.clock_sync import draw_sync, measure_berkeley, measure_cristian
from dsys.trace import Trace

SEED = 1


def most_instructive_event(trace: Trace) -> int:
    """The timestamped event with the most balanced past, future and concurrent sets."""
    hb = HappensBefore.from_trace(trace)
    stamped = sorted({s.index for s in read_timestamps(trace, "lamport")})

    def balance(e: int) -> tuple[int, int]:
        past = sum(hb.before(f, e) for f in stamped)
        future = sum(hb.before(e, f) for f in stamped)
        concurrent = sum(hb.concurrent(e, f) for f in stamped)
        return min(past, future, concurrent), -e

    return max(stamped, key=balance)


def main(out_dir: str | Path) -> None:
    """Write the pictures into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sim = demo.scenario(seed=SEED)
    sim.run(until=demo.UNTIL)
    (out / "clocks-lamport-vector.svg").write_text(draw_clocks(
        sim.trace, title=f"dsys demo clocks --seed {SEED}: Lamport and vector timestamps"))
    chosen = most_instructive_event(sim.trace)
    (out / "clocks-causality.svg").write_text(draw_clocks(
        sim.trace, highlight=chosen, title=f"what happened before and after e{chosen}"))
    (out / "clocks-cristian.svg").write_text(draw_sync(
        measure_cristian(SEED), ("server", "c1"),
        title="Cristian: client c1 against the time server"))
    (out / "clocks-berkeley.svg").write_text(draw_sync(
        measure_berkeley(SEED), ("b1", "b2"),
        title="Berkeley: member b1 against member b2"))


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    main(sys.argv[1] if len(sys.argv) > 1 else default)

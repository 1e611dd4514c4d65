"""Draw the pictures of the Raft page from real simulated runs of Figure 8.

``main(out_dir)`` writes, into ``out_dir``, the paper's Figure 8 played by five servers
``a`` to ``e`` (``dsys.demos.raft.figure_8``, seed 0), once with a leader that commits an
earlier term's entry by counting replicas (``CountsOldTerms``, the bug) and once with
Raft's rule (the fix):

- ``raft-figure8-ab.svg``: steps (a) and (b), the same in both runs: ``a`` leads term 2
  and its entry ``x`` reaches ``b`` only; ``e`` leads term 3 and its entry ``y`` reaches
  nobody;
- ``raft-figure8-bug.svg``: steps (c) and (d) with the bug: ``a``, leader of term 4,
  copies ``x`` to ``c`` and ``d``, counts a majority, commits and applies it; then ``e``,
  leader of term 5, overwrites it with ``y``, which ``b``, ``c``, ``d`` and ``e`` apply at
  the same index;
- ``raft-figure8-fix.svg``: steps (c) and (d) with the rule: ``a`` commits nothing, and
  ``e``'s overwrite takes nothing committed away.

Drawn: crashes and restarts, elections, the AppendEntries that carry an entry (lost ones
end in a red cross) and the replies that acknowledge a new index, and the Raft notes as
short lines; heartbeats and timers are left out (``figure_8_drawing``). Run it by hand
with ``python docs/gen_raft_pictures.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dsys.demos.raft import FIGURE_8_SERVERS, CountsOldTerms, figure_8, figure_8_drawing
from dsys.raft import Raft
from dsys.trace import svg

SEED = 0


def main(out_dir: Path) -> None:
    """Write the pictures into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lanes = list(FIGURE_8_SERVERS)
    fix, bug = figure_8(Raft, SEED), figure_8(CountsOldTerms, SEED)
    start, end = fix.steps["a"][0], fix.steps["b"][1]
    svg.save(figure_8_drawing(fix.sim.trace, start, end), out_dir / "raft-figure8-ab.svg",
             nodes=lanes, height=420.0,
             title="Figure 8 (a)-(b): a's x reaches b only; e's y reaches nobody")
    for run, step, name, title in [
        (bug, "c", "raft-figure8-c-bug.svg",
         "(c) with the bug: a, leader of term 4, commits x (term 2) by counting"),
        (bug, "d", "raft-figure8-d-bug.svg",
         "(d) with the bug: e, leader of term 5, overwrites the committed x"),
        (fix, "c", "raft-figure8-c-fix.svg",
         "(c) with the rule: a copies x to c and d, but commits nothing"),
        (fix, "d", "raft-figure8-d-fix.svg",
         "(d) with the rule: e overwrites x, which nobody committed"),
    ]:
        start, end = run.steps[step]
        svg.save(figure_8_drawing(run.sim.trace, start, end), out_dir / name,
                 nodes=lanes, height=560.0, title=title)


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)

"""Write the interactive trace viewer's pages that the docs embed, from real simulated runs.

``main(out_dir)`` writes, into ``out_dir``:

- ``viewer-raft.html``: ``dsys demo raft`` (``dsys.demos.raft.scenario``, seed 1): five
  servers elect a leader, commit, lose the leader to a crash and elect another, are split
  by a partition that leaves the leader in a minority (the majority elects a new one),
  heal and catch up;
- ``viewer-raft-figure8-bug.html``: the paper's Figure 8 played with the bug (a leader
  commits an earlier term's entry by counting replicas, ``CountsOldTerms``), with every
  violation that Raft's checkers find in the trace listed under "Problems": what a failing
  test's timeline looks like;
- ``viewer-pingpong.html``: ping-pong on a lossy link with a partition, small enough to
  read event by event.

The docs hook (``docs/hooks.py``) runs this at every build and publishes the pages under
``assets/generated/``; ``docs/howto/view-a-trace.md`` embeds them. Run it by hand with
``python docs/gen_viewer_pages.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dsys import Network, Simulation
from dsys.demos import raft
from dsys.demos.pingpong import Pinger, Ponger
from dsys.demos.raft import CountsOldTerms, figure_8
from dsys.raft.checkers import check_all
from dsys.trace import html


def main(out_dir: Path) -> None:
    """Write the pages into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    sim = raft.scenario(1)
    sim.run(raft.UNTIL)
    html.save(sim.trace, out_dir / "viewer-raft.html", nodes=list(raft.SERVERS),
              title="dsys demo raft (seed 1): elections, a crash, a partition, a heal")

    bug = figure_8(CountsOldTerms, 0)
    report = check_all(bug.sim.trace)
    html.save(bug.sim.trace, out_dir / "viewer-raft-figure8-bug.html",
              highlight=html.marks_from(report),
              title=f"Raft's Figure 8 with the bug: {len(report.violations)} violations")

    ping = Simulation(seed=3, network=Network(drop=0.2, duplicate=0.1))
    ping.add_node("a", Pinger)
    ping.add_node("b", Ponger)
    ping.at(0.3, ping.partition, ["a"], ["b"])
    ping.at(0.5, ping.heal)
    ping.run(until=1.0)
    html.save(ping.trace, out_dir / "viewer-pingpong.html",
              title="ping-pong on a lossy link, partitioned from 0.3 s to 0.5 s")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs-pictures"))

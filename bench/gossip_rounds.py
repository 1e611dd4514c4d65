"""Rounds for a rumor to reach every node by gossip, measured against the theory.

For each cluster size N and each mode of :class:`dsys.messaging.Gossip` (fanout 1), one
rumor starts at one node and spreads round by round (synchronous rounds of 1 s, latency
1-10 ms, no loss); :func:`dsys.messaging.spread_rumor` counts the rounds until every node
knows it, and the messages sent per node until then. Each size is run with several seeds.

The anchors are the analyses of the random phone call model:

* push: ``log2 N + ln N + O(1)`` rounds (Frieze and Grimmett 1985; Pittel, *On spreading
  a rumor*, 1987): doubling, then a coupon-collector ending;
* pull: ``log2 N + O(log log N)``: doubling at the start as well, but the uninformed
  fraction is squared every round at the end;
* push-pull: ``log3 N + O(log log N)`` (Karp, Schindelhauer, Shenker and Vöcking,
  *Randomized rumor spreading*, FOCS 2000).

``theory`` is the leading term and ``ratio`` the measured mean over it: for push it
should be close to 1; for pull and push-pull the ``O(log log N)`` term shows.

Run from the repository root::

    python bench/gossip_rounds.py [--sizes 10 100 1000] [--seeds 10]
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Iterable
from typing import Any

from dsys.demos.gossip_rounds import spread_rumor
from dsys.messaging.gossip import MODES

SIZES = (10, 100, 1000)


def theory(mode: str, nodes: int) -> tuple[str, float]:
    """The leading term of the expected rounds: (as written, value)."""
    if mode == "push":
        return "log2 N + ln N", math.log2(nodes) + math.log(nodes)
    if mode == "pull":
        return "log2 N + O(loglog N)", math.log2(nodes)
    return "log3 N + O(loglog N)", math.log(nodes, 3)


def measure(sizes: Iterable[int] = SIZES, seeds: Iterable[int] = range(10)
            ) -> list[dict[str, Any]]:
    """One row per (size, mode): mean and max rounds, messages per node, theory, ratio."""
    seeds = list(seeds)
    rows = []
    for nodes in sizes:
        for mode in MODES:
            runs = [spread_rumor(nodes, mode, seed=seed) for seed in seeds]
            if not all(run.complete for run in runs):
                raise RuntimeError(f"{mode} gossip did not reach all {nodes} nodes")
            rounds = [run.rounds for run in runs]
            written, value = theory(mode, nodes)
            mean = statistics.mean(rounds)
            rows.append({
                "nodes": nodes, "log2_n": math.log2(nodes), "mode": mode, "runs": len(runs),
                "mean_rounds": mean, "max_rounds": max(rounds),
                "messages_per_node": statistics.mean(run.messages_per_node for run in runs),
                "theory": written, "theory_value": value, "ratio": mean / value,
            })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    lines = [f"{'N':>5} {'log2 N':>6}  {'mode':<9} {'mean rounds':>11} {'max':>4} "
             f"{'msgs/node':>9}  {'theory':<21} {'value':>5} {'ratio':>5}"]
    for row in rows:
        lines.append(
            f"{row['nodes']:>5} {row['log2_n']:>6.2f}  {row['mode']:<9} "
            f"{row['mean_rounds']:>11.2f} {row['max_rounds']:>4} "
            f"{row['messages_per_node']:>9.2f}  {row['theory']:<21} "
            f"{row['theory_value']:>5.2f} {row['ratio']:>5.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--seeds", type=int, default=10, help="runs per size (seeds 0..S-1)")
    args = parser.parse_args(argv)
    rows = measure(args.sizes, range(args.seeds))
    print(f"gossip rounds to reach every node (fanout 1, {args.seeds} seeds per size, "
          "synchronous 1 s rounds, latency 1-10 ms, no loss)")
    print(table(rows))


if __name__ == "__main__":
    main()

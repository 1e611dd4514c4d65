"""The sharding demo: its latency windows, and the claim the concept page makes of its
run (the median does not move while shards migrate; p99 jumps in the window of a change
and is back in the next)."""

from __future__ import annotations

import statistics

from dsys.demos import sharding
from dsys.demos.sharding import Window, latency_windows
from dsys.scaling.sharding import check_one_group_per_shard


def test_latency_windows_of_a_small_history() -> None:
    def op(client: str, process: int, start: float, end: float) -> list[dict[str, object]]:
        base = {"process": process, "f": "get", "key": "x", "value": None, "client": client}
        return [{**base, "type": "invoke", "time": start}, {**base, "type": "ok",
                                                             "time": end}]

    history = [*op("c1", 0, 0.0, 0.1), *op("c2", 1, 0.05, 0.45), *op("c1", 2, 0.6, 0.7),
               {"process": 3, "type": "invoke", "f": "join", "value": {}, "time": 0.0,
                "client": "admin"}]
    windows = latency_windows(history, width=0.5, until=1.0)
    assert [w.start for w in windows] == [0.0, 0.5]
    assert windows[0].completed == 2 and windows[1].completed == 1
    assert abs(windows[0].p99 - 0.4) < 1e-9 and abs(windows[1].p50 - 0.1) < 1e-9  # type: ignore
    assert latency_windows([], width=0.5, until=0.5) == [Window(0.0, 0, None, None)]


def test_the_demo_run_the_concept_page_draws() -> None:
    sim = sharding.scenario(seed=1)
    sim.run(until=sharding.UNTIL)
    assert check_one_group_per_shard(sim.trace).ok
    windows = [w for w in latency_windows(sim.history, 0.5, until=sharding.UNTIL)
               if w.p99 is not None]
    changes = (sharding.JOIN_G2, sharding.JOIN_G3, sharding.LEAVE_G1)
    at_change = [w for w in windows if any(w.start <= t < w.start + 0.5 for t in changes)]
    quiet = [w for w in windows if w not in at_change and w.start >= 1.0]
    usual = statistics.median(w.p99 for w in quiet)  # type: ignore[misc]
    assert len(at_change) == 3 and all(w.p99 > 2 * usual for w in at_change)  # type: ignore
    p50s = [w.p50 for w in windows]
    assert max(p50s) < 1.5 * min(p50s)  # type: ignore[type-var,operator]

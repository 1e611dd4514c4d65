"""Details of the sharded store's judges and clients that a mutation sample found unpinned
(issue 21): who a violation names, the default retry period."""

from __future__ import annotations

from dsys.scaling.sharding import checkers
from dsys.scaling.sharding import controller as ctl
from dsys.trace import Trace, TraceEvent


def serve(t: float, node: str, gid: str) -> TraceEvent:
    return TraceEvent(t, node, "note", {"event": "serve", "shard": 3, "num": 2, "gid": gid})


def test_two_groups_serving_one_shard_name_both_servers() -> None:
    trace = Trace([serve(1.0, "g1-a", "g1"), serve(1.5, "g1-b", "g1"),
                   serve(2.0, "g2-a", "g2"), serve(2.5, "g2-b", "g2")])
    report = checkers.check_one_group_per_shard(trace)
    assert report.judged == 4 and len(report.violations) == 1  # once per intruding group
    violation = report.violations[0]
    assert violation.nodes == ("g1-a", "g2-a") and violation.time == 2.0
    assert "by g1 (g1-a, t=1.000000)" in violation.text


def test_a_controller_client_retries_after_a_tenth_of_a_second_by_default() -> None:
    # Much longer than a round trip on a LAN, much shorter than the operation timeout.
    client = ctl.ControllerClient()
    assert (client.retry, client.op_timeout) == (0.1, 5.0)

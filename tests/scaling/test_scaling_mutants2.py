"""Bounds of the scaling package that a larger mutation sample found unpinned (issue 21):
the edges of every accepted range, on both sides."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dsys.errors import ConfigError
from dsys.scaling.autoscaler import PoolManager
from dsys.scaling.balancer import Balancer, Rejected
from dsys.scaling.server import Activate, Reply, Request, Server
from dsys.scaling.theory import (
    max_load_d_choices,
    max_load_one_choice,
    supermarket_max_queue,
    supermarket_tail,
)
from dsys.scaling.workload import OpenLoop
from dsys.testing import NodeHarness


def test_the_balancer_accepts_the_edges_of_its_ranges_and_refuses_past_them() -> None:
    assert Balancer(retries=0).retries == 0
    assert Balancer(max_ejected=0).max_ejected == 0.0
    assert Balancer(max_ejected=1).max_ejected == 1.0
    assert Balancer(cost=0.0).cost == 0.0
    for bad in ({"retries": -1}, {"retries": True}, {"retries": 1.5}, {"max_ejected": -0.01},
                {"max_ejected": 1.01}, {"cost": -0.001}, {"timeout": 0},
                {"timeout": float("inf")}, {"timeout": True}):
        with pytest.raises(ConfigError):
            Balancer(**bad)  # type: ignore[arg-type]


def test_the_formulas_accept_the_smallest_sizes_they_are_defined_for() -> None:
    n = 3  # ln ln 3 > 0: the smallest n the balls-into-bins formulas hold for
    assert max_load_one_choice(n) == pytest.approx(math.log(3) / math.log(math.log(3)))
    assert max_load_d_choices(n, 2) == pytest.approx(math.log(math.log(3)) / math.log(2))
    for bad in (2, True):
        with pytest.raises(ConfigError):
            max_load_one_choice(bad)
    with pytest.raises(ConfigError):
        max_load_d_choices(10, 1)
    # The supermarket model: two queues are enough.
    assert supermarket_max_queue(2, 0.5, d=1) == pytest.approx(1.0)  # ln 2 / ln 2
    assert supermarket_max_queue(2, 0.5, d=2) == pytest.approx(1.0)  # log2(1 + 1)
    with pytest.raises(ConfigError):
        supermarket_max_queue(1, 0.5, d=2)


def test_the_supermarket_tail_falls_doubly_exponentially_with_two_choices() -> None:
    # Mitzenmacher: s_i = rho^i with one choice, rho^((d^i - 1)/(d - 1)) with d.
    assert supermarket_tail(3, 0.5, d=1) == 0.125
    assert supermarket_tail(3, 0.5, d=2) == 0.5 ** 7
    assert supermarket_tail(2, 0.5, d=3) == 0.5 ** 4
    for bad in (0.0, 1.0):
        with pytest.raises(ConfigError):
            supermarket_tail(1, bad, d=2)


def test_the_balancer_counts_each_timeout_retry_and_failure_once() -> None:
    h = NodeHarness(lambda: Balancer(["s1", "s2", "s3"], timeout=1.0, retries=1), "lb",
                    ["s1", "s2", "s3"], clients=["c"])
    h.start()
    h.deliver("c", Request(7, "k"))
    node: Any = h.node
    assert (node.forwarded, node.timed_out, node.retried, node.failed) == (1, 0, 0, 0)
    first, ticket = h.sent(Request)[-1].dst, h.sent(Request)[-1].msg.id
    h.advance(1.0)  # no answer: the server is ejected and the request tried elsewhere
    second = h.sent(Request)[-1].dst
    assert second != first and first in node.ejected
    assert (node.forwarded, node.timed_out, node.retried, node.failed) == (2, 1, 1, 0)
    h.advance(1.0)  # no answer again: out of retries, the client is told
    assert (node.forwarded, node.timed_out, node.retried, node.failed) == (2, 2, 1, 1)
    rejected = h.sent(Rejected, to="c")[-1].msg
    assert rejected.id == 7 and "tried 2 server(s)" in rejected.reason
    # A late answer from the first server is not relayed: the request was settled.
    h.deliver(first, Reply(ticket, first, 0))
    assert h.sent(Reply, to="c") == []


def test_asking_for_the_machines_already_provisioned_changes_nothing() -> None:
    # Booting machines count as provisioned: asking for serving + booting again is no
    # change, and does not restart the cooldown.
    machines = ["m1", "m2", "m3", "m4"]
    h = NodeHarness(lambda: PoolManager("lb", machines, initial=2), "scaler", ["lb", *machines])
    h.start()
    scaler: Any = h.node
    h.advance(1.0)
    scaler.scale_to(3)  # m3 boots
    assert scaler.count("booting") == 1 and scaler.last_change == 1.0
    h.advance(1.0)
    scaler.scale_to(3)
    assert scaler.last_change == 1.0
    assert [s.dst for s in h.sent(Activate)] == ["m3"]


def test_a_server_keeps_the_peak_of_its_queue_and_replies_with_the_length() -> None:
    h = NodeHarness(lambda: Server(service=1.0, workers=2), "s", [], clients=["lb"])
    h.start()
    for i in range(5):
        h.deliver("lb", Request(i, "k"))
    server: Any = h.node
    assert server.queue_length == 5 and server.max_queue == 5
    h.advance(3.0)  # some finish (random service times of mean 1 s), none arrive
    replies = [s.msg for s in h.sent(Reply, to="lb")]
    assert 1 <= len(replies) <= 5
    # each reply says how many are left after it; the peak stays the peak
    assert [r.queue for r in replies] == list(range(4, 4 - len(replies), -1))
    assert server.queue_length == 5 - len(replies) and server.max_queue == 5


def test_a_generator_needs_a_positive_finite_rate() -> None:
    for bad in (0, 0.0, -1.0, float("inf"), float("nan"), True):
        with pytest.raises(ConfigError):
            OpenLoop("lb", bad)  # type: ignore[arg-type]
    # The error names the parameter and the bound, not the schedule it would become.
    with pytest.raises(ConfigError, match=r"^rate must be a finite number > 0, got 0"):
        OpenLoop("lb", 0)
    assert OpenLoop("lb", 1e-9).issued == 0

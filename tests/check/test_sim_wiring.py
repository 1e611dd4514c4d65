"""Histories recorded by simulated clients go straight into the checker.

Two toy register stores run on the simulator: a correct one (a single server) and a broken
one (a primary that acknowledges writes at once and copies them to two backups later,
with reads served by any replica). The checker must pass the first and catch the second.
"""

from __future__ import annotations

from random import Random
from typing import Any

import pytest

from dsys import Client, Network, Node, Simulation, message
from dsys.check import History, Verdict, check_linearizable, render_svg


@message(name="checktest:Request")
class Request:
    req: int
    f: str
    old: int | None
    new: int | None


@message(name="checktest:Reply")
class Reply:
    req: int
    ok: bool
    value: int | None


@message(name="checktest:Replicate")
class Replicate:
    value: int | None


class Server(Node):
    """One copy of a register, serving reads, writes and cas: linearizable."""

    def on_start(self) -> None:
        self.value: int | None = None

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Request(req=req, f="read"):
                self.send(src, Reply(req, True, self.value))
            case Request(req=req, f="write", new=new):
                self.apply(new)
                self.send(src, Reply(req, True, new))
            case Request(req=req, f="cas", old=old, new=new):
                swapped = self.value == old
                if swapped:
                    self.apply(new)
                self.send(src, Reply(req, swapped, self.value))
            case Replicate(value=value):
                self.value = value

    def apply(self, value: int | None) -> None:
        self.value = value


class LazyPrimary(Server):
    """Acknowledges a write at once, then copies it to the backups: reads there lag."""

    def apply(self, value: int | None) -> None:
        self.value = value
        for backup in ("n1", "n2"):
            self.send(backup, Replicate(value))


class RegisterClient(Client):
    """Sends each operation to a server and waits; a timeout means "unknown" (info)."""

    #: Where reads go; writes and cas always go to the first server.
    read_from: tuple[str, ...] = ("server",)

    def on_start(self) -> None:
        self.req = 0

    def on_invoke(self, op: dict[str, Any]) -> None:
        self.req += 1
        f, value = op["f"], op["value"]
        if f == "read":
            target = self.rng.choice(self.read_from)
            request = Request(self.req, f, None, None)
        else:
            target = self.read_from[0]
            old, new = value if f == "cas" else (None, value)
            request = Request(self.req, f, old, new)
        self.send(target, request)
        self.set_timer("timeout", 0.5)

    def on_message(self, src: str, msg: object) -> None:
        op = self.current_op
        if not isinstance(msg, Reply) or msg.req != self.req or op is None:
            return  # a late reply to an operation already given up on
        self.cancel_timer("timeout")
        if op["f"] == "read":
            self.ok(msg.value)
        elif msg.ok:
            self.ok()
        else:
            self.fail()  # a cas that found another value: completed without effect

    def on_timer(self, name: str) -> None:
        self.info()


class ReplicaClient(RegisterClient):
    read_from = ("n0", "n1", "n2")


def workload(rng: Random) -> dict[str, Any]:
    f = rng.choice(["read", "read", "write", "cas"])
    if f == "read":
        return {"f": "read", "value": None}
    if f == "write":
        return {"f": "write", "value": rng.randint(0, 4)}
    return {"f": "cas", "value": [rng.randint(0, 4), rng.randint(0, 4)]}


def run_store(seed: int, broken: bool, drop: float = 0.0) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.05), drop=drop))
    if broken:
        sim.add_node("n0", LazyPrimary)
        sim.add_node("n1", Server)
        sim.add_node("n2", Server)
        client: type[RegisterClient] = ReplicaClient
    else:
        sim.add_node("server", Server)
        client = RegisterClient
    for name in ("c0", "c1", "c2"):
        sim.add_client(name, client, workload=workload, ops=40, think=(0.0, 0.02))
    assert sim.run_until_quiet(timeout=120.0)
    return sim


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_single_server_register_is_linearizable(seed: int) -> None:
    sim = run_store(seed, broken=False, drop=0.05)
    kinds = {event["type"] for event in sim.history}
    assert kinds == {"invoke", "ok", "fail", "info"}  # every outcome was exercised
    result = check_linearizable(sim.history, "cas-register", timeout=30)
    assert result.verdict is Verdict.LINEARIZABLE, result.explain()
    assert len(result.history) == 120


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_reads_from_lagging_replicas_are_caught(seed: int) -> None:
    sim = run_store(seed, broken=True)
    result = check_linearizable(sim.history, "cas-register", timeout=30)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    failure = result.failure
    assert failure is not None
    assert len(failure.linearization) < len(failure.operations)
    assert "not possible, because the register holds" in result.explain()


def test_simulated_histories_are_drawn_on_virtual_time() -> None:
    sim = run_store(1, broken=True)
    history = History.from_events(sim.history)
    assert history.has_times
    first_invoke = next(e for e in sim.history if e["type"] == "invoke")
    assert history.operations[0].invoke_time == first_invoke["time"]
    times = [op.invoke_time for op in history]
    assert times == sorted(times) and max(times) <= sim.now
    svg = render_svg(check_linearizable(history, "cas-register"))
    assert "time (s)" in svg and "stuck here" in svg

"""What the primary-backup and chain tests share: the nemesis, scripted clients, and the
judges (linearizability, exactly once, replicas that agree, liveness after the faults)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsys import Nemesis, Network, Simulation
from dsys.check import Verdict, check_linearizable

#: The network of the runs under faults: loss, duplication, reordering.
UNRELIABLE = Network(drop=0.05, duplicate=0.05, reorder=0.1)

#: Every fault the nemesis knows.
FAULTS = ("partition", "isolate", "oneway", "crash", "clock")


def hostile(sim: Simulation, until: float, faults: tuple[str, ...] = FAULTS) -> Nemesis:
    """Random faults from t=0.3 to ``until``; at ``until`` the nemesis heals everything."""
    return Nemesis(faults=faults, interval=(0.3, 1.0), duration=(0.2, 1.0),
                   stop=until).install(sim)


def script(sim: Simulation, name: str, ops: list[dict[str, Any]], factory: Callable[[], Any],
           start: float | None = None, think: float = 0.0) -> None:
    """A client ``name`` that runs exactly ``ops``, in order, from ``start``, ``think``
    seconds apart."""
    todo = iter(ops)
    sim.add_client(name, factory, workload=lambda rng: next(todo), ops=len(ops), start=start,
                   think=think)


def put(key: str, value: str) -> dict[str, Any]:
    return {"f": "put", "key": key, "value": value}


def get(key: str) -> dict[str, Any]:
    return {"f": "get", "key": key, "value": None}


def completions(sim: Simulation, client: str) -> list[tuple[str, str, Any]]:
    """(type, f, value) of each completion of ``client``."""
    return [(e["type"], e["f"], e["value"]) for e in sim.history
            if e["client"] == client and e["type"] != "invoke"]


def done(total: int) -> Callable[[Simulation], bool]:
    """A predicate: ``total`` operations have completed."""
    return lambda sim: sum(1 for e in sim.history if e["type"] != "invoke") >= total


def linearizable(sim: Simulation) -> None:
    result = check_linearizable(sim.history, "kv", max_steps=2_000_000)
    assert result.verdict is Verdict.LINEARIZABLE, (
        f"seed {sim.seed}: {result.verdict}\n{result.explain()}")


def not_linearizable(sim: Simulation) -> bool:
    return check_linearizable(sim.history, "kv", max_steps=2_000_000).verdict \
        is Verdict.NOT_LINEARIZABLE


def applied_once(sim: Simulation) -> None:
    """No value written is in any server's store twice (exactly once)."""
    for name, node in sim.nodes.items():
        store = getattr(node, "store", None)
        for key, value in (store.data.items() if store is not None else ()):
            parts = [p for p in value.split(";") if p]
            assert len(parts) == len(set(parts)), (
                f"seed {sim.seed}: {name} holds a write twice in {key}: {value!r}")


def same_state(sim: Simulation, servers: list[str]) -> None:
    """``servers`` hold the same data and session table."""
    states = {name: sim.node(name).store.snapshot() for name in servers}  # type: ignore[union-attr]
    first = servers[0]
    for name in servers[1:]:
        assert states[name] == states[first], (
            f"seed {sim.seed}: {first} and {name} differ:\n{states[first]}\n{states[name]}")


def no_session_expired(sim: Simulation) -> None:
    """No client was told its session expired: the runs are shorter than the session
    timeout, so a server that does not know a session lost it (a state transfer without
    the session table, say)."""
    for e in sim.trace:
        if e.kind == "send" and type(e.data.get("msg")).__name__ == "KVReply" \
                and e.data["msg"].status == "session expired":
            raise AssertionError(f"seed {sim.seed}: t={e.time:.6f} {e.node} told "
                                 f"{e.data['to']} its session expired")

"""Small systems of labs 0 to 2 for the model checker: each lab's implementation (reference or
mutant) in the smallest configuration that can show its bugs, and the lab's safety
properties as invariants over one state.

A lab implementation is loaded from its file; ``search_lab(lab, path)`` searches each of
the lab's small systems in turn and returns the first violation (or the last verdict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

from dsys import Node
from dsys.core.client import SAME
from dsys.loader import load_file
from dsys.search import Search, SearchResult

ROOT = Path(__file__).resolve().parents[2]
LABS = {"lab0": ROOT / "labs" / "lab0", "lab1": ROOT / "labs" / "lab1-causal",
        "lab2": ROOT / "labs" / "lab2-rpc"}
_names = count()


def load(path: Path) -> Any:
    """The implementation in ``path``, loaded under a fresh module name."""
    return load_file(path, f"search_lab_{path.stem}_{next(_names)}")


# ----- lab 0: reliable delivery ---------------------------------------------------------------

#: Two requests with the same text: a server that de-duplicates by content drops one.
LAB0_REQUESTS = ["put x=1", "put x=1"]


Runner = Callable[[Search], SearchResult]
#: A named small system: (name, search, how to run it).
System = tuple[str, Search, Runner]


def lab0(impl: Any) -> Iterator[System]:
    yield _lab0("empty", impl, [])               # nothing to send: done at once, quiet
    yield _lab0("two requests", impl, list(LAB0_REQUESTS))


def _lab0(name: str, impl: Any, requests: list[str]) -> System:
    search = Search({"server": impl.Server, "client": lambda: impl.Client("server", requests)},
                    drops=2, duplicates=1)

    def deliveries_follow_requests(view: Any) -> None:
        delivered = list(view.node("server").delivered)
        assert delivered == requests[: len(delivered)], f"the server delivered {delivered}"
        if view.node("client").done:
            assert delivered == requests, f"the client is done after {delivered}"

    def everything_delivered(view: Any) -> bool:
        return bool(view.node("client").done) and \
            list(view.node("server").delivered) == requests

    search.add_invariant(deliveries_follow_requests)
    search.add_goal(everything_delivered)
    return name, search, lambda s: s.bfs(deadlock=True, max_depth=14, max_states=100_000)


# ----- lab 1: causal broadcast ----------------------------------------------------------------


def lab1(impl: Any) -> Iterator[System]:
    class Chat(impl.Member):  # type: ignore[misc, name-defined]
        """a asks, b answers once it has read the question; c says the same word as b's
        answer, on its own (a payload is not an identity)."""

        def __init__(self) -> None:
            super().__init__(on_deliver=self.heard)

        def on_start(self) -> None:
            if self.id == "a":
                self.broadcast("ok?")
            elif self.id == "c":
                self.broadcast("ok")

        def heard(self, origin: str, payload: str) -> None:
            if self.id == "b" and origin == "a":
                self.broadcast("ok")

    def causal_order(view: Any) -> None:
        for node_id, member in view.nodes.items():
            ids = [(m.origin, m.payload) for m in member.delivered]
            assert len(ids) == len(set(ids)), f"{node_id} delivered {ids} (twice)"
            if ("b", "ok") in ids:
                assert ("a", "ok?") in ids[: ids.index(("b", "ok"))], \
                    f"{node_id} delivered the answer before the question: {ids}"

    def everyone_read_all(view: Any) -> bool:
        """Everyone delivered the three messages, and nothing waits in a queue."""
        return all(len(m.delivered) == 3 and not m.held_back for m in view.nodes.values())

    search = Search({"a": Chat, "b": Chat, "c": Chat}, duplicates=1)
    search.add_invariant(causal_order)
    search.add_goal(everyone_read_all)
    yield "chat", search, lambda s: s.bfs(deadlock=True, max_depth=12, max_states=100_000)


# ----- lab 2: at-most-once RPC -------------------------------------------------------------------


def lab2(impl: Any) -> Iterator[System]:
    # One client: an append, then a get that must see it.
    yield _lab2("append then get", impl,
                {"c1": [{"f": "append", "key": "x", "value": "a"},
                        {"f": "get", "key": "x", "value": None}]})
    # Two clients whose request numbers coincide: the server must tell them apart.
    yield _lab2("two clients", impl, {"c1": [{"f": "append", "key": "x", "value": "a"}],
                                      "c2": [{"f": "append", "key": "x", "value": "b"}]},
                drops=0)


def _lab2(name: str, impl: Any, plan: dict[str, list[dict[str, Any]]], drops: int = 1
          ) -> System:
    class Recording(impl.KVClient):  # type: ignore[misc, name-defined]
        """The lab's client, remembering each result it reports (for the invariants)."""

        def __init__(self) -> None:
            super().__init__("server")
            self.results: tuple[tuple[str, Any], ...] = ()

        def ok(self, value: Any = SAME) -> None:
            op = self.current_op
            assert op is not None
            self.results += ((op["f"], op["value"] if value is SAME else value),)
            super().ok(value)

    def workload_of(client: str) -> Callable[[Any], dict[str, Any]]:
        ops = iter(plan[client])
        return lambda rng: next(ops)

    appended = {op["value"] for ops in plan.values() for op in ops if op["f"] == "append"}

    def at_most_once(view: Any) -> None:
        value = _value(view.node("server"), "x") or ""
        assert sorted(value) == sorted(set(value)) and set(value) <= appended, \
            f"x is {value!r}: an append was applied twice (or never asked for)"
        for client_id in plan:
            client = view.node(client_id)
            done = [v for f, v in client.results if f == "append"]
            missing = [v for v in done if v not in value]
            assert not missing, f"{client_id}'s append of {missing} was acknowledged but " \
                                f"x is {value!r}"
            for f, result in client.results:
                if f == "get":
                    assert result == value, f"{client_id}'s get returned {result!r}, x is " \
                                            f"{value!r}"

    search = Search({"server": impl.KVServer}, clients=dict.fromkeys(plan, Recording),
                    workload={c: workload_of(c) for c in plan},
                    ops=max(len(ops) for ops in plan.values()), duplicates=1, drops=drops)
    search.add_invariant(at_most_once)
    return name, search, lambda s: s.bfs(max_depth=12, max_states=100_000)


def _value(server: Node, key: str) -> Any:
    for name in ("data", "store", "kv", "values", "table"):
        table = getattr(server, name, None)
        if isinstance(table, dict) and all(isinstance(k, str) for k in table):
            return table.get(key)
    return None


SYSTEMS = {"lab0": lab0, "lab1": lab1, "lab2": lab2}


def search_lab(lab: str, path: Path, only: str | None = None) -> SearchResult:
    """Search the implementation in ``path`` of ``lab``: each of its systems in turn (or
    just the one named ``only``), up to the first violation."""
    impl = load(path)
    result = None
    for name, search, run in SYSTEMS[lab](impl):
        if only is not None and name != only:
            continue
        result = run(search)
        if result.verdict == "violation":
            return result
    assert result is not None, f"{lab} has no system named {only!r}"
    return result

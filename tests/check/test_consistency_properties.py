"""Property tests: the consistency checkers against brute force on random small histories,
the implications between the models, and histories of real simulated runs.

The reference below uses nothing of dsys.check but the History type: each model is
decided straight from its definition, by trying every order it allows. Slow, obviously
right, and only for histories of a handful of operations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from random import Random
from typing import Any

import pytest

from dsys import Network, Simulation
from dsys.check import (
    SESSION_GUARANTEES,
    History,
    Operation,
    check_causal,
    check_eventual,
    check_linearizable,
    check_pram,
    check_sequential,
    check_session_guarantees,
)
from tests.check.test_sim_wiring import LazyPrimary, RegisterClient, ReplicaClient, Server

# ----- a seeded generator of small read/write histories --------------------------------------


def random_history(rng: Random, *, info: bool = False) -> list[dict[str, Any]]:
    """Two or three processes, one to three operations each, on keys x and y. Every write
    writes a fresh value; every read returns the initial value or any value written to its
    key (even a later one): allowed by some models, forbidden by others, at random. With
    ``info``, some writes time out (outcome unknown)."""
    processes = rng.randint(2, 3)
    keys = ["x"] if rng.random() < 0.5 else ["x", "y"]
    plans: list[list[dict[str, Any]]] = []
    written: dict[str, list[int]] = {key: [] for key in keys}
    counter = itertools.count(1)
    for _ in range(processes):
        ops = []
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(keys)
            if rng.random() < 0.45:
                value = next(counter)
                written[key].append(value)
                ops.append({"f": "write", "key": key, "value": value})
            else:
                ops.append({"f": "read", "key": key, "value": None})
        plans.append(ops)
    for ops in plans:
        for op in ops:
            if op["f"] == "read":
                op["result"] = rng.choice([None, *written[op["key"]]])
            elif info and rng.random() < 0.2:
                op["status"] = "info"
    # Interleave the processes' invokes and completions at random.
    queues = []
    for p, ops in enumerate(plans):
        events = []
        for op in ops:
            invoke = {"process": p, "type": "invoke", "f": op["f"], "key": op["key"],
                      "value": op["value"]}
            status = op.get("status", "ok")
            done = dict(invoke, type=status, value=op.get("result", op["value"]))
            events += [invoke, done]
            if status == "info":
                break  # a process that timed out goes on as a new one (Jepsen)
        queues.append(events)
    history = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        history.append(queue.pop(0))
    return history


# ----- the reference: each model from its definition -------------------------------------------


def legal(order: Sequence[Operation]) -> bool:
    """Run ``order`` on a fresh set of registers: does every read return the last write?"""
    state: dict[Any, Any] = {}
    for op in order:
        if op.f == "write":
            state[op.key] = op.value
        elif state.get(op.key) != op.output:
            return False
    return True


def kept(history: History) -> list[Operation]:
    return [op for op in history if op.status == "ok" or (op.f == "write" and op.status == "info")]


def orders(ops: Sequence[Operation], before: Callable[[Operation, Operation], bool]
           ) -> Iterator[list[Operation]]:
    """Every order of ``ops`` in which no operation comes after one it must precede (all
    the linear extensions of ``before``), by choosing any operation free to go next."""
    if not ops:
        yield []
        return
    for k, op in enumerate(ops):
        rest = [*ops[:k], *ops[k + 1:]]
        if not any(before(other, op) for other in rest):
            for tail in orders(rest, before):
                yield [op, *tail]


def program_order(a: Operation, b: Operation) -> bool:
    return a.process == b.process and a.invoke_at < b.invoke_at


def reference_sequential(history: History) -> bool:
    """Some order of the ok operations, and of any subset of the info writes, keeps each
    process's order and is legal."""
    ops = kept(history)
    required = [op for op in ops if op.status == "ok"]
    unknown = [op for op in ops if op.status == "info"]
    for k in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, k):
            if any(legal(order) for order in orders(required + list(chosen), program_order)):
                return True
    return False


def writes_into(ops: Sequence[Operation]) -> dict[int, Operation]:
    """read index -> the write whose value it returned (unique values)."""
    writer = {(op.key, op.value): op for op in ops if op.f == "write"}
    return {op.index: writer[(op.key, op.output)] for op in ops
            if op.f == "read" and (op.key, op.output) in writer}


def causal_order(ops: Sequence[Operation]) -> set[tuple[int, int]] | None:
    """Program order and writes-into, made transitive, as pairs of indices; or None when
    it has a cycle."""
    edges = {(a.index, b.index) for a in ops for b in ops if program_order(a, b)}
    edges |= {(w.index, r) for r, w in writes_into(ops).items()}
    closure = set(edges)
    while True:
        more = {(a, d) for a, b in closure for c, d in closure if b == c} - closure
        if not more:
            break
        closure |= more
    return None if any(a == b for a, b in closure) else closure


def views_exist(history: History, before: Callable[[Operation, Operation], bool]) -> bool:
    """Every process has an order of its operations and all writes, respecting ``before``,
    that is legal (causal memory, PRAM)."""
    ops = [op for op in history if op.status == "ok"]
    if any(op.f == "read" and op.output is not None and op.index not in writes_into(ops)
           for op in ops):
        return False  # a read from thin air
    for process in {op.process for op in ops}:
        view = [op for op in ops if op.process == process or op.f == "write"]
        if not any(legal(order) for order in orders(view, before)):
            return False
    return True


def reference_causal(history: History) -> bool:
    ops = [op for op in history if op.status == "ok"]
    co = causal_order(ops)
    return co is not None and views_exist(history, lambda a, b: (a.index, b.index) in co)


def reference_pram(history: History) -> bool:
    return views_exist(history, program_order)


def reference_weak_causal(history: History) -> bool:
    """CC of Bouajjani et al. (2017), by its definition: for each read, some order of the
    writes in its causal past, extending the causal order, ends (for its key) with the
    write it returned, or has none of its key if it returned the initial value."""
    ops = [op for op in history if op.status == "ok"]
    co = causal_order(ops)
    if co is None:
        return False
    source = writes_into(ops)
    for r in ops:
        if r.f != "read":
            continue
        if r.output is not None and r.index not in source:
            return False
        past = [w for w in ops if w.f == "write" and (w.index, r.index) in co]
        if not any(legal([*order, r])
                   for order in orders(past, lambda a, b: (a.index, b.index) in co)):
            return False
    return True


def reference_sessions(history: History, guarantees: Sequence[str]) -> bool:
    """Some order of each key's writes (the initial value first) satisfies the chosen
    guarantees, each written straight from Terry et al.'s definitions."""
    ops = [op for op in history if op.status == "ok"]
    source = writes_into(ops)
    if any(op.f == "read" and op.output is not None and op.index not in source for op in ops):
        return False
    for key in {op.key for op in ops}:
        mine = [op for op in ops if op.key == key]
        writes = [op for op in mine if op.f == "write"]
        found = False
        for order in itertools.permutations(writes):
            rank = {w.index: k for k, w in enumerate(order)}

            def version(op: Operation, rank: dict[int, int] = rank) -> int:
                if op.f == "write":
                    return rank[op.index]
                return rank[source[op.index].index] if op.index in source else -1

            fine = True
            for a in mine:
                for b in mine:
                    if not program_order(a, b):
                        continue
                    if "read-your-writes" in guarantees and a.f == "write" and b.f == "read":
                        fine &= version(b) >= version(a)
                    if "monotonic-reads" in guarantees and a.f == b.f == "read":
                        fine &= version(b) >= version(a)
                    if "monotonic-writes" in guarantees and a.f == b.f == "write":
                        fine &= version(b) > version(a)
                    if "writes-follow-reads" in guarantees and a.f == "read" and b.f == "write":
                        fine &= version(b) > version(a)
            if fine:
                found = True
                break
        if not found:
            return False
    return True


# ----- the properties ----------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", range(4))
def test_checkers_agree_with_brute_force(chunk: int) -> None:
    verdicts: dict[str, set[bool]] = {}
    for seed in range(chunk * 100, chunk * 100 + 100):
        events = random_history(Random(seed))
        history = History.from_events(events)
        found = {
            "sequential": (bool(check_sequential(history, "register")),
                           reference_sequential(history)),
            "causal": (bool(check_causal(history, "register")), reference_causal(history)),
            "weak-causal": (bool(check_causal(history, "register", definition="weak")),
                            reference_weak_causal(history)),
            "pram": (bool(check_pram(history, "register")), reference_pram(history)),
            "sessions": (bool(check_session_guarantees(history, "register")),
                         reference_sessions(history, SESSION_GUARANTEES)),
        }
        for guarantee in SESSION_GUARANTEES:
            found[guarantee] = (
                bool(check_session_guarantees(history, "register", guarantees=guarantee)),
                reference_sessions(history, [guarantee]))
        for name, (checker, reference) in found.items():
            assert checker == reference, f"seed {seed}, {name}: checker says {checker}\n{events}"
            verdicts.setdefault(name, set()).add(checker)
    # The generator exercises both answers of every checker (but monotonic writes: without
    # the store's version order, any order of the writes may be the store's).
    assert verdicts.pop("monotonic-writes") == {True}
    assert all(seen == {True, False} for seen in verdicts.values()), verdicts


@pytest.mark.parametrize("chunk", range(2))
def test_sequential_with_timed_out_writes_agrees_with_brute_force(chunk: int) -> None:
    for seed in range(1000 + chunk * 100, 1000 + chunk * 100 + 100):
        history = History.from_events(random_history(Random(seed), info=True))
        assert bool(check_sequential(history, "register")) == reference_sequential(history), seed


def test_the_models_imply_each_other_on_random_histories() -> None:
    """linearizable ⇒ sequential ⇒ causal memory ⇒ weak causal; causal memory ⇒ PRAM;
    sequential ⇒ session guarantees (one order for everybody); linearizable ⇒ eventual."""
    counts = {"linearizable": 0, "sequential": 0, "causal": 0}
    for seed in range(2000, 2400):
        history = History.from_events(random_history(Random(seed)))
        lin = check_linearizable(history, "register").linearizable
        seq = bool(check_sequential(history, "register"))
        causal = bool(check_causal(history, "register"))
        if lin:
            counts["linearizable"] += 1
            assert seq and check_eventual(history, "register"), seed
        if seq:
            counts["sequential"] += 1
            assert causal and check_session_guarantees(history, "register"), seed
        if causal:
            counts["causal"] += 1
            assert check_causal(history, "register", definition="weak"), seed
            assert check_pram(history, "register"), seed
    # Each level has histories, and each inclusion is strict somewhere.
    assert 0 < counts["linearizable"] < counts["sequential"] < counts["causal"], counts


# ----- histories of simulated stores -------------------------------------------------------------


def unique_writes(client: int) -> Callable[[Random], dict[str, Any]]:
    """Reads and writes of one register, each write a fresh value (1000·client + n)."""
    numbers = itertools.count(1000 * client + 1)

    def workload(rng: Random) -> dict[str, Any]:
        if rng.random() < 0.5:
            return {"f": "read", "value": None}
        return {"f": "write", "value": next(numbers)}

    return workload


def run_register(seed: int, *, lazy: bool) -> Simulation:
    """One server (linearizable), or a primary that acknowledges writes at once and copies
    them to two backups later, reads going to any replica (tests/check/test_sim_wiring.py)."""
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.05)))
    if lazy:
        sim.add_node("n0", LazyPrimary)
        sim.add_node("n1", Server)
        sim.add_node("n2", Server)
    else:
        sim.add_node("server", Server)
    for k, name in enumerate(("c0", "c1", "c2")):
        client = ReplicaClient if lazy else RegisterClient
        sim.add_client(name, client, workload=unique_writes(k), ops=25, think=(0.0, 0.05))
    assert sim.run_until_quiet(timeout=60.0)
    return sim


@pytest.mark.parametrize("seed", [1, 2])
def test_a_linearizable_store_passes_every_weaker_check(seed: int) -> None:
    history = History.from_events(run_register(seed, lazy=False).history)
    assert check_linearizable(history, "register").linearizable
    for check in (check_sequential, check_causal, check_pram, check_session_guarantees,
                  check_eventual):
        report = check(history, "register")
        assert report, report.explain()


def test_lagging_replicas_give_stale_reads_that_the_weaker_models_sort_out() -> None:
    """Reads from backups that lag the primary are stale: never linearizable here, yet
    often sequentially consistent (the stale read can be ordered before the write), and
    sometimes not even read-your-writes (a client reads a backup its own write has not
    reached). On every run, the verdicts respect the implications of the map."""
    seen = set()
    for seed in range(1, 7):
        history = History.from_events(run_register(seed, lazy=True).history)
        lin = check_linearizable(history, "register").linearizable
        seq = bool(check_sequential(history, "register", timeout=20))
        causal = bool(check_causal(history, "register", timeout=20))
        pram = bool(check_pram(history, "register", timeout=20))
        ryw = bool(check_session_guarantees(history, "register", guarantees="ryw"))
        sessions = bool(check_session_guarantees(history, "register"))
        assert (not lin or seq) and (not seq or (causal and sessions)), seed
        assert (not causal or pram) and (not sessions or ryw), seed
        if seq and not lin:
            seen.add("sequential, not linearizable")
        if not ryw:
            seen.add("not read-your-writes")
            assert not (seq or causal or pram)
    assert seen == {"sequential, not linearizable", "not read-your-writes"}

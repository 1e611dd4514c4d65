"""The semilattice laws of every state-based CRDT, on states that real runs reach.

States come from a seeded random run of three replicas that update their own state and
merge each other's (so every state is one a real execution can produce: the optimized
OR-Set's merge, say, is a join only on such states). On hundreds of cases per type:

* merge is commutative, associative and idempotent;
* merge is the *least* upper bound of the lattice order ``<=``;
* every update is an inflation (``x <= update(x)``), and a strict one;
* the canonical form: equal states have byte-equal wire forms, and a state crosses the
  wire unchanged.

Each law is also shown to catch a broken merge that a plausible bug produces.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from dsys.clocks import HLCTimestamp
from dsys.core import codec
from dsys.replication.crdt import (
    Crdt,
    GCounter,
    LWWRegister,
    MVRegister,
    ORSet,
    PNCounter,
    Sibling,
)
from dsys.replication.crdt.base import max_counts

REPLICAS = ("a", "b", "c")
VALUES = ("x", "y", "z", 1, 2, None, True, 2.5)
ELEMENTS = ("p", "q", "r", 7)

Update = Callable[[Any, str, random.Random], Any]


def lww_assign(state: LWWRegister, replica: str, rng: random.Random) -> LWWRegister:
    # Timestamps near the latest one seen, sometimes older (a skewed clock), sometimes
    # equal in (l, c) to another writer's: the tiebreak matters.
    latest = state.stamp[0] if state.stamp is not None else 0
    return state.assign(rng.choice(VALUES),
                        HLCTimestamp(latest + rng.randint(-2, 3), rng.randint(0, 1)), replica)


def orset_update(state: ORSet, replica: str, rng: random.Random) -> ORSet:
    item = rng.choice(ELEMENTS)
    if item in state and rng.random() < 0.5:
        return state.remove(item)
    return state.add(item, replica)


#: type -> the updates a replica may make (each a strict inflation when it changes the state)
UPDATES: dict[type[Crdt], list[Update]] = {
    GCounter: [lambda s, r, rng: s.increment(r, rng.randint(1, 3))],
    PNCounter: [lambda s, r, rng: s.increment(r, rng.randint(1, 3)),
                lambda s, r, rng: s.decrement(r, rng.randint(1, 3))],
    LWWRegister: [lww_assign],
    MVRegister: [lambda s, r, rng: s.assign(rng.choice(VALUES), r)],
    ORSet: [orset_update],
}


def reachable(kind: type[Crdt], seed: int, steps: int = 150) -> list[Any]:
    """Every state three replicas pass through, updating and merging at random."""
    rng = random.Random(f"crdt-laws/{kind.__name__}/{seed}")
    states = {r: kind() for r in REPLICAS}
    pool = [kind()]
    for _ in range(steps):
        replica = rng.choice(REPLICAS)
        if rng.random() < 0.6:
            states[replica] = rng.choice(UPDATES[kind])(states[replica], replica, rng)
        else:
            states[replica] = states[replica].merge(states[rng.choice(REPLICAS)])
        pool.append(states[replica])
    return pool


def broken_laws(pool: list[Any], rng: random.Random, cases: int,
                merge: Callable[[Any, Any], Any] | None = None) -> list[str]:
    """The laws that fail on ``cases`` random picks from ``pool`` (with ``merge``, or the
    type's own)."""
    join = merge or (lambda x, y: x.merge(y))
    failures = []
    for _ in range(cases):
        x, y, z = rng.choice(pool), rng.choice(pool), rng.choice(pool)
        if join(x, y) != join(y, x):
            failures.append(f"not commutative: {x} {y}")
        if join(join(x, y), z) != join(x, join(y, z)):
            failures.append(f"not associative: {x} {y} {z}")
        if join(x, x) != x:
            failures.append(f"not idempotent: {x}")
        upper = join(x, y)
        if join(x, upper) != upper or join(y, upper) != upper:
            failures.append(f"not an upper bound: {x} {y}")
        if join(x, z) == z and join(y, z) == z and join(upper, z) != z:
            failures.append(f"not the least upper bound: {x} {y} {z}")
    return failures


@pytest.mark.parametrize("kind", list(UPDATES), ids=lambda k: k.__name__)
@pytest.mark.parametrize("seed", range(3))
def test_merge_is_a_semilattice_join(kind: type[Crdt], seed: int) -> None:
    pool = reachable(kind, seed)
    assert len({codec.dumps(codec.encode(s)) for s in pool}) > 30  # a varied pool
    failures = broken_laws(pool, random.Random(seed), cases=300)
    assert not failures, failures[:3]


@pytest.mark.parametrize("kind", list(UPDATES), ids=lambda k: k.__name__)
def test_every_update_is_a_strict_inflation(kind: type[Crdt]) -> None:
    rng = random.Random(f"inflation/{kind.__name__}")
    pool = reachable(kind, 7)
    changed = 0
    for _ in range(400):
        x = rng.choice(pool)
        replica = rng.choice(REPLICAS)
        y = rng.choice(UPDATES[kind])(x, replica, rng)
        assert x <= y, (x, y)
        assert y >= x
        if y != x:
            changed += 1
            assert not y <= x, (x, y)  # strict: the update is not forgotten by a merge
    # Only an LWW write older than the current one leaves the state as it was.
    assert changed >= (150 if kind is LWWRegister else 400)


@pytest.mark.parametrize("kind", list(UPDATES), ids=lambda k: k.__name__)
def test_the_wire_form_is_canonical_and_round_trips(kind: type[Crdt]) -> None:
    rng = random.Random(f"wire/{kind.__name__}")
    pool = reachable(kind, 11)
    for _ in range(200):
        x, y = rng.choice(pool), rng.choice(pool)
        one, other = x.merge(y), y.merge(x)
        assert codec.dumps(one.to_json()) == codec.dumps(other.to_json())
        back = Crdt.from_json(codec.loads(codec.dumps(one.to_json())))
        assert back == one and type(back) is kind


# ----- the laws catch broken merges --------------------------------------------------------


def test_a_merge_that_adds_the_counts_is_not_idempotent() -> None:
    # The classic first attempt: "merge two counters by adding them". A state that
    # arrives twice (a duplicated gossip message) counts twice.
    def summing(x: GCounter, y: GCounter) -> GCounter:
        return GCounter({r: x.entry(r) + y.entry(r) for r in REPLICAS})

    failures = broken_laws(reachable(GCounter, 0), random.Random(0), 100, summing)
    assert any("not idempotent" in f for f in failures)


def test_an_lww_merge_without_a_tiebreak_is_not_commutative() -> None:
    # Keep "mine" when the timestamps' (l, c) are equal: two replicas keep different values.
    def no_tiebreak(x: LWWRegister, y: LWWRegister) -> LWWRegister:
        if x.stamp is None or (y.stamp is not None and y.stamp[:2] > x.stamp[:2]):
            return y
        return x

    failures = broken_laws(reachable(LWWRegister, 0), random.Random(0), 300, no_tiebreak)
    assert any("not commutative" in f for f in failures)


def not_inflations(kind: type[Crdt], merge: Callable[[Any, Any], Any]) -> int:
    """How many random updates are not inflations in the order ``merge`` defines."""
    rng = random.Random(f"broken/{kind.__name__}")
    pool = reachable(kind, 3)
    failed = 0
    for _ in range(200):
        x = rng.choice(pool)
        y = rng.choice(UPDATES[kind])(x, rng.choice(REPLICAS), rng)
        failed += merge(x, y) != y
    return failed


def test_an_or_set_merge_that_ignores_the_clock_undoes_removes() -> None:
    # Union of the entries: still a lattice, but a merge with a state from before a
    # remove brings the removed element back, so a remove is not an inflation.
    def union(x: ORSet, y: ORSet) -> ORSet:
        return ORSet(x.entries + y.entries, max_counts(x.clock, y.clock))

    before = ORSet().add("p", "a")
    assert before.remove("p").merge(before).value == ()
    assert union(before.remove("p"), before).value == ("p",)
    assert not_inflations(ORSet, union) > 0
    assert not_inflations(ORSet, lambda x, y: x.merge(y)) == 0


def test_an_mv_merge_that_keeps_every_sibling_undoes_overwrites() -> None:
    # Union of the siblings, the dominated ones kept: a write no longer replaces the
    # write it saw.
    def keep_all(x: MVRegister, y: MVRegister) -> MVRegister:
        return _unpruned(x.siblings + y.siblings)

    first = MVRegister().assign("x", "a")
    assert first.merge(first.assign("y", "a")).value == ("y",)
    assert keep_all(first, first.assign("y", "a")).value == ("x", "y")
    assert not_inflations(MVRegister, keep_all) > 0
    assert not_inflations(MVRegister, lambda x, y: x.merge(y)) == 0


def _unpruned(siblings: tuple[Sibling, ...]) -> MVRegister:
    """An MVRegister holding ``siblings`` as they are (bypassing the canonical form)."""
    register = MVRegister()
    object.__setattr__(register, "siblings", tuple(sorted(set(siblings), key=repr)))
    return register

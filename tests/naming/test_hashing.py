"""Placement rules (dsys.naming.hashing): determinism, balance, movement, minimal disruption.

Every tolerance below comes from the distribution the math gives (written out at each
test), not from a run: a rule that is right passes, and the deliberately broken rules at
the end of the file (Python's ``hash()``, virtual nodes bunched together, a ring rebuilt
as mod-N) fail the same assertions.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dsys.errors import ConfigError, UsageError
from dsys.naming import (
    ConsistentHashRing,
    ModuloHash,
    Placement,
    RendezvousHash,
    imbalance,
    key_counts,
    measure_balance,
    moved_keys,
    owners,
)
from dsys.naming.measure import expected_spread, key_names, movement, node_names
from dsys.replication.ring import HashRing

ROOT = Path(__file__).resolve().parents[2]
KEYS = key_names(10_000)
#: Sets of node names: each is an independent draw of the ring's random positions.
CONFIGS = range(10)


def names(config: int, count: int) -> tuple[str, ...]:
    return node_names(count, f"c{config}-n")


# ----- determinism --------------------------------------------------------------------

SCRIPT = """
import json
from dsys.naming import ConsistentHashRing, ModuloHash, RendezvousHash
from dsys.naming.measure import key_names
import tests.naming.broken as broken
kinds = {"consistent": ConsistentHashRing, "rendezvous": RendezvousHash,
         "mod-N": ModuloHash, "broken": broken.BuiltinHashRing}
nodes = [f"n{i}" for i in range(7)]
print(json.dumps({kind: [make(nodes).walk(key) for key in key_names(300)]
                  for kind, make in kinds.items()}))
"""


@functools.cache
def walks_under(hashseed: str) -> dict[str, list[list[str]]]:
    """Every rule's walks of 300 keys, computed in a fresh process under ``hashseed``."""
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True,
                            text=True, timeout=60, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind", ["consistent", "rendezvous", "mod-N"])
def test_placement_is_the_same_in_every_process_and_under_every_hash_seed(kind: str) -> None:
    assert walks_under("0")[kind] == walks_under("1234")[kind]


def test_the_determinism_test_catches_a_ring_built_on_pythons_hash() -> None:
    assert walks_under("0")["broken"] != walks_under("1234")["broken"]


def test_the_ring_places_tokens_exactly_as_replications_hash_ring() -> None:
    nodes = [f"n{i}" for i in range(1, 8)]
    for vnodes in (1, 16, 64):
        mine, theirs = ConsistentHashRing(nodes, vnodes=vnodes), HashRing(nodes, vnodes)
        assert mine.tokens == theirs.tokens
        for key in KEYS[:500]:
            assert mine.walk(key) == theirs.walk(key)
            assert mine.preference_list(key, 3) == theirs.preference_list(key, 3)


def test_the_ring_is_the_same_whatever_order_nodes_join_in() -> None:
    one = ConsistentHashRing(["a", "b", "c", "d"])
    other = ConsistentHashRing()
    for node in ("d", "b", "a", "c"):
        other.add(node)
    assert one.tokens == other.tokens


# ----- balance ----------------------------------------------------------------------------


def kurtosis_of_share(vnodes: int) -> float:
    """A node's share of the ring is a sum of ``vnodes`` gaps, close to a Gamma(vnodes)
    variable (exactly Beta, but N is large enough), whose kurtosis is 3 + 6/vnodes."""
    return 3 + 6 / vnodes


def spread_tolerance(vnodes: int, samples: int) -> float:
    """Four standard errors of a relative standard deviation estimated from ``samples``
    shares: the sample variance has a relative standard error sqrt((kurtosis - 1) / n),
    and its square root half of that."""
    return 4 * math.sqrt((kurtosis_of_share(vnodes) - 1) / (4 * samples))


def spread(make: Callable[[tuple[str, ...], int], ConsistentHashRing], vnodes: int,
           nodes: int = 10, trials: int = 20) -> float:
    """The measured relative standard deviation of node shares, over ``trials`` rings."""
    deviations = []
    for trial in range(trials):
        ring = make(names(trial, nodes), vnodes)
        deviations += [(share * nodes - 1) ** 2 for share in ring.ownership().values()]
    return math.sqrt(sum(deviations) / len(deviations))


def ring(nodes: tuple[str, ...], vnodes: int) -> ConsistentHashRing:
    return ConsistentHashRing(nodes, vnodes=vnodes)


@pytest.mark.parametrize("vnodes", [1, 4, 16, 64, 256])
def test_share_spread_is_what_the_math_predicts(vnodes: int) -> None:
    measured = spread(ring, vnodes)
    expected = expected_spread(10, vnodes)
    assert abs(measured / expected - 1) <= spread_tolerance(vnodes, 10 * 20), (
        f"{vnodes} vnodes: spread {measured:.3f}, predicted {expected:.3f}")


def test_key_load_imbalance_falls_as_virtual_nodes_grow() -> None:
    rows = measure_balance((1, 16, 256), nodes=10, keys=20_000, trials=5)
    loads = [row.max_over_mean for row in rows]
    assert loads[0] > loads[1] > loads[2], loads
    # With 256 tokens a node's share is within ~6% of the mean (1/sqrt(256)), and the
    # key sampling adds ~2% (sqrt(N/K)): the most loaded of 10 nodes stays under 1.25.
    assert loads[2] < 1.25, loads


def test_bunched_virtual_nodes_do_not_improve_balance_and_the_test_sees_it() -> None:
    from tests.naming.broken import BunchedRing

    measured = spread(BunchedRing, 256)
    assert abs(measured / expected_spread(10, 256) - 1) > spread_tolerance(256, 200)
    assert measured > spread(ring, 16)  # worse than 16 well-spread tokens


def test_weights_give_proportional_shares() -> None:
    weighted = ConsistentHashRing(["a", "b", "c"], vnodes=100)
    weighted.remove("c")
    weighted.add("c", vnodes=200)
    shares = weighted.ownership()
    # c's share ~ Beta(200, 200): mean 1/2, sd ~ 0.025
    assert abs(shares["c"] - 0.5) < 4 * 0.025, shares
    hrw = RendezvousHash(["a", "b", "c"], weights={"c": 2.0})
    counts = key_counts(hrw, KEYS)
    # c wins a key with probability 2/4: Binomial(10000, 1/2), sd 50
    assert abs(counts["c"] - 5000) < 4 * 50, counts


# ----- movement -------------------------------------------------------------------------------


def ring_sd(keys: int, p: float, tokens: int) -> float:
    """The standard deviation of the number of keys in one node's share ``f`` of a ring:
    Binomial(K, f) with f ~ Beta of mean ``p`` over ``tokens`` tokens, whose variance is
    p(1-p)/(tokens+1); so Var = K p(1-p) + K² p(1-p)/(tokens+1)."""
    return math.sqrt(keys * p * (1 - p) + keys**2 * p * (1 - p) / (tokens + 1))


def binomial_sd(keys: int, p: float) -> float:
    return math.sqrt(keys * p * (1 - p))


N, V, K = 10, 100, len(KEYS)
#: (rule, expected keys moved on a join, its sd, on a leave, its sd)
EXPECTED: dict[str, tuple[Callable[[], Placement], float, float, float, float]] = {
    # a join moves the newcomer's share, a leave the leaver's
    "consistent": (lambda: ConsistentHashRing(vnodes=V), K / (N + 1),
                   ring_sd(K, 1 / (N + 1), (N + 1) * V), K / N, ring_sd(K, 1 / N, N * V)),
    # each key's top score is the newcomer's with probability 1/(N+1), independently
    "rendezvous": (RendezvousHash, K / (N + 1), binomial_sd(K, 1 / (N + 1)), K / N,
                   binomial_sd(K, 1 / N)),
    # h mod N and h mod (N+1) are independent and uniform (CRT): a key stays with
    # probability 1/(N+1) on a join, and with 1/N when the first node leaves
    "mod-N": (ModuloHash, K * N / (N + 1), binomial_sd(K, 1 / (N + 1)), K * (N - 1) / N,
              binomial_sd(K, 1 / N)),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_keys_moved_on_join_and_leave_match_the_math(kind: str) -> None:
    make, join_mean, join_sd, leave_mean, leave_sd = EXPECTED[kind]
    joins, leaves = [], []
    # Mod-N depends only on the number of nodes, not their names: one configuration says
    # all. Rendezvous costs N hashes a key: two configurations.
    configs = {"mod-N": CONFIGS[:1], "rendezvous": CONFIGS[:2]}.get(kind, CONFIGS)
    for config in configs:
        placement = make()
        nodes = names(config, N + 1)
        for node in nodes[:-1]:
            placement.add(node)
        joined, left = movement(placement, KEYS, join=nodes[-1], leave=nodes[0])
        assert abs(len(joined) - join_mean) <= 4.5 * join_sd, (config, len(joined))
        assert abs(len(left) - leave_mean) <= 4.5 * leave_sd, (config, len(left))
        joins.append(len(joined))
        leaves.append(len(left))
    trials = len(joins)
    assert abs(sum(joins) / trials - join_mean) <= 4 * join_sd / math.sqrt(trials), joins
    assert abs(sum(leaves) / trials - leave_mean) <= 4 * leave_sd / math.sqrt(trials), leaves


def disruption(placement: Placement, keys: list[str], newcomer: str, leaver: str
               ) -> list[str]:
    """What breaks minimal disruption: a key moved on a join to another node than the
    newcomer, on a leave from another node than the leaver, or a walk that changed other
    than by the newcomer's arrival or the leaver's departure."""
    problems = []
    walks = {key: placement.walk(key) for key in keys}
    before = owners(placement, keys)
    placement.add(newcomer)
    after = owners(placement, keys)
    for key in moved_keys(before, after):
        if after[key] != newcomer:
            problems.append(f"join: {key} moved from {before[key]} to {after[key]}")
    for key in keys:
        if tuple(n for n in placement.walk(key) if n != newcomer) != walks[key]:
            problems.append(f"join: the walk of {key} changed")
    placement.remove(newcomer)
    placement.remove(leaver)
    after = owners(placement, keys)
    for key in moved_keys(before, after):
        if before[key] != leaver:
            problems.append(f"leave: {key} moved from {before[key]}, not from {leaver}")
    for key in keys:
        if placement.walk(key) != tuple(n for n in walks[key] if n != leaver):
            problems.append(f"leave: the walk of {key} changed")
    return problems


@pytest.mark.parametrize("make", [lambda: ConsistentHashRing(vnodes=16), RendezvousHash],
                         ids=["consistent", "rendezvous"])
def test_keys_move_only_to_a_newcomer_and_only_from_a_leaver(
        make: Callable[[], Placement]) -> None:
    for config in range(3):
        placement = make()
        for node in names(config, 8):
            placement.add(node)
        assert disruption(placement, KEYS[:1000], f"c{config}-new", names(config, 8)[3]) == []


def test_minimal_disruption_catches_mod_n_and_a_ring_rebuilt_as_mod_n() -> None:
    from tests.naming.broken import RebuiltRing

    for make in (ModuloHash, RebuiltRing):
        placement = make()
        for node in names(0, 8):
            placement.add(node)
        problems = disruption(placement, KEYS[:2000], "new", names(0, 8)[3])
        assert len(problems) > 1000, make


# ----- errors ---------------------------------------------------------------------------------


def test_bad_input_gets_a_clear_error() -> None:
    with pytest.raises(UsageError, match="no nodes"):
        ConsistentHashRing().owner("k")
    with pytest.raises(UsageError, match="no nodes"):
        RendezvousHash().walk("k")
    with pytest.raises(UsageError, match="no nodes"):
        ModuloHash().owner("k")
    with pytest.raises(ConfigError, match="already"):
        ConsistentHashRing(["a"]).add("a")
    with pytest.raises(ConfigError, match="not on the ring"):
        ConsistentHashRing(["a"]).remove("b")
    with pytest.raises(ConfigError, match="vnodes must be an int >= 1"):
        ConsistentHashRing(["a"], vnodes=0)
    with pytest.raises(ConfigError, match="non-empty string"):
        RendezvousHash([""])
    with pytest.raises(ConfigError, match="positive number"):
        RendezvousHash(["a"], weights={"a": -1.0})
    with pytest.raises(ConfigError, match="needs at least 4 nodes"):
        ModuloHash(["a", "b", "c"]).preference_list("k", 4)
    with pytest.raises(UsageError, match="keys are strings"):
        ConsistentHashRing(["a"]).owner(7)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no load"):
        imbalance({"a": 0})

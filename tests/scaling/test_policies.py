"""Routing policies (dsys.scaling.policies), one decision at a time: each routes the way it
says, through membership changes; sticky routing keeps a key on its server and moves only
the keys a newcomer takes (about K/N); the broken "two choices" that samples one server
is told apart from the real one by its decisions."""

from __future__ import annotations

import math
from collections import Counter
from random import Random

import pytest

from dsys.errors import ConfigError, UsageError
from dsys.scaling import (
    POLICIES,
    ConsistentHash,
    LeastOutstanding,
    RandomChoice,
    RoundRobin,
    TwoChoices,
    make_policy,
)
from tests.scaling.broken import SamplesOne

SERVERS = [f"s{i}" for i in range(8)]


def random_load(rng: Random, servers: list[str]) -> dict[str, int]:
    return {s: rng.randrange(6) for s in servers}


def test_round_robin_cycles_in_id_order_through_joins_and_leaves() -> None:
    rr, rng = RoundRobin(["s2", "s0", "s1"]), Random(0)
    assert [rr.choose("", {}, rng) for _ in range(7)] == ["s0", "s1", "s2"] * 2 + ["s0"]
    rr.add("s3")  # joins: takes its turn in id order
    assert [rr.choose("", {}, rng) for _ in range(4)] == ["s1", "s2", "s3", "s0"]
    rr.remove("s1")  # the next in line leaves: the one after it goes next
    assert [rr.choose("", {}, rng) for _ in range(3)] == ["s2", "s3", "s0"]
    rr.remove("s0")  # the last chosen leaves: the cycle goes on after it
    assert [rr.choose("", {}, rng) for _ in range(3)] == ["s2", "s3", "s2"]


def test_least_outstanding_picks_a_minimum_and_breaks_ties_at_random() -> None:
    policy, rng = LeastOutstanding(SERVERS), Random(1)
    for _ in range(500):
        load = random_load(rng, SERVERS)
        assert load[policy.choose("", load, rng)] == min(load.values())
    even = dict.fromkeys(SERVERS, 2)
    picked = Counter(policy.choose("", even, rng) for _ in range(800))
    assert set(picked) == set(SERVERS)  # not always the first of the tied


def test_two_choices_picks_the_less_loaded_of_two_distinct_samples() -> None:
    policy, rng = TwoChoices(SERVERS), Random(2)
    sampled: Counter[str] = Counter()
    for _ in range(2000):
        load = random_load(rng, SERVERS)
        state = rng.getstate()
        pair = policy.sample(rng)
        rng.setstate(state)  # the same draw again, inside choose
        chosen = policy.choose("", load, rng)
        assert len(pair) == 2 and pair[0] != pair[1]
        assert chosen in pair and load[chosen] == min(load[s] for s in pair)
        if load[pair[0]] == load[pair[1]]:
            assert chosen == pair[0]
        sampled.update(pair)
    # Each server is sampled about 2/8 of the time: 500 of 4000 draws, sd ~ 19.
    assert all(abs(count - 500) < 5 * math.sqrt(4000 * (1 / 8) * (7 / 8))
               for count in sampled.values()), sampled


def test_a_two_choices_that_samples_one_server_is_caught() -> None:
    broken, rng = SamplesOne(SERVERS), Random(3)
    worse = 0
    for _ in range(300):
        load = random_load(rng, SERVERS)
        state = rng.getstate()
        pair = TwoChoices(SERVERS).sample(rng)
        rng.setstate(state)
        if load[broken.choose("", load, rng)] > min(load[s] for s in pair):
            worse += 1
    assert worse > 50  # it often takes the busier of the two it should have compared


def test_two_choices_with_one_or_two_servers_and_d_choices() -> None:
    rng = Random(4)
    assert TwoChoices(["a"]).choose("", {"a": 3}, rng) == "a"
    assert TwoChoices(["a", "b"]).choose("", {"a": 3, "b": 1}, rng) == "b"
    three = TwoChoices(SERVERS, d=3)
    assert len(three.sample(rng)) == 3
    load = dict.fromkeys(SERVERS, 5) | {"s7": 0}
    # d = 8: every server sampled, so the empty one always wins
    assert all(TwoChoices(SERVERS, d=8).choose("", load, rng) == "s7" for _ in range(20))


def test_random_choice_spreads_evenly() -> None:
    policy, rng = RandomChoice(SERVERS), Random(5)
    picked = Counter(policy.choose("", {}, rng) for _ in range(8000))
    assert set(picked) == set(SERVERS)
    assert all(abs(count - 1000) < 5 * math.sqrt(8000 / 8 * 7 / 8) for count in picked.values())


def test_sticky_routing_keeps_a_key_on_its_server_whatever_the_load() -> None:
    policy = ConsistentHash(SERVERS)
    keys = [f"user-{i}" for i in range(500)]
    first = {k: policy.choose(k, dict.fromkeys(SERVERS, 0), Random(6)) for k in keys}
    rng = Random(7)
    for key in keys:  # other loads, other random states: the same server
        assert policy.choose(key, random_load(rng, SERVERS), rng) == first[key]
    assert len(set(first.values())) == len(SERVERS)


@pytest.mark.parametrize("servers", [5, 10, 20])
def test_sticky_routing_moves_about_k_over_n_keys_and_only_to_the_newcomer(
        servers: int) -> None:
    names = [f"s{i}" for i in range(servers)]
    policy, rng = ConsistentHash(names), Random(8)
    keys = [f"k{i}" for i in range(20_000)]
    load = dict.fromkeys(names, 0)
    before = {k: policy.choose(k, load, rng) for k in keys}
    policy.add("new")
    after = {k: policy.choose(k, load | {"new": 0}, rng) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(after[k] == "new" for k in moved)  # a join moves keys only to the joiner
    # Expected: the newcomer's share of the ring; each key lands there independently,
    # so the count is binomial: 5 standard deviations of slack.
    share = policy.ring.ownership()["new"]
    slack = 5 * math.sqrt(share * (1 - share) / len(keys))
    assert abs(len(moved) / len(keys) - share) < slack
    # And that share is 1/(N+1) up to the spread 64 virtual nodes leave (~1/8 of it).
    assert abs(share - 1 / (servers + 1)) < 4 / (servers + 1) / math.sqrt(64)
    policy.remove("new")  # leaving gives exactly those keys back
    assert {k: policy.choose(k, load, rng) for k in keys} == before


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="no routing policy named 'fastest'"):
        make_policy("fastest")
    with pytest.raises(ConfigError, match="in the pool already"):
        RoundRobin(["a"]).add("a")
    with pytest.raises(ConfigError, match="is not in the pool"):
        RoundRobin(["a"]).remove("b")
    with pytest.raises(ConfigError, match="d \\(servers sampled"):
        TwoChoices(["a"], d=0)
    with pytest.raises(UsageError, match="needs a request key"):
        ConsistentHash(["a"]).choose("", {"a": 0}, Random(0))
    assert sorted(POLICIES) == ["consistent-hash", "least-outstanding", "random",
                                "round-robin", "two-choices"]

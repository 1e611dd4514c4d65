"""Merkle trees (dsys.replication.merkle): equal contents give equal roots, a descent into
differing subtrees finds exactly the keys that differ, and costs less than the full
comparison when few keys differ; on the wire, anti-entropy with trees sends fewer bytes
than the full comparison and converges just the same."""

from __future__ import annotations

from random import Random

import pytest

from dsys.demos.quorum import measure_anti_entropy
from dsys.errors import ConfigError
from dsys.replication.merkle import EMPTY, MerkleTree, compare, compare_all, digest


def items(count: int, prefix: str = "key") -> dict[str, str]:
    return {f"{prefix}{i}": digest(str(i)) for i in range(count)}


def test_equal_items_give_equal_roots_whatever_the_insertion_order() -> None:
    forward = items(500)
    backward = dict(reversed(list(forward.items())))
    assert MerkleTree(forward).root == MerkleTree(backward).root
    assert compare(MerkleTree(forward), MerkleTree(backward)).keys == ()


def test_any_change_changes_the_root() -> None:
    base = items(200)
    root = MerkleTree(base).root
    assert MerkleTree(dict(base, key7=digest("x"))).root != root  # a value changed
    assert MerkleTree({k: v for k, v in base.items() if k != "key7"}).root != root  # gone
    assert MerkleTree(dict(base, extra=digest("x"))).root != root  # one more key
    assert MerkleTree({}).root != root and MerkleTree({}, depth=0).root == EMPTY


def test_one_changed_key_is_found_by_descending_one_path() -> None:
    base = items(1000)
    changed = dict(base, key421=digest("new"))
    ours, theirs = MerkleTree(base), MerkleTree(changed)
    found = compare(ours, theirs)
    assert found.keys == ("key421",)
    # the root, then the children of one differing node per level: not the whole tree
    assert found.hashes == 1 + ours.fanout * ours.depth
    assert found.rounds == ours.depth + 3
    # only the entries of the one differing leaf crossed
    leaf = ours.bucket_of("key421")
    assert found.entries == len(ours.leaf(leaf)) + 1


def test_keys_only_one_side_has_are_found() -> None:
    ours = items(300)
    theirs = dict(ours)
    del theirs["key5"]
    theirs["new"] = digest("n")
    assert compare(MerkleTree(ours), MerkleTree(theirs)).keys == ("key5", "new")
    assert compare_all(ours, theirs).keys == ("key5", "new")


@pytest.mark.parametrize("shape", [(0, 2), (1, 16), (3, 4), (5, 2)])
def test_the_descent_finds_exactly_the_differing_keys(shape: tuple[int, int]) -> None:
    depth, fanout = shape
    for seed in range(20):
        rng = Random(seed)
        ours = items(rng.randrange(0, 400))
        theirs = dict(ours)
        for key in rng.sample(sorted(ours), min(len(ours), rng.randrange(0, 12))):
            action = rng.choice(("change", "drop"))
            if action == "change":
                theirs[key] = digest(f"changed {key}")
            else:
                del theirs[key]
        for i in range(rng.randrange(0, 5)):
            theirs[f"added{i}"] = digest(str(i))
        truth = tuple(sorted(k for k in ours.keys() | theirs.keys()
                             if ours.get(k) != theirs.get(k)))
        found = compare(MerkleTree(ours, depth=depth, fanout=fanout),
                        MerkleTree(theirs, depth=depth, fanout=fanout))
        assert found.keys == truth == compare_all(ours, theirs).keys


def test_few_differences_cost_far_less_than_the_full_comparison() -> None:
    base = items(2000)
    for differing in (1, 5, 20):
        changed = dict(base, **{f"key{i * 97}": digest("new") for i in range(differing)})
        tree = compare(MerkleTree(base, depth=5), MerkleTree(changed, depth=5))
        full = compare_all(base, changed)
        assert tree.keys == full.keys and len(tree.keys) == differing
        assert tree.bytes * 5 < full.bytes, (differing, tree, full)
    # equal replicas: one hash against every entry
    assert compare(MerkleTree(base), MerkleTree(base)).bytes == 16
    assert compare_all(base, base).bytes > 2000 * 16


def test_when_everything_differs_the_tree_costs_more_than_sending_everything() -> None:
    # the trade-off: hashes are pure overhead once every leaf differs
    ours, theirs = items(500), items(500, prefix="other")
    assert compare(MerkleTree(ours), MerkleTree(theirs)).bytes > compare_all(ours, theirs).bytes


def test_bad_shapes_are_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="fanout >= 2 and depth >= 0"):
        MerkleTree({}, depth=-1)
    with pytest.raises(ConfigError, match="fanout >= 2"):
        MerkleTree({}, fanout=1)
    with pytest.raises(ConfigError, match="both replicas must build trees of one shape"):
        compare(MerkleTree({}, depth=2), MerkleTree({}, depth=3))


# ----- on the wire: AntiEntropy between replicas -------------------------------------------


def test_anti_entropy_over_the_wire_sends_fewer_bytes_with_trees_and_converges() -> None:
    for divergent, advantage in ((1, 5), (10, 2)):
        merkle = measure_anti_entropy(300, divergent, merkle=True, seed=1)
        full = measure_anti_entropy(300, divergent, merkle=False, seed=1)
        assert merkle.time is not None and full.time is not None  # both converge
        assert merkle.bytes * advantage < full.bytes, (merkle, full)


def test_anti_entropy_bytes_grow_with_the_differences_not_the_keys() -> None:
    small = measure_anti_entropy(100, 2, seed=2)
    large = measure_anti_entropy(1000, 2, seed=2)
    full_small = measure_anti_entropy(100, 2, merkle=False, seed=2)
    full_large = measure_anti_entropy(1000, 2, merkle=False, seed=2)
    assert full_large.bytes > 5 * full_small.bytes  # the full comparison grows with keys
    assert large.bytes < 3 * small.bytes  # the trees' cost follows the 2 differences

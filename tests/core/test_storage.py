"""Storage: writes are visible at once, durable only after sync, copied in and out."""

from __future__ import annotations

from random import Random

import pytest

from dsys import Storage, UsageError


def test_writes_are_visible_before_sync_and_durable_after() -> None:
    s = Storage()
    s["a"] = 1
    assert s["a"] == 1 and s.dirty == ("a",) and s.durable_snapshot() == {}
    s.sync()
    assert s.durable_snapshot() == {"a": "1"} and s.dirty == ()


def test_values_are_copied_so_later_mutation_does_not_leak_in() -> None:
    s = Storage()
    log = [1, 2]
    s["log"] = log
    log.append(3)
    assert s["log"] == [1, 2]
    s["log"].append(99)
    assert s["log"] == [1, 2]


def test_delete_and_membership() -> None:
    s = Storage({"a": "1", "b": "2"})
    del s["a"]
    assert "a" not in s and "b" in s and s.keys() == ["b"] and len(s) == 1
    with pytest.raises(KeyError):
        s["a"]
    with pytest.raises(KeyError):
        del s["zzz"]


def test_bad_values_and_keys_get_clear_errors() -> None:
    s = Storage()
    with pytest.raises(UsageError, match="not a JSON value"):
        s["x"] = {1, 2}
    with pytest.raises(UsageError, match="keys must be strings"):
        s[3] = 1  # type: ignore[index]


def test_crash_keeps_synced_writes_and_flips_a_coin_for_each_unsynced_one() -> None:
    outcomes = set()
    for seed in range(40):
        s = Storage()
        s["synced"] = 1
        s.sync()
        s["synced"] = 2
        s["new"] = 3
        survived, lost = s.crash(Random(seed))
        assert survived.get("synced") in ("1", "2")
        assert set(lost) <= {"synced", "new"}
        for key in ("synced", "new"):
            assert (key in lost) != (survived.get(key) == {"synced": "2", "new": "3"}[key])
        outcomes.add(tuple(sorted(lost)))
        again = Storage()
        again["synced"] = 1
        again.sync()
        again["synced"] = 2
        again["new"] = 3
        assert again.crash(Random(seed))[1] == lost  # same seed, same loss
    assert outcomes == {(), ("new",), ("synced",), ("new", "synced")}


def test_set_text_writes_a_value_by_its_json_text_unsynced_until_sync() -> None:
    s = Storage()
    s.set_text("entry", '[3,{"k":"v"}]')
    assert s["entry"] == [3, {"k": "v"}] and s.dirty == ("entry",)
    assert s.durable_snapshot() == {}
    s.sync()
    assert s.durable_text("entry") == '[3,{"k":"v"}]' and s.last_synced == ("entry",)
    with pytest.raises(UsageError, match="keys must be strings"):
        s.set_text(3, "1")  # type: ignore[arg-type]

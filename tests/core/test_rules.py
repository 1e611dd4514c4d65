"""The core's rules every host applies: here, node ids (issue 10: ids from the wire)."""

from __future__ import annotations

import pytest

from dsys.core.rules import MAX_NODE_ID, check_node_id, is_node_id
from dsys.errors import ConfigError


@pytest.mark.parametrize("node_id", ["n1", "lin-kv", "client-3fa9", "a b", "é", "x" * MAX_NODE_ID])
def test_ordinary_ids_are_valid(node_id: str) -> None:
    assert is_node_id(node_id) and check_node_id(node_id) == node_id


@pytest.mark.parametrize("node_id", [
    "", "a/b", "../escaped", "..", ".", "a\\b",   # paths: trace files are named after ids
    "n1\n", "n1\x1b[31m", "n1\r", "\t", "n\u2028",  # control characters: ids are printed
    "x" * (MAX_NODE_ID + 1), 7, None, b"n1",
])
def test_paths_control_characters_and_huge_ids_are_refused(node_id: object) -> None:
    assert not is_node_id(node_id)
    with pytest.raises(ConfigError, match="node ids are printable strings"):
        check_node_id(node_id)


def test_the_error_does_not_copy_a_huge_id() -> None:
    with pytest.raises(ConfigError) as caught:
        check_node_id("x" * 1_000_000)
    assert len(str(caught.value)) < 300

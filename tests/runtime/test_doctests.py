"""The examples in dsys.runtime's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dsys.runtime.config",
    "dsys.runtime.wire",
    "dsys.runtime.storage",
    "dsys.runtime.target",
    "dsys.runtime.maelstrom",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

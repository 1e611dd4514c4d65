"""The examples in dsys.clocks' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dsys.clocks",
    "dsys.clocks.vector",
    "dsys.clocks.lamport",
    "dsys.clocks.hlc",
    "dsys.clocks.timestamps",
    "dsys.clocks.happens_before",
    "dsys.clocks.check",
    "dsys.clocks.physical",
    "dsys.clocks.cristian",
    "dsys.clocks.berkeley",
    "dsys.clocks.measure",
    "dsys.clocks.draw",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_public_name_is_documented() -> None:
    import inspect

    import dsys.clocks

    for name in dsys.clocks.__all__:
        obj = getattr(dsys.clocks, name)
        assert inspect.getdoc(obj), f"dsys.clocks.{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"{name}.{attr} has no docstring"

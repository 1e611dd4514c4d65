"""The examples in dsys.messaging's docstrings (and the demos') run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dsys.messaging

MODULES = ["dsys.messaging"] + [
    f"dsys.messaging.{info.name}" for info in pkgutil.iter_modules(dsys.messaging.__path__)
]


def test_every_module_is_listed() -> None:
    assert len(MODULES) == 11


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0


def test_public_names_are_documented() -> None:
    for name in dsys.messaging.__all__:
        obj = getattr(dsys.messaging, name)
        if callable(obj):
            assert obj.__doc__, f"dsys.messaging.{name} has no docstring"

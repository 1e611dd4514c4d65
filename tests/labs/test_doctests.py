"""The examples in the docstrings of dsys.labs run and show what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["dsys.labs", "dsys.labs.lab", "dsys.labs.grading", "dsys.labs.attempts"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSYS_LABS", raising=False)
    monkeypatch.delenv("DSYS_HOME", raising=False)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0

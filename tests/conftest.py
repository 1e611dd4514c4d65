"""Shared test configuration: soak tests run only on request, with ``pytest --soak``.

``--soak`` is the one way to run them (``pytest --soak`` runs everything, soak tests
included; ``pytest --soak -m soak`` runs only them). Without it they are skipped, and a
marker expression that asks for them (``pytest -m soak``) is a usage error that says to
use ``--soak``, rather than a run that reports every soak test as skipped.
"""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

# `soak` named in a marker expression, other than right after `not`.
_ASKS_FOR_SOAK = re.compile(r"(?<!\bnot )(?<!\bnot)\bsoak\b")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="also run long soak tests")


def pytest_configure(config: pytest.Config) -> None:
    markexpr = config.getoption("markexpr", default="") or ""
    if not config.getoption("--soak") and _ASKS_FOR_SOAK.search(" ".join(markexpr.split())):
        raise pytest.UsageError(
            f"-m {markexpr!r} selects soak tests, which run only with --soak: use "
            "`pytest --soak` (all tests) or `pytest --soak -m soak` (only the soak tests)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --soak")
    for item in items:
        if item.get_closest_marker("soak") is not None:  # the marker, not a test's name
            item.add_marker(skip)

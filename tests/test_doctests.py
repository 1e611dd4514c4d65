"""Every example in every dsys docstring runs and prints what it says.

Docstrings are documentation (the API reference renders them), so their examples are
tested like the pages' examples: one runner over every module of the package, so a new
module is covered without anyone remembering to list it.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dsys

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(dsys.__path__, prefix="dsys.")
    if ".lab-folders" not in info.name
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(str(tmp_path))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_the_runner_finds_the_packages_and_their_examples() -> None:
    assert {"dsys.core.node", "dsys.sim.simulation", "dsys.check.linearizable",
            "dsys.clocks.vector", "dsys.runtime.wire", "dsys.labs.grading"} <= set(MODULES)
    finder = doctest.DocTestFinder()
    for name in ("dsys.core.codec", "dsys.core.storage", "dsys.sim.simulation"):
        tests = finder.find(importlib.import_module(name))
        assert sum(len(t.examples) for t in tests) > 0, f"{name} has no examples"


PACKAGES = sorted({name.rsplit(".", 1)[0] if name.count(".") > 1 else name for name in MODULES}
                  | {"dsys"})


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_of_every_package_is_documented(package: str) -> None:
    import inspect

    module = importlib.import_module(package)
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        assert inspect.getdoc(obj), f"{package}.{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"{package}.{name}.{attr} has no docstring"


def test_docstring_examples_never_reuse_a_message_name() -> None:
    """One run executes every module's examples, and a message name belongs to one class:
    two examples that register the same ``doc:`` name with different classes fail only
    when both run (in the full suite), so the names must be unique across modules."""
    import re
    from collections import Counter
    from pathlib import Path

    root = Path(dsys.__file__).parent
    names = Counter(match for path in sorted(root.rglob("*.py"))
                    for match in re.findall(r'name="(doc:[^"]+)"', path.read_text()))
    assert names, "the examples register no doc: messages (the pattern is stale)"
    assert [n for n, count in names.items() if count > 1] == []

"""The API reference documents each class and function once, and every package.

The reference pages are ``::: module`` directives of mkdocstrings. A package that
re-exports its modules' names, documented beside those modules, shows every class twice
(and ``Report``, re-exported by a dozen protocol packages, a dozen times). These tests
read the directives as mkdocstrings does (a module's ``__all__``, or what it defines;
``members`` and ``filters`` options) without building the site, so they take a second.
"""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
DIRECTIVE = re.compile(r"^::: ([\w.]+)[ \t]*\n((?:[ \t]+.*\n|[ \t]*\n(?=[ \t]+\S))*)",
                       re.MULTILINE)
#: The site-wide filters of mkdocs.yml (private names are never shown).
DEFAULT_FILTERS = ["!^_"]


def directives(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``(target, options)`` of each ``::: target`` directive of a page."""
    found = []
    for match in DIRECTIVE.finditer(text + "\n"):
        block = yaml.safe_load(textwrap.dedent(match.group(2))) if match.group(2).strip() \
            else None
        found.append((match.group(1), (block or {}).get("options") or {}))
    return found


def _resolve(target: str) -> Any:
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(target)


def _shown(name: str, filters: list[str]) -> bool:
    for pattern in filters:
        if pattern.startswith("!"):
            if re.search(pattern[1:], name):
                return False
        elif not re.search(pattern, name):
            return False
    return True


def documented(target: str, options: dict[str, Any]) -> dict[str, Any]:
    """The classes and functions a directive renders: name -> object."""
    obj = _resolve(target)
    if not isinstance(obj, ModuleType):
        return {target: obj}
    members = options.get("members")
    if members is False:
        return {}
    if isinstance(members, list):
        names = list(members)
    elif hasattr(obj, "__all__"):
        names = list(obj.__all__)
    else:
        names = [name for name, value in vars(obj).items()
                 if getattr(value, "__module__", None) == obj.__name__]
    filters = options.get("filters", DEFAULT_FILTERS)
    return {f"{target}.{name}": getattr(obj, name) for name in names
            if _shown(name, filters)
            and (inspect.isclass(getattr(obj, name)) or inspect.isfunction(getattr(obj, name)))}


def test_directives_are_read_with_their_options() -> None:
    page = ("# x\n\n::: dsys.check\n    options:\n      filters: [\"!^_\", \"!^Report$\"]\n\n"
            "::: dsys.commit\n    options:\n      members: false\n\n::: dsys.commit.checkers\n")
    found = directives(page)
    assert [target for target, _ in found] == ["dsys.check", "dsys.commit",
                                               "dsys.commit.checkers"]
    assert documented(*found[1]) == {}
    assert "dsys.check.Report" not in documented(*found[0])
    assert "dsys.check.Violation" in documented(*found[0])
    assert "dsys.commit.checkers.check_atomicity" in documented(*found[2])


def test_each_class_and_function_is_documented_once() -> None:
    places: dict[int, list[str]] = defaultdict(list)
    for page in sorted(REFERENCE.glob("*.md")):
        for target, options in directives(page.read_text(encoding="utf-8")):
            for name, obj in documented(target, options).items():
                places[id(obj)].append(f"{page.name}: {name}")
    twice = sorted(where for where in places.values() if len(where) > 1)
    assert not twice, "documented more than once (give the package `members: false`, or " \
        "filter the re-exported name out):\n" + "\n".join(" | ".join(w) for w in twice)


def test_every_package_has_a_page_in_the_index_and_the_nav() -> None:
    index = (REFERENCE / "index.md").read_text(encoding="utf-8")
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    packages = sorted(path.parent.name for path in (ROOT / "dsys").glob("*/__init__.py")
                      if not path.parent.name.startswith("_"))
    assert {"core", "sim", "raft"} <= set(packages)
    missing = [name for name in packages if f"[`dsys.{name}" not in index]
    assert not missing, f"packages with no row in docs/reference/index.md: {missing}"
    for page in re.findall(r"\]\(([\w-]+\.md)\)", index):
        assert (REFERENCE / page).is_file(), page
        assert f"reference/{page}" in nav, f"reference/{page} is not in mkdocs.yml's nav"

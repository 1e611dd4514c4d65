"""Finding a node factory from a command-line TARGET.

A TARGET is ``path/to/file.py:Factory`` or ``package.module:Factory``; ``Factory`` is a
:class:`~dsys.core.node.Node` subclass or any callable returning a node (a dotted name
like ``Outer.Inner`` works too).

A file is loaded by :func:`dsys.loader.load_file` (the grader loads students' files the
same way), as the module named after the file (``file``), with its folder first on
``sys.path`` while it loads, as ``python path/to/file.py`` would see its neighbours. That
name matters: message tags are ``module:ClassName``, so every process of a cluster must
import the messages under the same module name (or give them explicit
``@message(name=...)``).

Example:
    >>> from dsys.runtime.target import load_target
    >>> load_target("dsys.demos.pingpong:Ponger").__name__
    'Ponger'
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsys.errors import UsageError
from dsys.loader import load_file


def load_target(spec: str) -> Callable[[], Any]:
    """The factory named by ``spec``; a one-line :class:`UsageError` if it cannot be found."""
    module_part, sep, attribute = spec.rpartition(":")
    if not sep or not module_part or not attribute:
        raise UsageError(f"target {spec!r} must look like path/to/file.py:Factory or "
                         "package.module:Factory")
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        path = Path(module_part)
        module_name = path.stem
        try:
            module = load_file(path, module_name)
        except UsageError as exc:
            raise UsageError(f"target {spec!r}: {exc}") from None
    else:
        module_name = module_part
        module = _import(module_name, spec)
    obj: Any = module
    for name in attribute.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise UsageError(f"target {spec!r}: {module_name} has no {attribute!r}") from None
    if not callable(obj):
        raise UsageError(f"target {spec!r} is a {type(obj).__name__}, not a node class or "
                         "factory")
    return obj


def _import(module_name: str, spec: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except SyntaxError as exc:
        raise UsageError(f"target {spec!r}: syntax error in {exc.filename}, line "
                         f"{exc.lineno}: {exc.msg}") from None
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise UsageError(f"target {spec!r}: no module named {module_name!r} (a file "
                             "target needs the .py suffix)") from None
        raise UsageError(f"target {spec!r}: importing it failed: {exc}") from None
    except Exception as exc:
        # Name the line that raised: that is what a student needs to fix their module.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise UsageError(f"target {spec!r}: importing it raised {type(exc).__name__}: "
                         f"{exc} ({frame.filename}, line {frame.lineno})") from None

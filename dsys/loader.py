"""Loading a user's Python file as a module: the one way dsys does it.

``dsys run app.py:Factory`` (and ``dsys cluster up``, ``dsys maelstrom``) and the lab
grader (``dsys lab test --impl solution.py``) import files that a user wrote. They all
go through :func:`load_file`, so the rules are the same everywhere:

* the file's folder is first on ``sys.path`` while it runs, so it can import the files
  beside it (as ``python app.py`` would let it);
* the module is in ``sys.modules`` under its name before its code runs (attrs, and so
  ``@message``, resolves postponed annotations through it), and taken out again if that
  code fails;
* a file is run once per name: loading it again under the same name returns the module
  already loaded, so its message classes are registered once. (The name matters: message
  tags are ``module:ClassName``, so every process of a cluster must load a file under the
  same name. The default, the file's stem, is what ``python app.py`` would import it as.)
* a name already taken by another module is refused, never replaced;
* a *target* names something in a file or module: ``path/to/file.py:Name`` or
  ``package.module:Name`` (:func:`load_target`), as ``dsys run``, ``dsys check model``
  and the lab tools take it;
* every problem is one :class:`~dsys.errors.UsageError` line that says where it is
  (``path:line``), never a traceback from inside the import machinery.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from dsys.loader import load_file
    >>> app = Path(tempfile.mkdtemp()) / "hello_loader_doc.py"
    >>> _ = app.write_text("GREETING = 'hi'\\n")
    >>> module = load_file(app)
    >>> module.__name__, module.GREETING, load_file(app) is module
    ('hello_loader_doc', 'hi', True)
    >>> _ = app.with_name("broken_loader_doc.py").write_text("x = 1\\ny = x / 0\\n")
    >>> try:
    ...     load_file(app.with_name("broken_loader_doc.py"))
    ... except Exception as exc:
    ...     print(str(exc).split("/")[-1])
    broken_loader_doc.py:2 in <module>: loading it raised ZeroDivisionError: division by zero
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from dsys.errors import UsageError


def load_file(path: str | os.PathLike[str], module_name: str | None = None) -> ModuleType:
    """Import the Python file ``path`` as module ``module_name`` (default: the file's
    stem); see the module docstring for the rules."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.suffix != ".py":
        raise UsageError(f"{path} is not a Python file (.py)")
    name = module_name or path.stem
    resolved = path.resolve()
    loaded = sys.modules.get(name)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
        if origin is not None and Path(origin).resolve() == resolved:
            return loaded
        raise UsageError(f"cannot load {path} as module {name!r}: that name is taken by "
                         f"{origin or 'a built-in module'}; rename the file")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have one
        raise UsageError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(resolved.parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise UsageError(f"{exc.filename or path}:{exc.lineno}: syntax error: {exc.msg}"
                         ) from None
    except Exception as exc:
        del sys.modules[name]
        raise UsageError(f"{_where(exc, resolved) or path}: loading it raised "
                         f"{type(exc).__name__}: {exc}") from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    return module


def _where(exc: BaseException, path: Path) -> str | None:
    """``file:line in function`` of the deepest frame of ``exc`` in ``path`` (else the
    deepest frame outside the import machinery): the line the user has to fix."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<frozen ") and f.filename != __file__]
    mine = [f for f in frames if Path(f.filename).resolve() == path]
    chosen = mine or frames
    if not chosen:
        return None
    frame = chosen[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


def load_target(spec: str, what: str = "a node class or factory") -> Callable[[], Any]:
    """The factory named by ``spec``; a one-line :class:`UsageError` if it cannot be found.

    ``what`` says what ``spec`` should name, for the error when it is not callable
    (``dsys run --workload`` loads a workload function the same way).
    """
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
        raise UsageError(f"target {spec!r} is a {type(obj).__name__}, not {what}")
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

"""Labs on disk: what a lab folder holds, and how dsys finds the labs.

A lab is a folder (its name, e.g. ``lab0``, is the lab's name) holding:

``lab.toml``
    metadata: ``title``, ``topic``, ``aliases``, the ``implementation`` file students edit,
    the names an implementation must define (``requires``) and the ``reference`` solution
    (a ``.py`` file in the lab folder, ``solution.py``; or a module name);
``solution.py``
    the reference solution: graded by the library's tests, and left out of the installed
    package (students get the handout, not the answer);
``README.md``
    the handout (also rendered in the documentation site);
``starter/``
    the files ``dsys lab start`` copies out, with the TODOs students fill in;
``grader.py``
    the graded tests (see :mod:`dsys.labs.grading`);
``mutants/``
    known-buggy implementations: the grader must take points from every one.

The labs live in the ``labs/`` folder of a clone of dsys, and are shipped inside the
installed package (``dsys/labs/.lab-folders``, a link to that folder in a clone), so the
same commands work from a clone and from an installed wheel (which has every lab file but
the solutions). ``DSYS_LABS=DIR`` points dsys at another folder of labs (an instructor's
own, for example).

Example:
    >>> from dsys.labs import find_lab
    >>> lab = find_lab("lab0")
    >>> lab.name, lab.implementation
    ('lab0', 'reliable.py')
    >>> find_lab("reliable-delivery") == lab     # an alias
    True
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import attrs

from dsys.errors import ConfigError, UsageError

#: Environment variable naming a folder of labs to use instead of the bundled ones.
LABS_ENV = "DSYS_LABS"

#: The bundled labs, relative to this package. In a clone it is a symbolic link to the
#: repository's ``labs/`` folder; building a wheel copies the files themselves. The name
#: starts with a dot on purpose: type checkers, linters and importers skip it (a lab's
#: files are not modules of dsys, and two labs may both have a ``grader.py``).
BUNDLED = Path(__file__).parent / ".lab-folders"

#: The ``labs/`` folder of a clone (used when the link above is not materialized, e.g. on a
#: file system without symbolic links).
SOURCE = Path(__file__).resolve().parent.parent.parent / "labs"

_REQUIRED_KEYS = ("title", "topic", "implementation", "reference")


@attrs.frozen
class Lab:
    """One lab: its folder and its metadata (read from ``lab.toml``)."""

    name: str
    path: Path
    title: str
    topic: str
    implementation: str
    reference: str
    aliases: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Lab:
        """Read the lab in folder ``path``."""
        meta_path = path / "lab.toml"
        try:
            meta: dict[str, Any] = tomllib.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path} is not a lab: it has no lab.toml") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{meta_path}: not valid TOML ({exc})") from None
        missing = [key for key in _REQUIRED_KEYS if not isinstance(meta.get(key), str)]
        if missing:
            raise ConfigError(f"{meta_path}: missing string key(s) {', '.join(missing)}")
        return cls(
            name=path.name,
            path=path,
            title=meta["title"],
            topic=meta["topic"],
            implementation=meta["implementation"],
            reference=meta["reference"],
            aliases=tuple(str(a) for a in meta.get("aliases", ())),
            requires=tuple(str(r) for r in meta.get("requires", ())),
        )

    @property
    def readme(self) -> Path:
        """The handout."""
        return self.path / "README.md"

    @property
    def grader_path(self) -> Path:
        """The file of graded tests."""
        return self.path / "grader.py"

    @property
    def starter_dir(self) -> Path:
        """The folder whose files ``dsys lab start`` copies out."""
        return self.path / "starter"

    def starter_files(self) -> list[Path]:
        """The starter files (relative paths keep their folders when copied), sorted."""
        return sorted(
            p for p in self.starter_dir.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )

    def mutants(self) -> list[Path]:
        """The known-buggy implementations in ``mutants/``, sorted by name."""
        folder = self.path / "mutants"
        return sorted(folder.glob("*.py")) if folder.is_dir() else []

    def names(self) -> tuple[str, ...]:
        """Every name this lab answers to: its folder name, then its aliases."""
        return (self.name, *self.aliases)


def labs_root() -> Path:
    """The folder that holds the labs (see the module docstring for how it is chosen)."""
    override = os.environ.get(LABS_ENV)
    if override:
        root = Path(override)
        if not root.is_dir():
            raise UsageError(f"{LABS_ENV}={override} is not a folder")
        return root
    if BUNDLED.is_dir():
        return BUNDLED
    # Only in a clone (beside pyproject.toml): not some other package's labs/ folder.
    if SOURCE.is_dir() and (SOURCE.parent / "pyproject.toml").is_file():
        return SOURCE
    raise ConfigError(
        "cannot find the labs: this installation of dsys has no lab folders "
        f"(looked in {BUNDLED} and {SOURCE}); reinstall dsys or set {LABS_ENV}=DIR"
    )


def _natural_key(name: str) -> tuple[Any, ...]:
    # lab2 sorts before lab10.
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def discover(root: Path | None = None) -> list[Lab]:
    """Every lab under ``root`` (default: :func:`labs_root`), in natural name order.

    A lab is any sub-folder with a ``lab.toml``; adding a folder is all it takes for the
    commands, the documentation and the library's tests to pick up a new lab.
    """
    root = labs_root() if root is None else root
    folders = [p for p in root.iterdir() if p.is_dir() and (p / "lab.toml").is_file()]
    return [Lab.load(p) for p in sorted(folders, key=lambda p: _natural_key(p.name))]


def find_lab(name: str, root: Path | None = None) -> Lab:
    """The lab called ``name`` (its folder name or one of its aliases).

    Raises :class:`~dsys.errors.UsageError`, listing the labs, when there is none.
    """
    labs = discover(root)
    for lab in labs:
        if name in lab.names():
            return lab
    known = ", ".join(lab.name for lab in labs) or "(none)"
    raise UsageError(f"no lab named {name!r}; the labs are: {known} (see `dsys lab list`)")

"""The shared file store the coordinator and the workers read and write (the paper's GFS).

The rules of this file:

* A store maps names (``"wordcount/map-3-1"``) to texts. :meth:`FileStore.write` writes a
  whole file at once (it replaces any file of that name); :meth:`FileStore.commit` renames
  a finished temporary file to its final name *only if that name does not exist yet*, in
  one atomic step, and says whether it did. That is how a task's output becomes visible
  exactly once however many attempts of the task run (MapReduce paper, section 3.3: "we
  rely on the atomic rename operation provided by the underlying file system").
* Every write and every commit is recorded in :attr:`FileStore.log` as a :class:`Write`
  (who, when, how, whether it installed the file): the checkers read it to prove that no
  output was written twice.
* ``read_cost`` and ``write_cost`` are virtual seconds per byte: a worker adds them to its
  task's duration, which is how the simulator models data size. A store on real disks
  costs nothing extra (the real time it takes is the cost).

Two stores: :class:`MemoryStore`, one object shared by every node of a simulation, and
:class:`DirectoryStore`, a directory shared by processes (on one machine, or on a network
file system), where a commit is a hard link (``link(2)`` refuses an existing name) and the
log is a file of JSON lines appended by every process.

Example:
    >>> from dsys.mapreduce import MemoryStore
    >>> store = MemoryStore()
    >>> store.write("job/tmp/a", "hello", by="w1", at=1.0)
    >>> store.commit("job/tmp/a", "job/out-0", by="w1", at=1.5)
    True
    >>> store.write("job/tmp/b", "hello", by="w2", at=2.0)
    >>> store.commit("job/tmp/b", "job/out-0", by="w2", at=2.5)   # a backup finished later
    False
    >>> store.read("job/out-0"), store.exists("job/tmp/b")
    ('hello', False)
    >>> [(w.name, w.by, w.installed) for w in store.log if w.how == "commit"]
    [('job/out-0', 'w1', True), ('job/out-0', 'w2', False)]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

import attrs

from dsys.errors import ConfigError, UsageError

__all__ = ["DirectoryStore", "FileStore", "MemoryStore", "Write"]


@attrs.frozen
class Write:
    """One entry of a store's log: ``by`` (a node id) wrote ``name`` at time ``at``, either
    directly (``how="write"``) or by committing a temporary file (``how="commit"``);
    ``installed`` says whether ``name`` now holds what it wrote."""

    name: str
    by: str
    at: float
    how: str
    installed: bool


class FileStore(Protocol):
    """What the coordinator and the workers need from a shared file system."""

    read_cost: float
    write_cost: float

    def read(self, name: str) -> str:
        """The text of ``name``; ``FileNotFoundError`` if there is none."""
        ...

    def exists(self, name: str) -> bool:
        """Whether a file called ``name`` exists."""
        ...

    def write(self, name: str, text: str, *, by: str = "", at: float = 0.0) -> None:
        """Write (or replace) the whole file ``name``."""
        ...

    def commit(self, temporary: str, name: str, *, by: str = "", at: float = 0.0) -> bool:
        """Rename ``temporary`` to ``name`` if ``name`` does not exist (True), else delete
        ``temporary`` (False). Atomic."""
        ...

    @property
    def log(self) -> list[Write]:
        """Every write and commit so far, in order."""
        ...


def _check_name(name: str) -> str:
    parts = name.split("/")
    if not isinstance(name, str) or not name or any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"bad store file name {name!r}: use 'dir/file' without '..' or '//'")
    return name


def _check_cost(name: str, value: float) -> float:
    if not 0 <= value < float("inf"):
        raise ConfigError(f"a store's {name} must be >= 0 seconds per byte, got {value!r}")
    return value


class MemoryStore:
    """A store in memory, shared by every node of a simulation (pass the same object to
    each node's factory). ``read_cost``/``write_cost``: virtual seconds per byte."""

    def __init__(self, *, read_cost: float = 0.0, write_cost: float = 0.0) -> None:
        self.read_cost = _check_cost("read_cost", read_cost)
        self.write_cost = _check_cost("write_cost", write_cost)
        self.files: dict[str, str] = {}
        self._log: list[Write] = []

    @property
    def log(self) -> list[Write]:
        """Every write and commit so far, in order."""
        return self._log

    def read(self, name: str) -> str:
        """The text of ``name``; ``FileNotFoundError`` if there is none."""
        try:
            return self.files[name]
        except KeyError:
            raise FileNotFoundError(f"no file {name!r} in the store") from None

    def exists(self, name: str) -> bool:
        """Whether a file called ``name`` exists."""
        return name in self.files

    def write(self, name: str, text: str, *, by: str = "", at: float = 0.0) -> None:
        """Write (or replace) the whole file ``name``."""
        self.files[_check_name(name)] = text
        self._log.append(Write(name, by, at, "write", True))

    def commit(self, temporary: str, name: str, *, by: str = "", at: float = 0.0) -> bool:
        """Rename ``temporary`` to ``name`` unless ``name`` exists; see the module doc."""
        text = self.read(temporary)
        del self.files[temporary]
        installed = _check_name(name) not in self.files
        if installed:
            self.files[name] = text
        self._log.append(Write(name, by, at, "commit", installed))
        return installed

    def names(self, prefix: str = "") -> list[str]:
        """The names of the files that start with ``prefix``, sorted."""
        return sorted(n for n in self.files if n.startswith(prefix))


class DirectoryStore:
    """A store in a directory shared by processes (``root``); see the module docstring.

    Example:
        >>> import tempfile
        >>> store = DirectoryStore(tempfile.mkdtemp())
        >>> store.write("job/tmp/a", "hi", by="w1")
        >>> store.commit("job/tmp/a", "job/out-0", by="w1"), store.read("job/out-0")
        (True, 'hi')
        >>> [w.how for w in store.log]
        ['write', 'commit']
    """

    LOG = "_store_log.jsonl"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"store directory {self.root} is a file, not a directory")
        self.root.mkdir(parents=True, exist_ok=True)
        self.read_cost = 0.0
        self.write_cost = 0.0

    def _path(self, name: str) -> Path:
        return self.root / _check_name(name)

    def read(self, name: str) -> str:
        """The text of ``name``; ``FileNotFoundError`` if there is none."""
        return self._path(name).read_text(encoding="utf-8")

    def exists(self, name: str) -> bool:
        """Whether a file called ``name`` exists."""
        return self._path(name).is_file()

    def write(self, name: str, text: str, *, by: str = "", at: float = 0.0) -> None:
        """Write (or replace) ``name``: to a hidden file first, then an atomic replace."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        hidden = path.with_name(f".{path.name}.{os.getpid()}")
        with open(hidden, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(hidden, path)
        self._record(Write(name, by, at, "write", True))

    def commit(self, temporary: str, name: str, *, by: str = "", at: float = 0.0) -> bool:
        """Hard-link ``temporary`` as ``name`` (refused if ``name`` exists), then unlink it."""
        source, target = self._path(temporary), self._path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
            installed = True
        except FileExistsError:
            installed = False
        source.unlink()
        self._record(Write(name, by, at, "commit", installed))
        return installed

    def names(self, prefix: str = "") -> list[str]:
        """The names of the files that start with ``prefix``, sorted."""
        found = [p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                 if p.is_file() and not p.name.startswith(".") and p.name != self.LOG]
        return sorted(n for n in found if n.startswith(prefix))

    def _record(self, entry: Write) -> None:
        line = json.dumps(attrs.asdict(entry), sort_keys=True) + "\n"
        # One write(2) per line on a file opened with O_APPEND: lines of several processes
        # do not interleave.
        fd = os.open(self.root / self.LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)

    @property
    def log(self) -> list[Write]:
        """Every write and commit so far by every process, in the order they were logged."""
        try:
            lines = (self.root / self.LOG).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [Write(**json.loads(line)) for line in lines if line.strip()]

"""A node's data directory: ``node.storage`` kept on disk, written atomically.

``DataDir`` holds two files:

* ``storage.json``: the node's durable storage, rewritten whole on every
  :meth:`~dsys.core.storage.Storage.sync` that changed something;
* ``node.json``: whose directory this is, and how many times the node has started (so a
  restart calls ``on_recover`` instead of ``on_start``).

Every write is atomic: write a temporary file (``.storage.json.<pid>.tmp``), ``fsync`` it,
``rename`` it over the old one, ``fsync`` the directory. A crash (even ``kill -9`` or a
power cut) leaves either the old file or the new one, never a torn mix; once ``sync()``
returns, the data survives. This is the discipline real storage engines follow, at the
smallest scale. A crash in the middle of a write leaves its temporary file behind:
opening the directory again removes such leftovers of processes that no longer run.

Example:
    >>> import tempfile
    >>> from dsys.runtime.storage import DataDir
    >>> folder = tempfile.mkdtemp()
    >>> data = DataDir(folder, "a")
    >>> storage, recovered = data.open()
    >>> recovered
    False
    >>> storage["term"] = 3
    >>> storage.sync()                        # now on disk
    >>> storage2, recovered = DataDir(folder, "a").open()
    >>> storage2["term"], recovered
    (3, True)
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

from dsys.core.storage import Storage
from dsys.errors import ConfigError

STORAGE_FILE = "storage.json"
META_FILE = "node.json"


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace the file at ``path`` with ``data`` so that a crash leaves old or new.

    With ``durable`` (the default), also make sure the new contents and the rename itself
    are on disk before returning (``fsync`` of the file and of its directory).
    """
    tmp = _temporary(path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        _fsync_directory(path.parent)


def _temporary(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{pid}.tmp")


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files :func:`atomic_write` left next to ``path`` when its
    process was killed mid-write; return them. A temporary of a process that still runs
    (another one writing right now) is left alone."""
    removed = []
    prefix, suffix = f".{path.name}.", ".tmp"
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid_text = candidate.name[len(prefix):-len(suffix)]
        if not pid_text.isdigit() or candidate != _temporary(path, int(pid_text)):
            continue
        pid = int(pid_text)
        if pid != os.getpid() and _is_running(pid):
            continue
        try:
            candidate.unlink()
        except FileNotFoundError:
            continue
        removed.append(candidate)
    return removed


def _is_running(pid: int) -> bool:
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) would kill it on Windows
        return True
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or cannot tell): keep its file
    return True


def _fsync_directory(directory: Path) -> None:
    # The rename is a change to the directory: without this, a power cut could forget it.
    # (Windows cannot open a directory; its rename is already durable enough for us.)
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DataDir:
    """The data directory of node ``node_id`` (created if missing).

    A directory belongs to one node: opening it for another id is a
    :class:`~dsys.errors.ConfigError`, so two nodes can never share (and corrupt) one.
    """

    def __init__(self, path: str | os.PathLike[str], node_id: str) -> None:
        self.path = Path(path)
        self.node_id = node_id
        self.starts = 0
        self._written: dict[str, str] | None = None

    def open(self) -> tuple[Storage, bool]:
        """Load the durable storage; return it (wired to write here on every sync) and
        whether the node ran before (``True``: call ``on_recover``)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create data directory {self.path}: {exc}") from None
        for name in (META_FILE, STORAGE_FILE):  # leftovers of a process killed mid-write
            remove_stale_temporaries(self.path / name)
        meta = self._read_json(META_FILE, {"node": self.node_id, "starts": 0})
        if not isinstance(meta, dict) or meta.get("node") != self.node_id:
            owner = meta.get("node") if isinstance(meta, dict) else "?"
            raise ConfigError(f"data directory {self.path} belongs to node {owner!r}, not "
                              f"{self.node_id!r}; give each node its own --data directory")
        previous = meta.get("starts", 0)
        recovered = isinstance(previous, int) and previous > 0
        self.starts = (previous if isinstance(previous, int) else 0) + 1
        atomic_write(self.path / META_FILE,
                     _json_bytes({"node": self.node_id, "starts": self.starts}))
        stored = self._read_json(STORAGE_FILE, {})
        if not isinstance(stored, dict):
            raise ConfigError(f"{self.path / STORAGE_FILE} is not a JSON object; it was not "
                              "written by dsys")
        durable = {str(k): json.dumps(v, separators=(",", ":")) for k, v in stored.items()}
        self._written = dict(durable)
        storage = Storage(durable)
        storage.on_sync = self._on_sync
        storage.origin = str(self.path / STORAGE_FILE)
        return storage, recovered

    def read(self) -> dict[str, Any]:
        """The durable contents as values (for tools and tests; the node uses storage)."""
        stored = self._read_json(STORAGE_FILE, {})
        return dict(stored) if isinstance(stored, dict) else {}

    def _on_sync(self, storage: Storage) -> None:
        snapshot = storage.durable_snapshot()
        if snapshot == self._written:
            return  # nothing changed since the last write: skip the (slow) fsyncs
        # Values are stored as JSON values (not JSON text) so the file is easy to read.
        values = {k: json.loads(v) for k, v in sorted(snapshot.items())}
        atomic_write(self.path / STORAGE_FILE, _json_bytes(values))
        self._written = snapshot

    def _read_json(self, name: str, default: Any) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode()

"""A node's data directory: ``node.storage`` kept on disk, a sync costing one append.

The rules of this file: a byte is on disk only after ``fsync``; a file is replaced only by
rename (after an ``fsync`` of the new file, followed by an ``fsync`` of the directory); the
log is only appended to, cut back to its last valid record, or emptied once everything in
it is in ``storage.json``.

``DataDir`` holds three files:

* ``storage.log``: the write-ahead log. Each :meth:`~dsys.core.storage.Storage.sync` that
  changed something appends one record, the keys written and deleted since the last one,
  then ``fsync`` of the log only: one small write, not the whole state;
* ``storage.json``: the state as of the last *compaction*, human-readable. When the log
  grows past ``log_limit`` (1 MiB, or 4 times the state if that is larger), the whole state
  is written here atomically (temporary file ``.storage.json.<pid>.tmp``, ``fsync``,
  ``rename``, ``fsync`` of the directory), and then the log is emptied;
* ``node.json``: whose directory this is, and how many times the node has started (so a
  restart calls ``on_recover`` instead of ``on_start``).

Opening the directory loads ``storage.json`` and replays the log over it, in order.

* A log record is one line: ``<length> <crc32> <json>``, the length and CRC-32 of the JSON,
  in hex. A crash in the middle of an append leaves a torn *last* line: it was never
  acknowledged, so it is dropped (and cut off the file). A bad line with more after it is
  damage, not a crash: opening stops with a :class:`~dsys.errors.ConfigError` naming the
  file and the offset, rather than silently lose what follows.
* ``storage.json`` and every record carry a *generation*, raised by each compaction. A
  crash after the new ``storage.json`` is in place but before the log is emptied leaves
  records of the older generation: they are already in ``storage.json``, so they are
  skipped (replaying them could bring back a key deleted since), and opening finishes the
  compaction. A log *newer* than ``storage.json`` means an older ``storage.json`` was put
  back: a clear error.
* A crash in the middle of writing ``storage.json`` leaves its temporary file behind:
  opening the directory again removes such leftovers of processes that no longer run.

Once ``sync()`` returns, its writes survive a crash, even ``kill -9`` or a power cut.

Example:
    >>> import tempfile
    >>> from dsys.runtime.storage import DataDir
    >>> folder = tempfile.mkdtemp()
    >>> data = DataDir(folder, "a")
    >>> storage, recovered = data.open()
    >>> recovered
    False
    >>> storage["term"] = 3
    >>> storage.sync()                        # now on disk: one record appended to the log
    >>> storage2, recovered = DataDir(folder, "a").open()
    >>> storage2["term"], recovered
    (3, True)
    >>> DataDir(folder, "a").read()
    {'term': 3}
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import zlib
from pathlib import Path
from typing import Any

from dsys.core.storage import Storage
from dsys.errors import ConfigError

STORAGE_FILE = "storage.json"
LOG_FILE = "storage.log"
META_FILE = "node.json"
#: Marks a ``storage.json`` that carries a generation (older ones hold the values only).
STORAGE_FORMAT = "dsys-storage/2"
#: Compact once the log is larger than this, or than 4 times the state if that is larger.
LOG_LIMIT = 1 << 20


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace the file at ``path`` with ``data`` so that a crash leaves old or new.

    With ``durable`` (the default), also make sure the new contents and the rename itself
    are on disk before returning (``fsync`` of the file and of its directory).
    """
    tmp = _temporary(path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _write_all(fd, data)
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
    ``log_limit`` is the log size (bytes) that triggers a compaction; see the module
    docstring.
    """

    def __init__(self, path: str | os.PathLike[str], node_id: str, *,
                 log_limit: int = LOG_LIMIT) -> None:
        self.path = Path(path)
        self.node_id = node_id
        self.log_limit = log_limit
        self.starts = 0
        self._written: dict[str, str] | None = None  # what storage.json + the log hold
        self._unwritten: set[str] = set()  # keys synced in memory, not yet on disk
        self._generation = 0  # of storage.json, and of every record in the log
        self._log_size: int | None = None  # bytes in the log; None: no log file yet
        self._state_size = 0  # bytes of storage.json at the last compaction

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
        durable, replay = self._load()
        self._generation, self._state_size = replay.generation, replay.state_size
        self._log_size = replay.size
        self._written = dict(durable)
        if replay.stale:  # a crash mid-compaction: finish it, so the log holds one generation
            self._compact(durable)
        elif replay.size is not None and replay.good_end < replay.size:
            self._cut_log(replay.good_end)  # a torn last record: the next append follows it
        storage = Storage(durable)
        storage.on_sync = self._on_sync
        storage.origin = f"{self.path / STORAGE_FILE} (with {self.path / LOG_FILE})"
        return storage, recovered

    def read(self) -> dict[str, Any]:
        """The durable contents as values (for tools and tests; the node uses storage).

        Safe while the node runs: it changes no file, and ignores a record being appended.
        """
        for attempt in range(3):
            try:
                durable, _ = self._load()
            except _LogIsNewer:  # a compaction ran between reading the two files: again
                if attempt == 2:
                    raise
                continue
            return {k: json.loads(v) for k, v in sorted(durable.items())}
        raise AssertionError("unreachable")  # pragma: no cover

    def compact(self) -> None:
        """Write everything synced so far to ``storage.json`` and empty the log (a sync
        does this by itself when the log grows past its limit)."""
        if self._written is None:
            raise RuntimeError("DataDir.compact() before open()")
        self._compact(self._written)

    # ----- writing -------------------------------------------------------------------

    def _on_sync(self, storage: Storage) -> None:
        if self._written is None:
            self._written = {}
        written = self._written
        # Only the keys this sync made durable (and any a failed write left behind):
        # O(writes), not O(state), so a long log does not slow every sync down.
        self._unwritten.update(storage.last_synced)
        changed: dict[str, str] = {}
        deleted: list[str] = []
        for key in sorted(self._unwritten):
            text = storage.durable_text(key)
            if text is None:
                if key in written:
                    deleted.append(key)
            elif written.get(key) != text:
                changed[key] = text
        if not changed and not deleted:
            self._unwritten.clear()
            return  # nothing changed since the last write: skip the (slow) fsync
        record = _record(self._generation, changed, deleted)
        log_size = self._log_size or 0
        if log_size + len(record) > max(self.log_limit, 4 * self._state_size):
            snapshot = storage.durable_snapshot()
            self._compact(snapshot)  # the whole state, instead of one more record
            self._written = snapshot
        else:
            self._append(record)  # on failure, the keys stay in _unwritten
            written.update(changed)
            for key in deleted:
                del written[key]
        self._unwritten.clear()

    def _append(self, record: bytes) -> None:
        created = self._log_size is None
        # Opened per append (a few microseconds) so no descriptor outlives a sync.
        fd = os.open(self.path / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _write_all(fd, record)
            os.fsync(fd)
        except OSError:
            # A full disk may have taken half the record: cut it off, or the next append
            # would follow a damaged record. The writes stay unsynced here (not in
            # _written), so the next sync that succeeds writes them again.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._log_size or 0)
            raise
        finally:
            os.close(fd)
        if created:  # a new name in the directory: make the name durable too
            _fsync_directory(self.path)
        self._log_size = (self._log_size or 0) + len(record)

    def _compact(self, snapshot: dict[str, str]) -> None:
        # Order matters: the new storage.json (one generation up) is on disk, renamed and
        # its directory fsynced before the log is emptied. A crash in between leaves a log
        # of the older generation, which opening skips: nothing is lost or brought back.
        generation = self._generation + 1
        data = _state_bytes(generation, snapshot)
        atomic_write(self.path / STORAGE_FILE, data)
        self._generation, self._state_size = generation, len(data)
        if self._log_size is not None:
            self._cut_log(0)

    def _cut_log(self, size: int) -> None:
        """Shorten the log to ``size`` bytes, durably (its name is unchanged: no
        directory ``fsync``)."""
        fd = os.open(self.path / LOG_FILE, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._log_size = size

    # ----- reading -------------------------------------------------------------------

    def _load(self) -> tuple[dict[str, str], _Replay]:
        """The durable contents (JSON text per key): storage.json, then the log over it."""
        json_path = self.path / STORAGE_FILE
        stored = self._read_json(STORAGE_FILE, {})
        if not isinstance(stored, dict):
            raise ConfigError(f"{json_path} is not a JSON object; it was not written by dsys")
        if stored.get("format") == STORAGE_FORMAT:
            generation, values = stored.get("generation"), stored.get("values")
            if not isinstance(generation, int) or not isinstance(values, dict):
                raise ConfigError(f"{json_path} has no valid 'generation' and 'values'; "
                                  "it was not written by dsys")
        else:  # written before the log existed: the values alone, generation 0
            generation, values = 0, stored
        durable = {str(k): json.dumps(v, separators=(",", ":")) for k, v in values.items()}
        replay = _replay_log(self.path / LOG_FILE, generation, durable)
        replay.state_size = json_path.stat().st_size if json_path.exists() else 0
        return durable, replay

    def _read_json(self, name: str, default: Any) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None


# ----- the log's records ---------------------------------------------------------------

class _Replay:
    """What loading found: the generation and size of storage.json; the log's size (None:
    no log), where its last valid record ends, and whether it holds records of an older
    generation (skipped: storage.json has them, from a compaction cut short)."""

    __slots__ = ("generation", "good_end", "size", "stale", "state_size")

    def __init__(self, generation: int, size: int | None, good_end: int,
                 stale: bool) -> None:
        self.generation, self.size, self.good_end, self.stale = generation, size, good_end, stale
        self.state_size = 0


class _LogIsNewer(ConfigError):
    """The log is of a later generation than storage.json (see :func:`_replay_log`)."""


#: A key as a JSON string, exactly as ``json.dumps(key)`` writes it (its C core, without
#: the encoder ``json.dumps`` goes through for each call).
_quoted = json.encoder.encode_basestring_ascii


def _record(generation: int, changed: dict[str, str], deleted: list[str]) -> bytes:
    """One log line: ``<length> <crc32> <json>``, length and CRC of the JSON in hex."""
    # The values are JSON text already (compact, so without newlines): embed them as is.
    written = ",".join(f"{_quoted(k)}:{v}" for k, v in changed.items())
    gone = ",".join(map(_quoted, deleted))
    body = f'{{"gen":{generation},"set":{{{written}}},"del":[{gone}]}}'.encode()
    return b"%x %08x %s\n" % (len(body), zlib.crc32(body), body)


def _parse_record(line: bytes) -> dict[str, Any] | None:
    """The record on ``line`` (without its newline), or None if it is damaged."""
    try:
        length_text, crc_text, body = line.split(b" ", 2)
        if int(length_text, 16) != len(body) or int(crc_text, 16) != zlib.crc32(body):
            return None
        record = json.loads(body)
    except ValueError:
        return None
    if (not isinstance(record, dict) or not isinstance(record.get("gen"), int)
            or not isinstance(record.get("set"), dict)
            or not isinstance(record.get("del"), list)
            or not all(isinstance(key, str) for key in record["del"])):
        return None
    return record


_RECORD_HEADER = re.compile(rb"([0-9a-f]+) [0-9a-f]{8} ")


def _ends_with_a_record(line: bytes) -> bool:
    """Whether a damaged ``line`` ends with a whole valid record: then it is not one torn
    append (the records after a torn one are cut off at open), but a damaged record
    followed by a good one (acknowledged, so it must not be dropped)."""
    header = _RECORD_HEADER.search(line)
    while header is not None:  # overlapping matches: a header may follow hex digits
        if (header.end() + int(header[1], 16) == len(line)
                and _parse_record(line[header.start():]) is not None):
            return True
        header = _RECORD_HEADER.search(line, header.start() + 1)
    return False


def _replay_log(path: Path, generation: int, durable: dict[str, str]) -> _Replay:
    """Apply the log's records of ``generation`` to ``durable``, in order: skip those of
    an older one, stop at a torn last record, refuse damage anywhere else."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _Replay(generation, None, 0, False)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    offset = 0
    stale = applied = False
    while offset < len(data):
        end = data.find(b"\n", offset)
        record = _parse_record(data[offset:end]) if end != -1 else None
        if record is None:
            if end == -1 or (end == len(data) - 1 and not _ends_with_a_record(data[offset:end])):
                break  # a torn last record: a crash mid-append, never acknowledged
            raise ConfigError(
                f"{path} is damaged at offset {offset}: the record there is not a valid "
                "dsys log record, and more records follow it. Refusing to start with part "
                "of the node's storage; restore the data directory from a backup")
        if record["gen"] < generation:
            if applied:
                raise ConfigError(f"{path} has a record of an older generation at offset "
                                  f"{offset}, after newer ones; it was not written by dsys")
            stale = True  # written before the last compaction: storage.json has it
        elif record["gen"] > generation:
            raise _LogIsNewer(
                f"{path} (generation {record['gen']}, offset {offset}) is newer than "
                f"{path.with_name(STORAGE_FILE)} (generation {generation}): an older "
                f"{STORAGE_FILE} was put back; restore both files from the same backup")
        else:
            applied = True
            for key, value in record["set"].items():
                durable[key] = json.dumps(value, separators=(",", ":"))
            for key in record["del"]:
                durable.pop(key, None)
        offset = end + 1
    return _Replay(generation, len(data), offset, stale)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _state_bytes(generation: int, texts: dict[str, str]) -> bytes:
    """storage.json's contents: the values as the JSON texts storage holds (compact, so
    one line each), keys sorted, one per line. Not decoded and encoded again: a state of
    megabytes is written in milliseconds, not seconds (the node waits meanwhile)."""
    lines = ",\n".join(f"  {_quoted(k)}: {v}" for k, v in sorted(texts.items()))
    body = f"\n{lines}\n " if lines else ""
    return (f'{{\n "format": {json.dumps(STORAGE_FORMAT)},\n "generation": {generation},\n'
            f' "values": {{{body}}}\n}}\n').encode()


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode()

"""Worker processes for grading: fresh interpreters, under a chosen ``PYTHONHASHSEED``.

Grading uses other processes for two reasons: speed (``dsys lab test --jobs N`` runs seeds
in ``N`` processes at once) and determinism. Python salts the hash of every string with a
random seed chosen when the interpreter starts, unless ``PYTHONHASHSEED`` fixes it, and the
iteration order of a set of strings follows those hashes. So ``dsys lab test`` runs graded
code under ``PYTHONHASHSEED=0`` (:data:`GRADING_HASH_SEED`), in its own process if that
already runs under it and in worker processes otherwise, and it runs one seed of every
test again under another hash seed, to catch an implementation whose runs depend on it.

The hash seed is read once, when an interpreter starts: the only way to run code under
another is a new interpreter started with the variable set. So a worker is a new
``python`` process (not a fork of this one, which would keep this one's hash seed), and it
imports nothing of the program that started it (unlike ``multiprocessing``'s ``spawn``,
which re-runs the main script: a script calling :func:`dsys.labs.grade` would need an
``if __name__ == "__main__"`` guard). Work goes to it and results come back as pickles
over its standard input and output; what the work prints goes to its standard error.

Example:
    >>> with Workers(1, hash_seed=5) as workers:
    ...     workers.submit(hash_seed_of_this_process).result()
    '5'
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

#: The ``PYTHONHASHSEED`` graded code runs under (``dsys lab test``, and its replays).
GRADING_HASH_SEED = 0

_VARIABLE = "PYTHONHASHSEED"

#: What a worker runs: it serves work from its standard input until that closes.
_WORKER = "from dsys.labs.processes import serve; serve()"


def cpu_count() -> int:
    """The number of CPUs this process may use (the default of ``--jobs``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def runs_under_hash_seed(seed: int) -> bool:
    """True if this interpreter hashes strings as under ``PYTHONHASHSEED=seed``."""
    if seed == 0:
        # 0 turns the salt off, which the interpreter records in its flags: reliable
        # even if someone changed os.environ after start-up.
        return not sys.flags.hash_randomization
    return bool(sys.flags.hash_randomization) and os.environ.get(_VARIABLE) == str(seed)


def another_hash_seed(seed: int | None) -> int:
    """A hash seed other than ``seed`` (None: other than this process's own)."""
    if seed is None:
        current = os.environ.get(_VARIABLE, "")
        seed = int(current) if current.isdigit() else -1
    return 1 if seed != 1 else 2


def hash_seed_of_this_process() -> str | None:
    """``PYTHONHASHSEED`` as this process was started with (for tests and examples)."""
    return os.environ.get(_VARIABLE)


class WorkerDied(RuntimeError):
    """A worker process ended while it was running a piece of work."""


class Workers:
    """Up to ``count`` worker processes under ``PYTHONHASHSEED=hash_seed`` (None: as this
    process), working in folder ``cwd`` (default: the current one), started as work
    arrives. :meth:`close` (or leaving the ``with`` block) cancels the work not started,
    waits for the work under way and stops the workers."""

    def __init__(self, count: int, *, hash_seed: int | None, cwd: str | None = None) -> None:
        self.count = max(1, count)
        self.hash_seed = hash_seed
        self.cwd = os.getcwd() if cwd is None else cwd
        self._work: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]
                                      | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._processes: list[subprocess.Popen[bytes]] = []

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Run ``fn(*args)`` in a worker (``fn`` must be a module-level function, and it
        and ``args`` must pickle)."""
        future: Future[T] = Future()
        self._work.put((future, fn, args))
        if len(self._threads) < self.count:
            thread = threading.Thread(target=self._feed, daemon=True)
            self._threads.append(thread)
            thread.start()
        return future

    def _launch(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        if self.hash_seed is not None:
            env[_VARIABLE] = str(self.hash_seed)
        # The worker must import the same dsys, wherever it comes from.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        process = subprocess.Popen([sys.executable, "-c", _WORKER], env=env, cwd=self.cwd,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._processes.append(process)
        assert process.stdin is not None
        with contextlib.suppress(OSError):  # a worker that died at once: see _feed
            _send(process.stdin, list(sys.path))
        return process

    def _feed(self) -> None:
        """Hand work to one worker process, one piece at a time, and its results back; if
        the process dies, fail the work it had and start another for the next piece."""
        process: subprocess.Popen[bytes] | None = None
        while True:
            item = self._work.get()
            if item is None:
                break
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            if process is None:
                process = self._launch()
            assert process.stdin is not None and process.stdout is not None
            try:
                _send(process.stdin, (fn, args))
                ok, value = pickle.load(process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                future.set_exception(WorkerDied(f"the worker process ended ({exc!r})"))
                with contextlib.suppress(OSError):
                    process.stdin.close()
                process = None
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the work not started, finish the work under way, stop the workers."""
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._work.get_nowait()
                if item is not None:
                    item[0].cancel()
        for _ in self._threads:
            self._work.put(None)
        for thread in self._threads:
            thread.join()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck worker
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self._threads.clear()
        self._processes.clear()


# One long-lived worker per hash seed (and folder, and labs folder), for the determinism
# check: started on first use, stopped when this process exits. It keeps what it has
# loaded, so grading many implementations in one process (as the library's tests do)
# starts one interpreter for all of them, not one per grading.
_SHARED: dict[tuple[int, str, str | None], Workers] = {}


def shared_worker(hash_seed: int) -> Workers:
    """The long-lived worker running under ``PYTHONHASHSEED=hash_seed`` (see above)."""
    key = (hash_seed, os.getcwd(), os.environ.get("DSYS_LABS"))
    if key not in _SHARED:
        if not _SHARED:
            atexit.register(_close_shared)
        _SHARED[key] = Workers(1, hash_seed=hash_seed, cwd=key[1])
    return _SHARED[key]


def _close_shared() -> None:
    for workers in _SHARED.values():
        workers.close()
    _SHARED.clear()


def _send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)  # whole, or not at all
    stream.write(data)
    stream.flush()


def serve() -> None:
    """The worker's loop: read ``(fn, args)`` pickles from standard input, write each
    ``(True, result)`` or ``(False, exception)`` to standard output, until input ends."""
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # Whatever the work prints must not corrupt the replies: send it to standard error.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with contextlib.suppress(EOFError, KeyboardInterrupt, BrokenPipeError):
        sys.path[:] = pickle.load(requests)
        while True:
            fn, args = pickle.load(requests)
            try:
                reply: tuple[bool, Any] = (True, fn(*args))
            except Exception as exc:
                reply = (False, exc)
            try:
                _send(replies, reply)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                _send(replies, (False, RuntimeError(f"cannot send the result back: {exc}")))

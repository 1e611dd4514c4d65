"""Lab 2's reference solution, unchanged, as `dsys run` / `dsys cluster up` targets.

``labs/lab2-rpc/solution.py`` is loaded (not copied) under one module name,
``lab2_solution``, here and in every child process, so its message tags
(``lab2_solution:Request``...) are the same everywhere.
"""

from __future__ import annotations

from pathlib import Path

from dsys.loader import load_file

SOLUTION = Path(__file__).resolve().parents[2] / "labs" / "lab2-rpc" / "solution.py"
_solution = load_file(SOLUTION, "lab2_solution")

KVClient = _solution.KVClient
KVServer = _solution.KVServer

#: The one server of the cluster files of tests/runtime/test_clients.py.
SERVER = "server"

Server = KVServer


def Client() -> object:  # noqa: N802 - a factory, named like the class it builds
    """Lab 2's client, talking to the server node ``server``."""
    return KVClient(SERVER)

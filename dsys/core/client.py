"""Clients: nodes that issue operations and record a history, on any host.

A client is a :class:`~dsys.core.node.Node` with one extra handler, :meth:`Client.on_invoke`,
called by its host with the next operation. The client talks to the servers with ordinary
messages and finishes the operation with :meth:`Client.ok`, :meth:`Client.fail` or
:meth:`Client.info`. The host records every invocation and completion as a history in
Jepsen's vocabulary (see the ``dsys.check`` docs): ``ok`` completed with a result, ``fail``
completed without effect, ``info`` outcome unknown. After an ``info`` the client continues
as a new *process*, as in Jepsen, because its old operation may still take effect at any
time.

The same client class runs in the simulator (``sim.add_client``: operations come from a
seeded workload, the history is ``sim.history``) and as a real process (``dsys run ...
--workload`` or ``dsys.runtime.run_client``: operations come from the same kind of
workload, the history is written as JSON Lines that ``dsys check lin`` reads). What a
host must provide is :class:`ClientContext`.

Example:
    >>> from dsys import Client, message
    >>> @message(name="doc:Put")
    ... class Put:
    ...     key: str
    ...     value: int
    >>> @message(name="doc:PutOk")
    ... class PutOk:
    ...     pass
    >>> class Writer(Client):
    ...     def on_invoke(self, op: dict) -> None:
    ...         self.send("server", Put(op["key"], op["value"]))
    ...         self.set_timer("timeout", 1.0)
    ...     def on_message(self, src: str, msg: object) -> None:
    ...         if isinstance(msg, PutOk) and self.current_op is not None:
    ...             self.cancel_timer("timeout")
    ...             self.ok()
    ...     def on_timer(self, name: str) -> None:
    ...         self.info()                       # we cannot know whether it happened
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from dsys.core.node import Node, NodeContext
from dsys.errors import UsageError

#: Marker for "complete with the value the operation was invoked with".
SAME: Any = type("Same", (), {"__repr__": lambda self: "SAME"})()

#: The kinds of completion (Jepsen's vocabulary).
COMPLETIONS = ("ok", "fail", "info")


class ClientContext(NodeContext, Protocol):
    """What a host provides to a client, beyond :class:`~dsys.core.node.NodeContext`."""

    def current_op(self) -> dict[str, Any] | None:
        """A copy of the operation in progress, or None."""
        ...

    def complete(self, kind: str, value: Any) -> None:
        """Finish the operation in progress: ``kind`` is ``ok``, ``fail`` or ``info``;
        ``value`` its result (:data:`SAME`: the invoked value)."""
        ...


def normalize_op(client_id: str, raw: object, source: str = "the workload") -> dict[str, Any]:
    """Check an operation and return it as ``{"f", ["key"], "value"}`` (every host does).

    ``source`` says where operations come from, for the error.

    >>> normalize_op("c1", {"f": "write", "value": 3})
    {'f': 'write', 'value': 3}
    >>> normalize_op("c1", {"value": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dsys.errors.UsageError: the workload of client c1 returned {'value': 3}; it must return ...
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("f"), str):
        raise UsageError(
            f"{source} of client {client_id} returned {raw!r}; it must return a dict "
            "with a string 'f' (and 'value', optionally 'key')"
        )
    return {"f": raw["f"], **({"key": raw["key"]} if "key" in raw else {}),
            "value": raw.get("value")}


def check_completion(client_id: str, kind: str, op: Mapping[str, Any] | None) -> None:
    """Raise :class:`UsageError` unless ``kind`` is a completion and an operation is in
    progress (every host applies this rule).

    >>> check_completion("c1", "ok", None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dsys.errors.UsageError: client c1 completed an operation (ok) but none is in progress; ...
    """
    if kind not in COMPLETIONS:
        raise UsageError(f"client {client_id}: {kind!r} is not a completion; use ok, fail or "
                         "info")
    if op is None:
        raise UsageError(f"client {client_id} completed an operation ({kind}) but none is in "
                         "progress; complete each operation exactly once")


def history_event(process: int, kind: str, op: Mapping[str, Any], value: Any
                  ) -> dict[str, Any]:
    """One history line in the format ``dsys check lin`` reads (without time and client).

    >>> history_event(0, "ok", {"f": "read", "key": "x", "value": None}, 3)
    {'process': 0, 'type': 'ok', 'f': 'read', 'key': 'x', 'value': 3}
    """
    event: dict[str, Any] = {"process": process, "type": kind, "f": op["f"]}
    if "key" in op:
        event["key"] = op["key"]
    event["value"] = op["value"] if value is SAME else value
    return event


class Client(Node):
    """A node that runs operations and records them; see the module docstring."""

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Start operation ``op`` (a dict with ``f``, ``value`` and maybe ``key``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_invoke(op)")

    def _client_context(self) -> ClientContext:
        ctx = self._context()
        if not hasattr(ctx, "complete"):
            raise UsageError(
                f"{type(self).__name__} is a Client but runs as a server node: add it with "
                "sim.add_client (or run_client / dsys run --workload on a real network)"
            )
        return cast(ClientContext, ctx)

    @property
    def current_op(self) -> dict[str, Any] | None:
        """The operation in progress, or None."""
        return self._client_context().current_op()

    def ok(self, value: Any = SAME) -> None:
        """The operation completed; ``value`` is its result (default: the invoked value)."""
        self._client_context().complete("ok", value)

    def fail(self, value: Any = SAME) -> None:
        """The operation completed *without effect* (e.g. a cas whose compare failed)."""
        self._client_context().complete("fail", value)

    def info(self) -> None:
        """The outcome is unknown: the operation may or may not take effect, at any time."""
        self._client_context().complete("info", SAME)

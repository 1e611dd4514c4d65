"""Simulated clients: nodes that issue operations and record a history.

A client is a :class:`~dsys.core.node.Node` with one extra handler, :meth:`Client.on_invoke`,
called by the simulator with the next operation from the client's *workload*. The client
talks to the servers with ordinary messages and finishes the operation with
:meth:`Client.ok`, :meth:`Client.fail` or :meth:`Client.info`. The simulator records every
invocation and completion in ``sim.history`` in Jepsen's vocabulary (see the
``dsys.check`` docs): ``ok`` completed with a result, ``fail`` completed without effect,
``info`` outcome unknown. After an ``info`` the client continues as a new *process*, as in
Jepsen, because its old operation may still take effect at any time.

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

from typing import Any

from dsys.core.node import Node

#: Marker for "complete with the value the operation was invoked with".
SAME: Any = type("Same", (), {"__repr__": lambda self: "SAME"})()


class Client(Node):
    """A simulated client; see the module docstring."""

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Start operation ``op`` (a dict with ``f``, ``value`` and maybe ``key``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_invoke(op)")

    @property
    def current_op(self) -> dict[str, Any] | None:
        """The operation in progress, or None."""
        return self._context().current_op()  # type: ignore[attr-defined]

    def ok(self, value: Any = SAME) -> None:
        """The operation completed; ``value`` is its result (default: the invoked value)."""
        self._context().complete("ok", value)  # type: ignore[attr-defined]

    def fail(self, value: Any = SAME) -> None:
        """The operation completed *without effect* (e.g. a cas whose compare failed)."""
        self._context().complete("fail", value)  # type: ignore[attr-defined]

    def info(self) -> None:
        """The outcome is unknown: the operation may or may not take effect, at any time."""
        self._context().complete("info", SAME)  # type: ignore[attr-defined]

"""A client that asks one server one question at a time, asks again until answered, and
gives up after a while: what the naming clients (:class:`~dsys.naming.NameClient`,
:class:`~dsys.naming.StubClient`, :class:`~dsys.naming.ZoneUpdater`) share.

A subclass builds a request in ``on_invoke`` and passes it to :meth:`AskingClient.ask`;
in ``on_message`` it recognises the answer (``self.asking`` is the request in flight),
calls :meth:`AskingClient.answered` and completes the operation. Unanswered, the request
is sent again every ``retry`` seconds, the same request each time (a lookup asked twice
is still one lookup); after ``op_timeout`` seconds the operation completes as ``info``.

Example:
    >>> from dsys import message
    >>> @message(name="doc:asking.Hello")
    ... class Hello:
    ...     n: int
    >>> class Greeter(AskingClient):
    ...     def on_invoke(self, op: dict) -> None:
    ...         self.ask(Hello(op["value"]))
    ...     def on_message(self, src: str, msg: object) -> None:
    ...         if msg == self.asking:              # the server echoes the request
    ...             self.answered()
    ...             self.ok()
"""

from __future__ import annotations

import math

from dsys.core.client import Client
from dsys.errors import ConfigError


def positive_seconds(what: str, value: object) -> float:
    """``value`` as a float if it is a positive, finite number of seconds; else a
    :class:`~dsys.errors.ConfigError` naming ``what``.

    >>> positive_seconds("retry", 0)
    Traceback (most recent call last):
      ...
    dsys.errors.ConfigError: retry must be a positive number of seconds, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


class AskingClient(Client):
    """A client with one request in flight to ``server`` (see the module docstring).

    Args:
        server: the node every request goes to.
        retry: seconds before an unanswered request is sent again.
        op_timeout: seconds before an unanswered operation completes as ``info``.
    """

    def __init__(self, server: str, *, retry: float, op_timeout: float) -> None:
        super().__init__()
        self.server = server
        self.retry = positive_seconds("retry", retry)
        self.op_timeout = positive_seconds("op_timeout", op_timeout)

    def on_start(self) -> None:
        """Nothing in flight."""
        self.asking: object | None = None

    def ask(self, request: object) -> None:
        """Send ``request`` to the server, and again every ``retry`` seconds until
        :meth:`answered`."""
        self.asking = request
        self.send(self.server, request)
        self.set_timer("retry", self.retry)
        self.set_timer("give up", self.op_timeout)

    def answered(self) -> None:
        """The request in flight is answered: stop sending it, and stop the clock."""
        self.asking = None
        self.cancel_timer("retry")
        self.cancel_timer("give up")

    def on_timer(self, name: str) -> None:
        """``retry``: send the request again; ``give up``: the outcome is unknown."""
        if self.asking is None:
            return
        if name == "retry":
            self.send(self.server, self.asking)
            self.set_timer("retry", self.retry)
        elif name == "give up":
            self.answered()
            self.info()

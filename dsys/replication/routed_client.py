"""A key-value client that asks a coordinator where to send each request.

Primary-backup and chain replication both keep their configuration (who is primary, the
order of the chain) at one coordinator: the view service, the chain's master. Their
clients share one shape, :class:`RoutedClient`: a :class:`~dsys.kv.KVClient` (sessions,
numbered operations, exactly-once retries, ``info`` after ``op_timeout``) that

* asks the coordinator for the configuration when it has none, when a server answers
  ``wrong leader`` and whenever a request goes unanswered for ``retry`` seconds;
* sends each request to the server :meth:`RoutedClient.route` names for it under the
  configuration it knows, always with the same session number, so that the servers apply
  it once however often it is sent.

A subclass says how to ask (:meth:`~RoutedClient.ask`), how to read the answer
(:meth:`~RoutedClient.learn`) and where each request goes (:meth:`~RoutedClient.route`);
see :class:`~dsys.replication.primary_backup.PBClient` and
:class:`~dsys.replication.chain.ChainClient`.
"""

from __future__ import annotations

from typing import Any

from dsys.errors import ConfigError
from dsys.kv.client import OP_TIMEOUT, RETRY, KVClient
from dsys.kv.messages import WRONG_LEADER, KVReply, KVRequest


def check_server_options(ping_interval: float, retry: float, batch: int) -> None:
    """The options primary-backup and chain servers share: a ConfigError if one is bad."""
    if not ping_interval > 0 or not retry > 0:
        raise ConfigError(f"ping_interval and retry must be > 0, got {ping_interval!r} "
                          f"and {retry!r}")
    if not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch must be an int >= 1, got {batch!r}")


class RoutedClient(KVClient):
    """A :class:`~dsys.kv.KVClient` that learns where to send requests from a
    coordinator (see the module docstring).

    Args:
        coordinator: the id of the node that knows the configuration.
        retry: seconds without an answer before asking the coordinator again and resending.
        op_timeout: seconds before giving up on an operation (``info``).
    """

    def __init__(self, coordinator: str, *, retry: float = RETRY,
                 op_timeout: float = OP_TIMEOUT) -> None:
        if not isinstance(coordinator, str) or not coordinator:
            raise ConfigError(f"the coordinator must be a node id, got {coordinator!r}")
        if not retry > 0 or not op_timeout > 0:
            raise ConfigError(f"retry and op_timeout must be > 0, got {retry!r} and "
                              f"{op_timeout!r}")
        super().__init__(retry=retry, op_timeout=op_timeout)
        self.coordinator = coordinator

    # ----- what a subclass says --------------------------------------------------------

    def ask(self) -> object:
        """The message that asks the coordinator for its configuration."""
        raise NotImplementedError

    def learn(self, msg: Any) -> bool:
        """Read ``msg`` if it is the coordinator's answer (update the configuration if it
        is newer) and return True; return False for any other message."""
        raise NotImplementedError

    def route(self, request: KVRequest) -> str | None:
        """The server to send ``request`` to, or None if the configuration names none."""
        raise NotImplementedError

    # ----- the client --------------------------------------------------------------------

    def on_start(self) -> None:
        """Open a session (as every key-value client does) and ask for the configuration."""
        super().on_start()
        self.sent_to: str | None = None  # where the request in progress went last
        self.send(self.coordinator, self.ask())

    def send_request(self, request: KVRequest) -> None:
        """Send ``request`` where the configuration says, and arm the retry timer."""
        self.request = request
        self.sent_to = None
        self.resend()
        self.set_timer("retry", self.retry)

    def resend(self) -> None:
        """Send the request in progress to its server (or ask where that is)."""
        if self.request is None:
            return
        target = self.route(self.request)
        if target is None:
            self.send(self.coordinator, self.ask())
            return
        self.sent_to = target
        self.send(target, self.request)

    def on_message(self, src: str, msg: Any) -> None:
        """The coordinator's answer: resend if the request's server changed. ``wrong
        leader``: ask the coordinator. Anything else: as :class:`~dsys.kv.KVClient`."""
        if self.learn(msg):
            if self.request is not None and self.route(self.request) != self.sent_to:
                self.resend()
            return
        request = self.request
        if isinstance(msg, KVReply) and msg.status == WRONG_LEADER and request is not None \
                and (msg.session, msg.seq) == (request.session, request.seq):
            self.send(self.coordinator, self.ask())
            return
        super().on_message(src, msg)

    def on_timer(self, name: str) -> None:
        """``retry``: ask the coordinator again and resend; ``give up``: ``info``."""
        if name == "retry" and self.request is not None:
            self.send(self.coordinator, self.ask())
            self.resend()
            self.set_timer("retry", self.retry)
        else:
            super().on_timer(name)

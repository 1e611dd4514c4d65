"""Nodes, components and layers: the sans-IO programming model.

A :class:`Node` is a plain object whose handlers run to completion, one at a time: a
message arrives (``on_message``), a timer fires (``on_timer``), the node starts
(``on_start``) or comes back after a crash (``on_recover``). Handlers change the node's
state and ask for effects through the node's methods: ``send``, ``broadcast``,
``set_timer``, ``cancel_timer``, ``storage``, ``log``. There is no ``await``, no socket,
no thread: the *host* (the simulator, the trio runtime, a model checker) owns all I/O and
time, and talks to the node through a :class:`NodeContext`.

Composition. A node can be assembled from :class:`Component` objects (a failure detector,
an election module, a Raft log), each with its own name, messages and timers, and from
:class:`Layer` objects that stamp every outgoing message and read the stamp of every
incoming one (a Lamport clock needs nothing else). Routing is by *name*, explicit and
deterministic, so two instances of one component class can share a node (two broadcast
groups, two Raft groups):

* a message a component sends carries the component's name (in the envelope's stamps,
  under :data:`ROUTE_KEY`); on the receiving node it goes to the component of that name;
* a message without a component name (sent by the node itself, or by a plain client)
  goes to the one component whose ``messages`` list its type, else to the node's
  ``on_message``; a routed message whose component the receiver does not have goes there
  too (a client that talks to a component, say);
* before either, an incoming message passes through every layer (in the order they were
  added), each seeing its own stamp;
* a component's timer names are prefixed with ``"<component name>/"`` on the host, and
  its fires come back to the component's ``on_timer`` without the prefix;
* start order: on start (and on recovery) every component's ``on_start`` (``on_recover``)
  runs, in the order they were added, then the node's own; then, once all of them have
  run, every component's ``on_started`` and finally the node's: the hook for work that
  needs the whole node up (re-sending after a restart, say).

Example:
    >>> from dsys import Node, message
    >>> @message(name="doc:Hello")
    ... class Hello:
    ...     text: str
    >>> class Greeter(Node):
    ...     def on_start(self) -> None:
    ...         self.broadcast(Hello(f"hi from {self.id}"))
    ...     def on_message(self, src: str, msg: object) -> None:
    ...         self.log(f"{src} says {msg.text}")
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from random import Random
from typing import Any, ClassVar, Protocol, TypeVar

from dsys.core.storage import Storage
from dsys.errors import UsageError

C = TypeVar("C", bound="Component")
L = TypeVar("L", bound="Layer")


class NodeContext(Protocol):
    """What a host provides to one incarnation of a node. Protocol code never uses it
    directly; it calls the node's methods, which forward here."""

    node_id: str
    peers: tuple[str, ...]
    rng: Random
    storage: Storage
    #: True when nothing records notes (a real host without a trace file): ``note``
    #: returns at once instead of building an event nobody keeps.
    notes_dropped: bool

    def now(self) -> float:
        """The node's clock, in seconds."""
        ...

    def send(self, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        """Put ``msg`` (with the layers' ``stamps``) on the way to ``dst``."""
        ...

    def set_timer(self, name: str, delay: float) -> None:
        """Arm (or re-arm) the timer ``name`` to fire after ``delay`` seconds."""
        ...

    def cancel_timer(self, name: str) -> None:
        """Disarm the timer ``name`` if it is armed."""
        ...

    def log(self, text: str) -> None:
        """Record a log line of the node."""
        ...

    def note(self, event: str, data: dict[str, Any]) -> None:
        """Record a structured protocol-level event of the node."""
        ...


#: The stamps key that carries the name of the component that sent a message (``"@"`` keeps
#: it apart from layer names, which may not start with it).
ROUTE_KEY = "@component"

# Set by a host while it calls a node factory, so that ``self.id``, ``self.peers`` and
# friends already work inside a node's ``__init__``.
_CONSTRUCTING: ContextVar[NodeContext | None] = ContextVar("dsys_constructing", default=None)


def construct(factory: Any, ctx: NodeContext) -> Node:
    """Build a node with ``factory`` for the host context ``ctx`` (used by hosts)."""
    token = _CONSTRUCTING.set(ctx)
    try:
        node = factory()
    finally:
        _CONSTRUCTING.reset(token)
    if not isinstance(node, Node):
        raise UsageError(
            f"node factory {factory!r} returned {type(node).__name__}, not a dsys Node; "
            "pass a Node subclass (or a function returning an instance of one)"
        )
    node._ctx = ctx
    return node


class _Actor:
    """What nodes and components share: the effect methods and identity accessors."""

    _ctx: NodeContext | None

    def _context(self) -> NodeContext:
        ctx = self._ctx
        if ctx is None:
            raise UsageError(
                f"{type(self).__name__} is not running on a host yet: add it to a "
                "Simulation (sim.add_node) or run it with `dsys run`"
            )
        return ctx

    @property
    def id(self) -> str:
        """This node's id."""
        return self._context().node_id

    @property
    def peers(self) -> tuple[str, ...]:
        """The ids of the other nodes of the cluster, sorted."""
        return self._context().peers

    @property
    def now(self) -> float:
        """This node's clock, in seconds. In the simulator it may be skewed and drift."""
        return self._context().now()

    @property
    def rng(self) -> Random:
        """A random generator seeded by the host: the only randomness protocol code uses."""
        return self._context().rng

    @property
    def storage(self) -> Storage:
        """Persistent storage that survives crashes; see :class:`~dsys.core.storage.Storage`."""
        return self._context().storage

    def send(self, dst: str, msg: object) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class Node(_Actor):
    """Base class of every node. Override the ``on_*`` handlers you need.

    Subclasses may define ``__init__`` (call ``super().__init__()``); ``self.id`` and
    ``self.peers`` are available there. The host calls the node's factory (usually the
    class itself) again on every restart, so in-memory state starts fresh and only
    ``storage`` survives.
    """

    _components: dict[str, Component]
    # message type -> the one component that lists it in ``messages`` (None: several do)
    _routes: dict[type, Component | None]
    _layers: list[Layer]

    def __new__(cls, *args: Any, **kwargs: Any) -> Node:
        self = super().__new__(cls)
        self._ctx = _CONSTRUCTING.get()
        self._components = {}
        self._routes = {}
        self._layers = []
        return self

    # ----- handlers: override these -------------------------------------------------

    def on_start(self) -> None:
        """Called once when the node first starts."""

    def on_recover(self) -> None:
        """Called instead of ``on_start`` when the node restarts after a crash.

        The default calls :meth:`on_start`; override it to reload state from storage.
        """
        self.on_start()

    def on_message(self, src: str, msg: Any) -> None:
        """Called for each message delivered to this node (and not taken by a component)."""

    def on_timer(self, name: str) -> None:
        """Called when the timer ``name`` (set with :meth:`set_timer`) fires."""

    def on_started(self) -> None:
        """Called after ``on_start`` (or ``on_recover``) of the node and of every component,
        and after every component's ``on_started``: the whole node is up."""

    # ----- effects --------------------------------------------------------------------

    def send(self, dst: str, msg: object) -> None:
        """Send ``msg`` to node ``dst``. Delivery is up to the network: it may be late,
        duplicated, reordered or lost."""
        ctx = self._ctx
        if ctx is None:
            ctx = self._context()  # raises a clear error
        if self._layers:
            ctx.send(dst, msg, {layer.name: layer.stamp(dst, msg) for layer in self._layers})
        else:
            ctx.send(dst, msg, None)

    def _send_from(self, component: str, dst: str, msg: object) -> None:
        """Send ``msg`` on behalf of the component named ``component`` (routed by name)."""
        ctx = self._context()
        stamps: dict[str, Any] = {layer.name: layer.stamp(dst, msg) for layer in self._layers}
        stamps[ROUTE_KEY] = component
        ctx.send(dst, msg, stamps)

    def broadcast(self, msg: object, *, include_self: bool = False) -> None:
        """Send ``msg`` to every peer (in sorted id order), and to itself if asked."""
        for peer in self.peers:
            self.send(peer, msg)
        if include_self:
            self.send(self.id, msg)

    def set_timer(self, name: str, delay: float) -> None:
        """Arm the timer ``name`` to fire after ``delay`` seconds of this node's clock.

        Setting a timer that is already armed re-arms it (only the new deadline counts).
        """
        self._context().set_timer(name, delay)

    def cancel_timer(self, name: str) -> None:
        """Disarm the timer ``name``; does nothing if it is not armed."""
        self._context().cancel_timer(name)

    def log(self, *parts: object) -> None:
        """Write a line to the node's log (it becomes a trace event)."""
        self._context().log(" ".join(str(p) for p in parts))

    def note(self, event: str, **data: Any) -> None:
        """Record a structured, protocol-level event in the trace (kind ``"note"``).

        Checkers read these: a broadcast module notes ``note("broadcast", id=...)`` and
        ``note("deliver", id=...)``, a mutex notes ``note("enter")`` and ``note("exit")``.
        ``data`` must be JSON values.

        Example:
            >>> from dsys import Node
            >>> class Voter(Node):
            ...     def on_start(self) -> None:
            ...         self.note("voted", term=1, candidate="b")
        """
        ctx = self._context()
        if not ctx.notes_dropped:
            ctx.note(event, data)

    # ----- composition ----------------------------------------------------------------

    def add_component(self, component: C, name: str | None = None) -> C:
        """Attach ``component`` to this node under ``name`` and return it.

        ``name`` (default: the component's ``default_name``) routes the component's
        messages and namespaces its timers, so one node can hold two components of one
        class under two names. Messages that arrive without a component name (from a node
        or client that is not a component) go to the component whose ``messages`` list
        their type.
        """
        name = name or component.default_name
        if not isinstance(name, str) or not name or "/" in name:
            raise UsageError(f"component name {name!r} must be non-empty and contain no '/'")
        if name in self._components:
            raise UsageError(f"{type(self).__name__} already has a component named {name!r}")
        if getattr(component, "node", None) is not None:
            raise UsageError(f"{type(component).__name__} {component.name!r} is already part "
                             "of a node; build one component object per node")
        for msg_type in component.messages:
            # Listed by two components: an unnamed message of this type is ambiguous.
            self._routes[msg_type] = None if msg_type in self._routes else component
        component._attach(self, name)
        self._components[name] = component
        return component

    def add_layer(self, layer: L) -> L:
        """Attach a layer that stamps outgoing and reads incoming messages; returns it."""
        if not isinstance(layer.name, str) or not layer.name or layer.name.startswith("@"):
            raise UsageError(f"layer name {layer.name!r} must be a non-empty string not "
                             "starting with '@' (those stamps keys are dsys's own)")
        if any(existing.name == layer.name for existing in self._layers):
            raise UsageError(f"{type(self).__name__} already has a layer named {layer.name!r}")
        layer.node = self
        self._layers.append(layer)
        return layer

    @property
    def components(self) -> dict[str, Component]:
        """The attached components by name."""
        return dict(self._components)

    # ----- called by hosts --------------------------------------------------------------

    def _dispatch_start(self, recovered: bool) -> None:
        components = tuple(self._components.values())
        for component in components:
            component.on_recover() if recovered else component.on_start()
        self.on_recover() if recovered else self.on_start()
        for component in components:
            component.on_started()
        self.on_started()

    def _dispatch_message(self, src: str, msg: Any, stamps: dict[str, Any] | None) -> None:
        for layer in self._layers:
            layer.on_receive(src, msg, stamps.get(layer.name) if stamps else None)
        if self._components:
            route = stamps.get(ROUTE_KEY) if stamps else None
            component = self._components.get(route) if route is not None else None
            if component is None and self._routes:
                kind = type(msg)
                component = self._routes.get(kind)
                if component is None and kind in self._routes:
                    names = [c.name for c in self._components.values() if kind in c.messages]
                    raise UsageError(
                        f"{src} sent {kind.__name__} to {self.id} with no component name, and "
                        f"components {', '.join(map(repr, names))} all handle that type; send "
                        "it from a component (component.send), or take it in on_message"
                    )
            if component is not None:
                component.on_message(src, msg)
                return
        self.on_message(src, msg)

    def _dispatch_timer(self, name: str) -> None:
        if self._components and "/" in name:
            prefix, _, rest = name.partition("/")
            component = self._components.get(prefix)
            if component is not None:
                component.on_timer(rest)
                return
        self.on_timer(name)

    def __repr__(self) -> str:
        ctx = self._ctx
        return f"<{type(self).__name__} {ctx.node_id if ctx else '(not started)'}>"


class Component(_Actor):
    """A piece of a node with its own name, messages and timers.

    Subclasses override the ``on_*`` handlers; messages the component sends come back to
    the component of the same name on the receiving node. ``messages`` lists the types it
    also takes when they arrive without a component name (from a client, say).
    ``self.node`` is the node it is attached to; effects go through it (and so through
    its layers). ``self.id``, ``self.peers``, ``self.rng`` and ``self.storage`` work from
    ``__init__`` on when the component is built inside its node's ``__init__``.

    Example:
        >>> from dsys import Component, Node, message
        >>> @message(name="doc:Beat")
        ... class Beat:
        ...     pass
        >>> class Heartbeats(Component):
        ...     messages = (Beat,)
        ...     default_name = "hb"
        ...     def on_start(self) -> None:
        ...         self.set_timer("beat", 0.1)     # the host sees "hb/beat"
        ...     def on_timer(self, name: str) -> None:
        ...         self.send_to_peers(Beat())
        ...         self.set_timer("beat", 0.1)
        >>> class Server(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.heartbeats = self.add_component(Heartbeats())
    """

    messages: ClassVar[tuple[type, ...]] = ()
    default_name: ClassVar[str] = ""
    _named_explicitly: ClassVar[bool] = False

    node: Node
    name: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A class names itself after itself unless it, or a parent, chose a name on purpose
        # (so a subclass of a Mutex, e.g. a lab mutant, is still "mutex").
        if cls.__dict__.get("default_name"):
            cls._named_explicitly = True
        elif not getattr(cls, "_named_explicitly", False):
            cls.default_name = cls.__name__.lower()

    def _attach(self, node: Node, name: str) -> None:
        self.node = node
        self.name = name

    @property
    def _ctx(self) -> NodeContext | None:  # type: ignore[override]
        node = getattr(self, "node", None)
        # Not attached yet: inside a node's __init__, the host's context is known already.
        return _CONSTRUCTING.get() if node is None else node._ctx

    def _context(self) -> NodeContext:
        ctx = self._ctx
        if ctx is None:
            raise UsageError(
                f"{type(self).__name__} is not part of a running node: self.id, self.peers, "
                "self.now, self.rng and self.storage work once the component is built inside "
                "a node's __init__ (or attached with node.add_component) and that node runs "
                "on a host"
            )
        return ctx

    def on_start(self) -> None:
        """Called when the node starts, before the node's own ``on_start``."""

    def on_recover(self) -> None:
        """Called when the node restarts after a crash; defaults to :meth:`on_start`."""
        self.on_start()

    def on_message(self, src: str, msg: Any) -> None:
        """Called for each delivered message whose type is listed in ``messages``."""

    def on_timer(self, name: str) -> None:
        """Called when one of this component's timers fires (name without prefix)."""

    def on_started(self) -> None:
        """Called once the node and all its components have run ``on_start`` (or
        ``on_recover``): the place for work that needs the whole node up."""

    def send(self, dst: str, msg: object) -> None:
        """Send ``msg`` to the component of the same name on node ``dst`` (through the
        node's layers)."""
        self.node._send_from(self.name, dst, msg)

    def send_to_peers(self, msg: object, *, include_self: bool = False) -> None:
        """Send ``msg`` to this component on every peer (sorted), and on itself if asked."""
        for peer in self.peers:
            self.send(peer, msg)
        if include_self:
            self.send(self.id, msg)

    def set_timer(self, name: str, delay: float) -> None:
        """Arm this component's timer ``name`` (namespaced on the node)."""
        self.node.set_timer(f"{self.name}/{name}", delay)

    def cancel_timer(self, name: str) -> None:
        """Disarm this component's timer ``name``."""
        self.node.cancel_timer(f"{self.name}/{name}")

    def log(self, *parts: object) -> None:
        """Log a line, prefixed with the component's name."""
        self.node.log(f"[{self.name}]", *parts)

    def note(self, event: str, **data: Any) -> None:
        """Record a protocol-level trace event (see :meth:`Node.note`), tagged with
        ``component``: this component's name."""
        node = self.node
        ctx = node._ctx
        if ctx is not None and ctx.notes_dropped:
            return
        node.note(event, component=self.name, **data)


class Layer:
    """Stamps every outgoing message of a node and reads every incoming stamp.

    ``stamp`` returns a JSON value carried beside the message under the layer's ``name``;
    ``on_receive`` sees that value (or None if the sender had no such layer) before the
    message reaches any handler. Protocol code does not change.

    Example: a Lamport clock (Lamport 1978, rules IR1 and IR2).

        >>> from dsys import Layer
        >>> class Lamport(Layer):
        ...     name = "lamport"
        ...     def __init__(self) -> None:
        ...         self.time = 0
        ...     def stamp(self, dst: str, msg: object) -> int:
        ...         self.time += 1
        ...         return self.time
        ...     def on_receive(self, src: str, msg: object, stamp: int | None) -> None:
        ...         self.time = max(self.time, stamp or 0) + 1
    """

    name: ClassVar[str] = ""
    node: Node
    _named_explicitly: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # As for components: a chosen name is inherited (a broken LamportLayer in a test
        # still stamps as "lamport"); otherwise the class is named after itself.
        if cls.__dict__.get("name"):
            cls._named_explicitly = True
        elif not cls._named_explicitly:
            cls.name = cls.__name__.lower()

    def stamp(self, dst: str, msg: object) -> Any:
        """The stamp to carry with ``msg`` to ``dst`` (a JSON value)."""
        return None

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        """Read the stamp that came with ``msg`` (None if the sender had none)."""


def sorted_ids(ids: Iterable[str]) -> tuple[str, ...]:
    """Node ids in the canonical (sorted) order used everywhere for determinism."""
    return tuple(sorted(ids))


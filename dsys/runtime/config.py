"""The cluster file: which nodes exist, where they listen, and how they talk.

A cluster file is TOML. Only ``[nodes]`` is required::

    [cluster]
    transport = "tcp"          # "tcp" (default) or "udp"
    codec = "json"             # "json" (default) or "msgpack" (pip install 'dsys[msgpack]')
    secret_file = "cluster.secret" # authenticate every frame (HMAC-SHA256) with the secret
    # secret = "..."           # in this file (16 bytes at least); either one, or none
    max_frame = 1048576        # bytes; bigger frames are refused before they are read
    send_queue = 1024          # frames queued per peer before new ones are dropped
    replay_window = 1024       # how far out of order an authenticated frame may arrive
    # Optional TCP bounds, the fields of dsys.runtime.transport.Limits (defaults there):
    # max_connections, max_connections_per_address, first_frame_timeout (seconds),
    # idle_timeout (seconds), send_queue_bytes, max_queued_bytes

    [nodes]
    a = "127.0.0.1:7001"
    b = { address = "127.0.0.1:7002", target = "app.py:Ponger" }
    c = { address = "10.0.0.3:7003", bind = "0.0.0.0:7003" }

    [clients]                  # optional: clients with a fixed address
    alice = "127.0.0.1:7100"

A node *listens* on its own address (so a loopback address keeps it on this machine) unless
``bind`` says otherwise; peers *connect* to ``address``. A secret is optional on loopback
only: ``dsys run`` refuses a cluster without one that listens anywhere else, unless told
``--insecure`` (see :meth:`ClusterConfig.check_secure`). ``target`` names the node's
factory for ``dsys cluster up`` (a path relative to the cluster file, or a module).
Every mistake is reported as one :class:`~dsys.errors.ConfigError` line that names the
file and the key.

Example:
    >>> from dsys.runtime.config import parse_cluster
    >>> cluster = parse_cluster('''
    ... [nodes]
    ... a = "127.0.0.1:7001"
    ... b = "127.0.0.1:7002"
    ... ''')
    >>> cluster.transport, cluster.node_ids, cluster.peers_of("a")
    ('tcp', ('a', 'b'), ('b',))
    >>> cluster.nodes["b"].address
    '127.0.0.1:7002'
"""

from __future__ import annotations

import ipaddress
import math
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.gen import AttributeOverride, make_dict_structure_fn, override

from dsys.core.rules import check_node_id
from dsys.errors import ConfigError, UsageError

#: Frames larger than this (in bytes) are refused unless the cluster file says otherwise.
DEFAULT_MAX_FRAME = 1 << 20
#: The largest UDP payload over IPv4: a UDP frame can never be bigger than this.
UDP_MAX_DATAGRAM = 65507
#: The shortest secret accepted, in bytes (a short one can be guessed offline from one
#: recorded frame).
MIN_SECRET = 16

TRANSPORTS = ("tcp", "udp")
CODECS = ("json", "msgpack")
#: The ``[cluster]`` keys that set a field of :class:`dsys.runtime.transport.Limits`
#: (``send_queue``, always set, is one too).
LIMIT_KEYS = ("max_connections", "max_connections_per_address", "first_frame_timeout",
              "idle_timeout", "send_queue_bytes", "max_queued_bytes")



@attrs.frozen
class Endpoint:
    """One node or client of the cluster file: where peers reach it, where it listens."""

    id: str
    host: str
    port: int
    bind_host: str
    bind_port: int
    target: str | None = None

    @property
    def address(self) -> str:
        """``host:port`` as peers dial it (IPv6 hosts in brackets)."""
        return _join(self.host, self.port)

    @property
    def bind_address(self) -> str:
        """``host:port`` this endpoint listens on."""
        return _join(self.bind_host, self.bind_port)


@attrs.frozen(kw_only=True)
class ClusterConfig:
    """A parsed, validated cluster file (see the module docstring for the format).

    Build one with :func:`load_cluster` (from a file) or :func:`parse_cluster` (from text).
    """

    nodes: Mapping[str, Endpoint]
    clients: Mapping[str, Endpoint] = attrs.field(factory=dict)
    transport: str = "tcp"
    codec: str = "json"
    # repr=False: a config printed in a log or a test failure must not leak the secret.
    secret: bytes | None = attrs.field(default=None, repr=False)
    max_frame: int = DEFAULT_MAX_FRAME
    send_queue: int = 1024
    replay_window: int = 1024
    #: The TCP limits the file sets (a :data:`LIMIT_KEYS` name -> its value); the others
    #: keep the defaults of :class:`dsys.runtime.transport.Limits`.
    limits: Mapping[str, float] = attrs.field(factory=dict)
    source: str = "<cluster>"
    base_dir: Path | None = None
    #: Problems worth a warning that do not stop the cluster (a secret file others can read).
    warnings: tuple[str, ...] = ()

    @property
    def node_ids(self) -> tuple[str, ...]:
        """Every node id, sorted."""
        return tuple(sorted(self.nodes))

    def peers_of(self, node_id: str) -> tuple[str, ...]:
        """The other nodes (what ``node.peers`` is on ``node_id``), sorted."""
        return tuple(n for n in self.node_ids if n != node_id)

    def node(self, node_id: str) -> Endpoint:
        """The endpoint of node ``node_id`` (a one-line error if there is no such node)."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise UsageError(
                f"{self.source} has no node {node_id!r}; its nodes are: "
                f"{', '.join(self.node_ids)}"
            ) from None

    def endpoints(self) -> dict[str, Endpoint]:
        """Every endpoint with a fixed address: nodes and listed clients."""
        return {**self.nodes, **self.clients}

    def check_client_id(self, client_id: object) -> str:
        """``client_id`` if a client may use it: a valid id that is not a node's (listed
        under ``[clients]``, or ephemeral); else a one-line :class:`ConfigError`."""
        client_id = check_node_id(client_id)
        if client_id in self.nodes:
            raise ConfigError(f"client id {client_id!r} is a node of {self.source}; give the "
                              "client its own id (listed under [clients], or any other)")
        return client_id

    @property
    def frame_limit(self) -> int:
        """The largest frame this cluster sends or accepts, in bytes (UDP caps it)."""
        if self.transport == "udp":
            return min(self.max_frame, UDP_MAX_DATAGRAM)
        return self.max_frame

    @property
    def on_loopback(self) -> bool:
        """True if every endpoint listens on a loopback address (this machine only)."""
        return all(_is_loopback(e.bind_host) for e in self.endpoints().values())

    def check_secure(self, *, insecure: bool = False) -> tuple[str, ...]:
        """What to tell the user about this cluster's security before running it, one line
        each; a :class:`ConfigError` if it should not run at all.

        Without a secret, a cluster on loopback gets a note; one that listens beyond this
        machine is refused unless ``insecure`` (``dsys run --insecure``), and then gets a
        loud warning. :attr:`warnings` (a secret file others can read) come first.

        >>> cluster = parse_cluster('[nodes]\\na = "10.0.0.1:7001"', source="c.toml")
        >>> cluster.check_secure()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dsys.errors.ConfigError: c.toml has no secret, and listens beyond this machine (a on ...
        >>> warning, = cluster.check_secure(insecure=True)
        >>> warning.startswith("WARNING: running WITHOUT A SECRET (--insecure)")
        True
        """
        if self.secret is not None:
            return self.warnings
        if self.on_loopback:
            return (*self.warnings, "note: no secret, so frames are not authenticated: fine on "
                                    "loopback (only this machine can reach the nodes); set "
                                    "secret_file in [cluster] before using a network")
        exposed = ", ".join(f"{e.id} on {e.bind_address}"
                            for e in self.endpoints().values() if not _is_loopback(e.bind_host))
        if not insecure:
            raise ConfigError(
                f"{self.source} has no secret, and listens beyond this machine ({exposed}): "
                "anyone who can reach those ports could send any message as any node. Set "
                "secret_file in [cluster] (see the how-to 'Run a cluster on several "
                "machines'), or pass --insecure to run open anyway")
        return (*self.warnings,
                f"WARNING: running WITHOUT A SECRET (--insecure) beyond this machine "
                f"({exposed}): anyone who can reach those ports can send any message as any "
                "node, and read what the nodes send")

    def target_of(self, node_id: str) -> str | None:
        """The ``target`` the file gives ``node_id``, resolved against the file's folder."""
        target = self.node(node_id).target
        if target is None or self.base_dir is None:
            return target
        file_part, sep, factory = target.rpartition(":")
        if sep and (file_part.endswith(".py") or "/" in file_part):
            path = Path(file_part)
            if not path.is_absolute():
                return f"{self.base_dir / path}:{factory}"
        return target


def load_cluster(path: str | os.PathLike[str]) -> ClusterConfig:
    """Read and validate the cluster file at ``path``.

    Raises :class:`~dsys.errors.ConfigError` (one line, naming the file) for any problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"cluster file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read cluster file {path}: {exc}") from None
    return parse_cluster(text, source=str(path), base_dir=path.resolve().parent)


def parse_cluster(text: str, *, source: str = "<cluster>",
                  base_dir: Path | None = None) -> ClusterConfig:
    """Parse and validate cluster-file ``text`` (``source`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return cluster_from_mapping(data, source=source, base_dir=base_dir)


def cluster_from_mapping(data: Mapping[str, Any], *, source: str = "<cluster>",
                         base_dir: Path | None = None) -> ClusterConfig:
    """Validate an already-parsed cluster file (a dict shaped like the TOML)."""
    try:
        written = _CONVERTER.structure(data, _ClusterFile)
        secret, warnings = _read_secret(written.cluster, base_dir)
        _check_unique(written)
    except _Invalid as problem:
        raise ConfigError(f"{source}: {problem}") from None
    settings = written.cluster
    return ClusterConfig(
        nodes=_endpoints(written.nodes), clients=_endpoints(written.clients),
        transport=settings.transport, codec=settings.codec, secret=secret,
        max_frame=settings.max_frame, send_queue=settings.send_queue,
        replay_window=settings.replay_window,
        limits={key: getattr(settings, key) for key in LIMIT_KEYS
                if getattr(settings, key) is not None},
        source=source, base_dir=base_dir,
        warnings=tuple(warnings),
    )


def split_address(text: str) -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``) to ``(host, port)``; ValueError if malformed."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"{text!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: put an IPv6 address in brackets, like [::1]:7001")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: the port must be between 1 and 65535")
    return host, port


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ----- reading the file ----------------------------------------------------------------
#
# Rules of this part: cattrs structures the TOML into the classes below (the file as
# written), with one converter. Every check of one value lives in that value's structure
# hook; every rule across values (unique ids and addresses, the secret) lives in a
# function that cluster_from_mapping calls after. A problem is raised as _Invalid, one
# line naming the table and the key; cluster_from_mapping adds the file's name.


class _Invalid(Exception):
    """One mistake in a cluster file, in one line (without the file's name)."""


@attrs.frozen(kw_only=True)
class _Settings:
    """The ``[cluster]`` table, as written."""

    transport: str = "tcp"
    codec: str = "json"
    secret: str | None = None
    secret_file: str | None = None
    max_frame: int = DEFAULT_MAX_FRAME
    send_queue: int = 1024
    replay_window: int = 1024
    max_connections: int | None = None
    max_connections_per_address: int | None = None
    first_frame_timeout: float | None = None
    idle_timeout: float | None = None
    send_queue_bytes: int | None = None
    max_queued_bytes: int | None = None


@attrs.frozen(kw_only=True)
class _EndpointSpec:
    """One entry of ``[nodes]`` or ``[clients]``, as written (addresses split)."""

    address: tuple[str, int]
    bind: tuple[str, int] | None = None
    target: str | None = None


@attrs.frozen(kw_only=True)
class _ClusterFile:
    """The whole cluster file, as written."""

    cluster: _Settings = _Settings()
    nodes: dict[str, _EndpointSpec]
    clients: dict[str, _EndpointSpec] = attrs.field(factory=dict)


_CLUSTER_KEYS = sorted(a.name for a in attrs.fields(_Settings))
_ENDPOINT_KEYS = sorted(a.name for a in attrs.fields(_EndpointSpec))
_CONVERTER = cattrs.Converter(forbid_extra_keys=True, detailed_validation=False)


def _table(cls: type, *, not_a_table: str, unknown: Callable[[list[str]], str],
           missing: Mapping[str, str], shorthand: str | None = None,
           **fields: AttributeOverride) -> None:
    """Register the hook structuring the table ``cls`` (``fields``: its values' hooks)."""
    known = {a.name for a in attrs.fields(cls)}
    overrides: dict[str, Any] = fields  # (typed loosely: they are keyword arguments)
    structure_fields: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls, _CONVERTER, **overrides)

    def structure(value: Any, _: Any) -> Any:
        if shorthand is not None and isinstance(value, str):
            value = {shorthand: value}  # a = "host:port" means a = { address = "host:port" }
        if not isinstance(value, Mapping):
            raise _Invalid(not_a_table)
        # Unknown keys first (cattrs would find them last): a misspelt key explains more
        # than the default its value did not replace.
        extra = set(value) - known
        if extra:
            raise _Invalid(unknown(sorted(map(str, extra))))
        try:
            return structure_fields(value, cls)
        except KeyError as exc:  # a required key is absent
            raise _Invalid(missing.get(str(exc.args[0]), f"needs {exc.args[0]}")) from None

    _CONVERTER.register_structure_hook(cls, structure)


def _one_of(key: str, choices: tuple[str, ...]) -> AttributeOverride:
    def structure(value: Any, _: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _Invalid(f"[cluster] {key} must be one of {', '.join(choices)}, "
                           f"got {value!r}")
        return value

    return override(struct_hook=structure)


def _integer(key: str, minimum: int = 1, maximum: int | None = None) -> AttributeOverride:
    def structure(value: Any, _: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"[cluster] {key} must be an integer >= {minimum}, got {value!r}")
        if maximum is not None and value > maximum:
            raise _Invalid(f"[cluster] {key} must be at most {maximum}, got {value}")
        return value

    return override(struct_hook=structure)


def _seconds(key: str) -> AttributeOverride:
    def structure(value: Any, _: Any) -> float:
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not 0 < value < math.inf):
            raise _Invalid(f"[cluster] {key} must be a positive number of seconds, "
                           f"got {value!r}")
        return value

    return override(struct_hook=structure)


def _text(check: Callable[[Any], bool], problem: str) -> AttributeOverride:
    def structure(value: Any, _: Any) -> Any:
        if not check(value):
            raise _Invalid(problem.format(value=value))
        return value

    return override(struct_hook=structure)


def _host_port(value: str) -> tuple[str, int]:
    try:
        return split_address(value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _address(value: Any, _: Any) -> tuple[str, int]:
    if not isinstance(value, str):
        raise _Invalid('needs an address = "host:port"')
    host, port = _host_port(value)
    if host in ("0.0.0.0", "::"):
        raise _Invalid(f"peers cannot dial {host}; give the machine's address as address "
                       f'and bind = "{_join(host, port)}" to listen everywhere')
    return host, port


def _bind(value: Any, _: Any) -> tuple[str, int]:
    if not isinstance(value, str):
        raise _Invalid(f'bind must be "host:port", got {value!r}')
    return _host_port(value)


def _endpoint_table(name: str) -> AttributeOverride:
    """The hook of ``[nodes]`` or ``[clients]``: each id checked, each entry structured,
    and a problem prefixed with where it is (``[nodes] a: ...``)."""

    def structure(value: Any, _: Any) -> dict[str, _EndpointSpec]:
        if not isinstance(value, Mapping):
            raise _Invalid(f'[{name}] must be a table of  id = "host:port"')
        found = {}
        for endpoint_id, spec in value.items():
            where = f"[{name}] {endpoint_id}"
            try:
                check_node_id(endpoint_id)
                found[endpoint_id] = _CONVERTER.structure(spec, _EndpointSpec)
            except (_Invalid, ConfigError) as exc:
                raise _Invalid(f"{where}: {exc}") from None
            if name == "clients" and found[endpoint_id].target is not None:
                raise _Invalid(f"{where}: clients have no target")
        if name == "nodes" and not found:
            raise _Invalid("[nodes] is empty: list at least one node")
        return found

    return override(struct_hook=structure)


_table(
    _Settings, not_a_table="[cluster] must be a table",
    unknown=lambda keys: f"unknown key(s) {keys} in [cluster]; known keys: "
                         f"{', '.join(_CLUSTER_KEYS)}",
    missing={},
    transport=_one_of("transport", TRANSPORTS),
    codec=_one_of("codec", CODECS),
    secret=_text(lambda v: isinstance(v, str), "[cluster] secret must be a string"),
    secret_file=_text(lambda v: isinstance(v, str) and v != "",
                      "[cluster] secret_file must be a file name"),
    max_frame=_integer("max_frame", minimum=64),
    send_queue=_integer("send_queue"),
    replay_window=_integer("replay_window", maximum=1 << 16),
    max_connections=_integer("max_connections"),
    max_connections_per_address=_integer("max_connections_per_address"),
    first_frame_timeout=_seconds("first_frame_timeout"),
    idle_timeout=_seconds("idle_timeout"),
    send_queue_bytes=_integer("send_queue_bytes"),
    max_queued_bytes=_integer("max_queued_bytes"),
)
_table(
    _EndpointSpec, shorthand="address",
    not_a_table='expected "host:port" or a table with address, bind, target',
    unknown=lambda keys: f"unknown key(s) {keys}; known: {', '.join(_ENDPOINT_KEYS)}",
    missing={"address": 'needs an address = "host:port"'},
    address=override(struct_hook=_address),
    bind=override(struct_hook=_bind),
    target=_text(lambda v: isinstance(v, str) and ":" in v,
                 'target must look like "app.py:Factory" or "package.module:Factory", '
                 "got {value!r}"),
)
_table(
    _ClusterFile, not_a_table="a cluster file is a table of tables",
    unknown=lambda keys: f"unknown table(s) {keys}; a cluster file has [cluster], [nodes] "
                         "and [clients]",
    missing={"nodes": 'no [nodes] table: list each node as  id = "host:port"'},
    nodes=_endpoint_table("nodes"),
    clients=_endpoint_table("clients"),
)


def _read_secret(settings: _Settings, base_dir: Path | None) -> tuple[bytes | None, list[str]]:
    """The secret (or None) and warnings about it."""
    if settings.secret is not None and settings.secret_file is not None:
        raise _Invalid("[cluster] give either secret or secret_file, not both")
    warnings = []
    if settings.secret_file is not None:
        path = Path(settings.secret_file)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as exc:
            raise _Invalid(f"[cluster] cannot read secret_file {path}: {exc}") from None
        if os.name == "posix" and mode & stat.S_IROTH:
            warnings.append(f"WARNING: the secret file {path} is readable by every user of "
                            f"this machine (mode {stat.S_IMODE(mode):o}); chmod 600 {path}")
    elif settings.secret is not None:
        text = settings.secret
    else:
        return None, warnings
    if not text:
        raise _Invalid("[cluster] the secret is empty; remove it or set a long random string")
    secret = text.encode("utf-8")
    if len(secret) < MIN_SECRET:
        raise _Invalid(f"[cluster] the secret is {len(secret)} bytes, shorter than "
                       f"{MIN_SECRET}: use a long random string, e.g. the output of "
                       "python -c \"import secrets; print(secrets.token_urlsafe(32))\"")
    return secret, warnings


def _check_unique(written: _ClusterFile) -> None:
    """Ids are unique across nodes and clients, and so are addresses."""
    for client_id in written.clients:
        if client_id in written.nodes:
            raise _Invalid(f"{client_id!r} is both a node and a client; ids must be unique")
    seen: dict[tuple[str, int], str] = {}
    for endpoint_id, spec in [*written.nodes.items(), *written.clients.items()]:
        if spec.address in seen:
            raise _Invalid(f"{seen[spec.address]} and {endpoint_id} have the same address "
                           f"{_join(*spec.address)}")
        seen[spec.address] = endpoint_id


def _endpoints(specs: Mapping[str, _EndpointSpec]) -> dict[str, Endpoint]:
    found = {}
    for endpoint_id, spec in sorted(specs.items()):
        host, port = spec.address
        bind_host, bind_port = spec.bind or spec.address
        found[endpoint_id] = Endpoint(endpoint_id, host, port, bind_host, bind_port,
                                      spec.target)
    return found

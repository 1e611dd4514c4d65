"""The cluster file: which nodes exist, where they listen, and how they talk.

A cluster file is TOML. Only ``[nodes]`` is required::

    [cluster]
    transport = "tcp"          # "tcp" (default) or "udp"
    codec = "json"             # "json" (default) or "msgpack" (pip install 'dsys[msgpack]')
    secret = "change-me"       # optional: authenticate every frame (HMAC-SHA256)
    # secret_file = "secret.txt"   # or read the secret from a file (relative to this file)
    max_frame = 1048576        # bytes; bigger frames are refused before they are read
    send_queue = 1024          # frames queued per peer before new ones are dropped
    replay_window = 1024       # how far out of order an authenticated frame may arrive

    [nodes]
    a = "127.0.0.1:7001"
    b = { address = "127.0.0.1:7002", target = "app.py:Ponger" }
    c = { address = "10.0.0.3:7003", bind = "0.0.0.0:7003" }

    [clients]                  # optional: clients with a fixed address
    alice = "127.0.0.1:7100"

A node *listens* on its own address (so a loopback address keeps it on this machine) unless
``bind`` says otherwise; peers *connect* to ``address``. ``target`` names the node's
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
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from dsys.errors import ConfigError, UsageError

#: Frames larger than this (in bytes) are refused unless the cluster file says otherwise.
DEFAULT_MAX_FRAME = 1 << 20
#: The largest UDP payload over IPv4: a UDP frame can never be bigger than this.
UDP_MAX_DATAGRAM = 65507

TRANSPORTS = ("tcp", "udp")
CODECS = ("json", "msgpack")

_CLUSTER_KEYS = {"transport", "codec", "secret", "secret_file", "max_frame", "send_queue",
                 "replay_window"}
_ENDPOINT_KEYS = {"address", "bind", "target"}


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
    source: str = "<cluster>"
    base_dir: Path | None = None

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

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{source}: {problem}")

    unknown = set(data) - {"cluster", "nodes", "clients"}
    if unknown:
        raise fail(f"unknown table(s) {sorted(unknown)}; a cluster file has [cluster], "
                   "[nodes] and [clients]")
    settings = data.get("cluster", {})
    if not isinstance(settings, Mapping):
        raise fail("[cluster] must be a table")
    unknown = set(settings) - _CLUSTER_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)} in [cluster]; known keys: "
                   f"{', '.join(sorted(_CLUSTER_KEYS))}")

    transport = settings.get("transport", "tcp")
    if transport not in TRANSPORTS:
        raise fail(f"[cluster] transport must be one of {', '.join(TRANSPORTS)}, "
                   f"got {transport!r}")
    codec = settings.get("codec", "json")
    if codec not in CODECS:
        raise fail(f"[cluster] codec must be one of {', '.join(CODECS)}, got {codec!r}")
    secret = _secret(settings, fail, base_dir)
    max_frame = _positive_int(settings, "max_frame", DEFAULT_MAX_FRAME, fail, minimum=64)
    send_queue = _positive_int(settings, "send_queue", 1024, fail)
    replay_window = _positive_int(settings, "replay_window", 1024, fail)
    if replay_window > 1 << 16:
        raise fail(f"[cluster] replay_window must be at most {1 << 16}, got {replay_window}")

    if "nodes" not in data:
        raise fail('no [nodes] table: list each node as  id = "host:port"')
    nodes = _endpoints(data["nodes"], "nodes", fail)
    if not nodes:
        raise fail("[nodes] is empty: list at least one node")
    clients = _endpoints(data.get("clients", {}), "clients", fail)
    for client_id in clients:
        if client_id in nodes:
            raise fail(f"{client_id!r} is both a node and a client; ids must be unique")
        if clients[client_id].target is not None:
            raise fail(f"[clients] {client_id}: clients have no target")
    seen: dict[tuple[str, int], str] = {}
    for endpoint in [*nodes.values(), *clients.values()]:
        key = (endpoint.host, endpoint.port)
        if key in seen:
            raise fail(f"{seen[key]} and {endpoint.id} have the same address "
                       f"{endpoint.address}")
        seen[key] = endpoint.id
    return ClusterConfig(
        nodes=dict(sorted(nodes.items())), clients=dict(sorted(clients.items())),
        transport=transport, codec=codec, secret=secret, max_frame=max_frame,
        send_queue=send_queue, replay_window=replay_window, source=source, base_dir=base_dir,
    )


def check_node_id(node_id: object) -> str:
    """Validate an id as the simulator does: a non-empty string without ``/``."""
    if not isinstance(node_id, str) or not node_id or "/" in node_id or not node_id.isprintable():
        raise ConfigError(f"ids must be non-empty printable strings without '/', got {node_id!r}")
    return node_id


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


def _endpoints(table: Any, name: str, fail: Any) -> dict[str, Endpoint]:
    if not isinstance(table, Mapping):
        raise fail(f"[{name}] must be a table of  id = \"host:port\"")
    found = {}
    for endpoint_id, spec in table.items():
        where = f"[{name}] {endpoint_id}"
        try:
            check_node_id(endpoint_id)
        except ConfigError as exc:
            raise fail(f"{where}: {exc}") from None
        if isinstance(spec, str):
            spec = {"address": spec}
        if not isinstance(spec, Mapping):
            raise fail(f'{where}: expected "host:port" or a table with address, bind, target')
        unknown = set(spec) - _ENDPOINT_KEYS
        if unknown:
            raise fail(f"{where}: unknown key(s) {sorted(unknown)}; known: "
                       f"{', '.join(sorted(_ENDPOINT_KEYS))}")
        if not isinstance(spec.get("address"), str):
            raise fail(f'{where}: needs an address = "host:port"')
        try:
            host, port = split_address(spec["address"])
            bind_host, bind_port = split_address(spec.get("bind", spec["address"]))
        except ValueError as exc:
            raise fail(f"{where}: {exc}") from None
        if host in ("0.0.0.0", "::"):
            raise fail(f"{where}: peers cannot dial {host}; give the machine's address as "
                       f'address and bind = "{_join(host, port)}" to listen everywhere')
        target = spec.get("target")
        if target is not None and (not isinstance(target, str) or ":" not in target):
            raise fail(f'{where}: target must look like "app.py:Factory" or '
                       f'"package.module:Factory", got {target!r}')
        found[endpoint_id] = Endpoint(endpoint_id, host, port, bind_host, bind_port, target)
    return found


def _positive_int(settings: Mapping[str, Any], key: str, default: int, fail: Any, *,
                  minimum: int = 1) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise fail(f"[cluster] {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _secret(settings: Mapping[str, Any], fail: Any, base_dir: Path | None) -> bytes | None:
    if "secret" in settings and "secret_file" in settings:
        raise fail("[cluster] give either secret or secret_file, not both")
    if "secret_file" in settings:
        name = settings["secret_file"]
        if not isinstance(name, str) or not name:
            raise fail("[cluster] secret_file must be a file name")
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"[cluster] cannot read secret_file {path}: {exc}") from None
    elif "secret" in settings:
        text = settings["secret"]
        if not isinstance(text, str):
            raise fail("[cluster] secret must be a string")
    else:
        return None
    if not text:
        raise fail("[cluster] the secret is empty; remove it or set a long random string")
    return text.encode("utf-8")

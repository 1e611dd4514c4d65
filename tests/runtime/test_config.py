"""The cluster file: what it accepts, and a clear one-line error for everything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsys.errors import ConfigError, UsageError
from dsys.runtime import load_cluster, parse_cluster
from dsys.runtime.transport import DEFAULT_LIMITS, TcpTransport, cluster_limits, make_transport

GOOD = """
[cluster]
transport = "udp"
codec = "json"
secret = "s3cret-s3cret-s3cret"
max_frame = 4096
send_queue = 16

[nodes]
b = "127.0.0.1:7002"
a = { address = "127.0.0.1:7001", target = "app.py:Pinger" }
c = { address = "[::1]:7003", bind = "[::]:7003" }

[clients]
alice = "127.0.0.1:7100"
"""


def test_a_full_file_is_read_into_a_config() -> None:
    cluster = parse_cluster(GOOD, source="good.toml")
    assert cluster.transport == "udp" and cluster.codec == "json"
    assert cluster.secret == b"s3cret-s3cret-s3cret" and "s3cret" not in repr(cluster)
    assert cluster.node_ids == ("a", "b", "c") and cluster.peers_of("b") == ("a", "c")
    assert cluster.nodes["c"].host == "::1" and cluster.nodes["c"].address == "[::1]:7003"
    assert cluster.nodes["c"].bind_address == "[::]:7003"
    assert cluster.nodes["a"].bind_address == "127.0.0.1:7001"  # binds where it is reached
    assert cluster.frame_limit == 4096 and cluster.send_queue == 16
    assert set(cluster.endpoints()) == {"a", "b", "c", "alice"}
    assert not cluster.on_loopback  # c listens on every interface


def test_defaults_are_tcp_json_loopback_one_mebibyte() -> None:
    cluster = parse_cluster('[nodes]\na = "127.0.0.1:7001"')
    assert (cluster.transport, cluster.codec, cluster.secret) == ("tcp", "json", None)
    assert cluster.max_frame == 1 << 20 and cluster.on_loopback


def test_the_connection_limits_are_optional_cluster_keys() -> None:
    cluster = parse_cluster('[cluster]\nmax_connections = 8\nidle_timeout = 2.5\n'
                            'first_frame_timeout = 1\nmax_queued_bytes = 65536\n'
                            'send_queue = 16\n[nodes]\na = "127.0.0.1:7001"')
    assert cluster.limits == {"max_connections": 8, "idle_timeout": 2.5,
                              "first_frame_timeout": 1, "max_queued_bytes": 65536}
    limits = cluster_limits(cluster)
    assert (limits.max_connections, limits.idle_timeout, limits.first_frame_timeout,
            limits.max_queued_bytes, limits.send_queue) == (8, 2.5, 1, 65536, 16)
    assert limits.max_connections_per_address == DEFAULT_LIMITS.max_connections_per_address
    transport = make_transport(cluster, "a")
    assert isinstance(transport, TcpTransport) and transport.limits == limits
    # Without the keys, the defaults are unchanged.
    plain = parse_cluster('[nodes]\na = "127.0.0.1:7001"')
    assert plain.limits == {}
    assert cluster_limits(plain) == DEFAULT_LIMITS


def test_udp_caps_the_frame_limit_at_one_datagram() -> None:
    cluster = parse_cluster('[cluster]\ntransport = "udp"\n[nodes]\na = "127.0.0.1:1"')
    assert cluster.frame_limit == 65507


def test_targets_and_secret_files_are_relative_to_the_cluster_file(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("from-a-file-0123456789\n")
    path = tmp_path / "cluster.toml"
    path.write_text('[cluster]\nsecret_file = "secret.txt"\n[nodes]\n'
                    'a = { address = "127.0.0.1:7001", target = "app.py:Node" }\n'
                    'b = { address = "127.0.0.1:7002", target = "pkg.mod:Node" }\n')
    cluster = load_cluster(path)
    assert cluster.secret == b"from-a-file-0123456789"
    assert cluster.target_of("a") == f"{tmp_path / 'app.py'}:Node"
    assert cluster.target_of("b") == "pkg.mod:Node"


@pytest.mark.parametrize(("text", "expected"), [
    ("[nodes", "not valid TOML"),
    ("[cluster]\ntransport = 'tcp'", "no [nodes] table"),
    ("[nodes]", "[nodes] is empty"),
    ("[nodes]\na = '127.0.0.1'", "is not host:port"),
    ("[nodes]\na = '127.0.0.1:99999'", "between 1 and 65535"),
    ("[nodes]\na = '::1:7001'", "IPv6 address in brackets"),
    ("[nodes]\na = 7001", 'expected "host:port"'),
    ("[nodes]\na = { adress = '127.0.0.1:1' }", "unknown key(s) ['adress']"),
    ("[nodes]\na = '0.0.0.0:7001'", "peers cannot dial 0.0.0.0"),
    ("[nodes]\n'a/b' = '127.0.0.1:1'", "without '/'"),
    ("[nodes]\na = '127.0.0.1:1'\nb = '127.0.0.1:1'", "have the same address"),
    ("[nodes]\na = { address = '127.0.0.1:1', target = 'app.py' }", "target must look like"),
    ("[cluster]\ntransport = 'quic'\n[nodes]\na = '127.0.0.1:1'", "transport must be one of"),
    ("[cluster]\ncodec = 'pickle'\n[nodes]\na = '127.0.0.1:1'", "codec must be one of"),
    ("[cluster]\nmax_frame = 'big'\n[nodes]\na = '127.0.0.1:1'", "max_frame must be an integer"),
    ("[cluster]\nsend_queue = 0\n[nodes]\na = '127.0.0.1:1'", "send_queue must be an integer"),
    ("[cluster]\nmax_connections = 0\n[nodes]\na = '127.0.0.1:1'",
     "[cluster] max_connections must be an integer >= 1, got 0"),
    ("[cluster]\nmax_queued_bytes = 1.5\n[nodes]\na = '127.0.0.1:1'",
     "[cluster] max_queued_bytes must be an integer >= 1, got 1.5"),
    ("[cluster]\nidle_timeout = -1\n[nodes]\na = '127.0.0.1:1'",
     "[cluster] idle_timeout must be a positive number of seconds, got -1"),
    ("[cluster]\nfirst_frame_timeout = 'soon'\n[nodes]\na = '127.0.0.1:1'",
     "first_frame_timeout must be a positive number of seconds, got 'soon'"),
    ("[cluster]\nsecret = ''\n[nodes]\na = '127.0.0.1:1'", "the secret is empty"),
    ("[cluster]\nsecret = 's'\nsecret_file = 'f'\n[nodes]\na = '127.0.0.1:1'", "not both"),
    ("[cluster]\nsecret_file = 'missing.txt'\n[nodes]\na = '127.0.0.1:1'", "cannot read secret"),
    ("[cluster]\ntransprot = 'udp'\n[nodes]\na = '127.0.0.1:1'", "unknown key(s) ['transprot']"),
    ("[nodes]\na = '127.0.0.1:1'\n[clients]\na = '127.0.0.1:2'", "both a node and a client"),
    ("[nodes]\na = '127.0.0.1:1'\n[extra]\nx = 1", "unknown table(s) ['extra']"),
    # Once a traceback (AttributeError: 'int' object has no attribute 'rpartition'):
    ("[nodes]\na = { address = '127.0.0.1:1', bind = 7001 }", 'a: bind must be "host:port"'),
    ("[nodes]\na = { address = '127.0.0.1:1', bind = '127.0.0.1' }", "a: '127.0.0.1' is not"),
    ("[nodes]\na = { bind = '127.0.0.1:1' }", 'a: needs an address = "host:port"'),
    ("[nodes]\na = [1]", 'a: expected "host:port" or a table'),
    ("cluster = 5\n[nodes]\na = '127.0.0.1:1'", "[cluster] must be a table"),
    ("[cluster]\nreplay_window = 100000\n[nodes]\na = '127.0.0.1:1'", "at most 65536"),
    ("[cluster]\ntransprot = 1\nmax_frame = 'x'\n[nodes]\na = '127.0.0.1:1'",
     "unknown key(s) ['transprot']"),  # the misspelt key first: it explains the rest
    ("[clients]\nc = { address = '127.0.0.1:2', target = 'a:B' }\n[nodes]\na = '127.0.0.1:1'",
     "[clients] c: clients have no target"),
])
def test_every_mistake_is_one_clear_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_cluster(text, source="c.toml")
    message = str(info.value)
    assert message.startswith("c.toml: ") and expected in message and "\n" not in message


def test_the_file_is_structured_by_cattrs_hooks() -> None:
    from dsys.runtime import config

    # One converter reads the file as written; its hooks do the checks (see config.py).
    written = config._CONVERTER.structure(
        {"nodes": {"a": "127.0.0.1:7001", "b": {"address": "[::1]:7002", "bind": "[::]:7002"}}},
        config._ClusterFile)
    assert written.nodes["a"].address == ("127.0.0.1", 7001)
    assert written.nodes["b"].bind == ("::", 7002) and written.cluster.transport == "tcp"


def test_a_missing_file_and_an_unknown_node_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cluster file not found"):
        load_cluster(tmp_path / "nope.toml")
    cluster = parse_cluster('[nodes]\na = "127.0.0.1:1"', source="c.toml")
    with pytest.raises(UsageError, match=r"c\.toml has no node 'z'; its nodes are: a"):
        cluster.node("z")

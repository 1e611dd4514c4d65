"""``dsys run``, ``dsys cluster`` and ``dsys maelstrom``: nodes and clients as processes.

``dsys run TARGET --node ID`` runs a node; with ``--workload`` it runs a client
(:func:`~dsys.runtime.client_host.run_client`) and records its history. ``dsys cluster up``
runs every node of a cluster file; ``dsys cluster merge-histories`` merges the histories
of several client processes for ``dsys check lin``.

The heavy imports (trio, the host) happen inside the commands, so ``dsys --help`` stays
fast.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dsys.errors import DsysError, UsageError

if TYPE_CHECKING:
    from dsys.runtime.config import ClusterConfig


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``run``, ``cluster`` and ``maelstrom`` commands."""
    run = subparsers.add_parser(
        "run", help="run one node (or client) of a cluster file as a real network process",
        description="Run node ID of the cluster file as a process that talks to its peers "
                    "over TCP or UDP. Stops cleanly on Ctrl-C or SIGTERM. With --workload, "
                    "run a Client instead: ID is not a node (it is listed under [clients], "
                    "or any other id), operations come from the workload one at a time, "
                    "the history is written to --history, and the process exits after the "
                    "last operation.")
    run.add_argument("target", nargs="?", metavar="TARGET",
                     help="path/to/file.py:Factory or package.module:Factory (default: the "
                          "node's target in the cluster file)")
    run.add_argument("--node", required=True, metavar="ID",
                     help="which node of the file (with --workload: the client's id)")
    run.add_argument("--cluster", required=True, metavar="FILE", help="the cluster file (TOML)")
    run.add_argument("--trace", metavar="FILE", help="append trace events (JSON Lines) here")
    run.add_argument("--data", metavar="DIR",
                     help="keep node.storage in this directory (default: in memory only)")
    run.add_argument("--status", metavar="FILE",
                     help="rewrite this JSON file with the node's counters twice a second")
    run.add_argument("--seed", type=int, default=None,
                     help="seed node.rng (and a client's workload; default 0 for a client)")
    run.add_argument("--quiet", action="store_true", help="do not print the node's log lines")
    run.add_argument("--insecure", action="store_true",
                     help="run even though the cluster file has no secret and listens beyond "
                          "this machine (anyone who can reach the ports can speak as any node)")
    client = run.add_argument_group("clients", "run a dsys Client and record its history")
    client.add_argument("--workload", metavar="TARGET",
                        help="path/to/file.py:function or module:function; function(rng) "
                             "returns the next operation (a dict with f, value, maybe key)")
    client.add_argument("--ops", type=int, default=None, metavar="N",
                        help="run N operations, then exit (default: until Ctrl-C)")
    client.add_argument("--think", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long before each operation (default 0)")
    client.add_argument("--history", metavar="FILE",
                        help="write the history here (JSON Lines, for dsys check lin)")
    run.set_defaults(func=_run)

    cluster = subparsers.add_parser("cluster", help="run a whole cluster file on this machine")
    actions = cluster.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    up = actions.add_parser(
        "up", help="start every node as a process, show a live status, stop all on Ctrl-C")
    up.add_argument("file", metavar="FILE", help="the cluster file (TOML)")
    up.add_argument("target", nargs="?", metavar="TARGET",
                    help="the factory of every node without a target in the file")
    up.add_argument("--trace-dir", metavar="DIR", help="write DIR/<node>.jsonl traces")
    up.add_argument("--data-dir", metavar="DIR", help="keep each node's storage in DIR/<node>")
    up.add_argument("--log-dir", metavar="DIR",
                    help="node output and status files (default: a new temporary folder)")
    up.add_argument("--for", dest="duration", type=float, default=None, metavar="SECONDS",
                    help="stop everything after this many seconds")
    up.add_argument("--insecure", action="store_true",
                    help="run without a secret beyond this machine (see dsys run --help)")
    up.set_defaults(func=_cluster_up)
    merge = actions.add_parser(
        "merge-histories", help="merge the histories of several clients for dsys check lin",
        description="Merge history files written by `dsys run --workload ... --history` into "
                    "one, ordered by time, each (file, process) its own process. Check the "
                    "result with `dsys check lin --model MODEL FILE`.")
    merge.add_argument("files", nargs="+", metavar="FILE", help="history files (JSON Lines)")
    merge.add_argument("-o", "--output", metavar="FILE",
                       help="write the merged history here (default: standard output)")
    merge.set_defaults(func=_merge_histories)

    maelstrom = subparsers.add_parser(
        "maelstrom", help="run a node that speaks Maelstrom's JSON protocol on stdin/stdout",
        description="Run a dsys node as a Maelstrom binary (Jepsen's Maelstrom, Gossip "
                    "Glomers). Messages on stdin/stdout, logs and print() on stderr.")
    maelstrom.add_argument("target", metavar="TARGET",
                           help="path/to/file.py:Factory or package.module:Factory")
    maelstrom.add_argument("--trace-dir", metavar="DIR", help="write DIR/<node id>.jsonl traces")
    maelstrom.add_argument("--data-dir", metavar="DIR",
                           help="keep each node's storage in DIR/<node id>")
    maelstrom.add_argument("--seed", type=int, default=None, help="seed node.rng")
    maelstrom.set_defaults(func=_maelstrom)


def _run(args: argparse.Namespace) -> int:
    from dsys.runtime.config import load_cluster
    from dsys.runtime.host import NodeHost
    from dsys.runtime.target import load_target

    if args.workload is not None:
        return _run_client(args)
    given = [f"--{name}" for name in ("ops", "history") if getattr(args, name) is not None]
    if args.think:
        given.append("--think")
    if given:
        raise UsageError(f"{' and '.join(given)} run a client: pass --workload too")
    cluster = load_cluster(args.cluster)
    cluster.node(args.node)
    _say_security(cluster, args)
    spec = args.target or cluster.target_of(args.node)
    if spec is None:
        raise UsageError(f"no TARGET: pass one (dsys run app.py:Factory ...) or give node "
                         f"{args.node} a target in {cluster.source}")
    host = NodeHost(load_target(spec), args.node, cluster, trace=args.trace,
                    data_dir=args.data, status_file=args.status, handle_signals=True,
                    echo_logs=not args.quiet, seed=args.seed)
    _run_trio(host.run)
    stats = host.statistics()
    refused = sum(stats.rejected.values())
    trace = f", {stats.trace_errors} trace write error(s)" if stats.trace_errors else ""
    if stats.log_errors:
        trace += f", {stats.log_errors} log write error(s)"
    print(f"dsys[{args.node}]: stopped after {stats.uptime:.1f} s: {stats.messages_in} "
          f"message(s) in, {stats.messages_out} out, {stats.handler_errors} handler "
          f"error(s), {refused} frame(s) refused{trace}", file=sys.stderr)
    return 0


def _run_client(args: argparse.Namespace) -> int:
    from functools import partial

    from dsys.runtime.client_host import run_client
    from dsys.runtime.config import load_cluster
    from dsys.runtime.target import load_target

    if args.data is not None:
        raise UsageError("--data: a client keeps no storage (run it without --data)")
    cluster = load_cluster(args.cluster)
    cluster.check_client_id(args.node)
    _say_security(cluster, args)
    if args.target is None:
        raise UsageError(f"no TARGET: pass the client's factory (dsys run app.py:Client "
                         f"--node {args.node} --workload ...)")
    factory = load_target(args.target)
    workload = load_target(args.workload, "a workload function")
    seed = 0 if args.seed is None else args.seed
    history: list[dict[str, Any]] = []
    _run_trio(partial(_collect, history, run_client, factory, cluster, args.node,
                      workload=workload, ops=args.ops, think=args.think, seed=seed,
                      history=args.history, trace=args.trace, handle_signals=True,
                      echo_logs=not args.quiet))
    kinds = Counter(event["type"] for event in history)
    done = kinds["ok"] + kinds["fail"] + kinds["info"]
    still_open = kinds["invoke"] - done
    elapsed = history[-1]["time"] - history[0]["time"] if history else 0.0
    where = f"; history in {args.history}" if args.history else ""
    print(f"dsys[{args.node}]: {done} operation(s) in {elapsed:.1f} s: {kinds['ok']} ok, "
          f"{kinds['fail']} fail, {kinds['info']} info"
          + (f", {still_open} still open" if still_open else "") + where, file=sys.stderr)
    return 0


def _say_security(cluster: ClusterConfig, args: argparse.Namespace) -> None:
    """Refuse an open cluster beyond loopback (unless --insecure); print the notes, once."""
    for line in cluster.check_secure(insecure=args.insecure):
        print(f"dsys[{args.node}]: {line}", file=sys.stderr)


async def _collect(into: list[dict[str, Any]], run: Callable[..., Any], *args: Any,
                   **kwargs: Any) -> None:
    into.extend(await run(*args, **kwargs))


def _merge_histories(args: argparse.Namespace) -> int:
    from dsys.runtime.history import HistoryWriter, merge_histories, save_history

    merged = merge_histories(args.files)
    if args.output is None:
        sys.stdout.write("".join(HistoryWriter.line(event) + "\n" for event in merged))
    else:
        save_history(merged, args.output)
        print(f"dsys: {len(merged)} event(s) of {len(args.files)} file(s) in {args.output}",
              file=sys.stderr)
    return 0


def _cluster_up(args: argparse.Namespace) -> int:
    from dsys.runtime.cluster import cluster_up

    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--for must be positive, got {args.duration}")
    return cluster_up(args.file, args.target, trace_dir=args.trace_dir, data_dir=args.data_dir,
                      log_dir=args.log_dir, duration=args.duration, insecure=args.insecure)


def _maelstrom(args: argparse.Namespace) -> int:
    # Maelstrom reads stdout as the protocol: keep the real stdout for messages and send
    # everything else that prints (print() in a student's node, say) to stderr, its log.
    output = sys.stdout.buffer
    sys.stdout = sys.stderr
    from dsys.runtime.maelstrom import MaelstromHost
    from dsys.runtime.target import load_target

    host = MaelstromHost(load_target(args.target), trace_dir=args.trace_dir,
                         data_dir=args.data_dir, output=output, seed=args.seed)
    _run_trio(host.run)
    return 0


def _run_trio(main: Callable[[], Any]) -> None:
    import trio

    from dsys.runtime.groups import unwrap_group

    try:
        trio.run(main)
    except BaseExceptionGroup as group:
        # A one-line error raised inside a nursery arrives wrapped in a group: unwrap it
        # so the CLI can print it as one line.
        error = unwrap_group(group)
        if not isinstance(error, DsysError):
            raise
        raise error from None

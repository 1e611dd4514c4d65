"""The real network runtime (trio): the same nodes as real processes.

The simulator's node classes run here unchanged, one process per node, talking over TCP
or UDP on one machine or many. What is here:

* :func:`load_cluster` / :func:`parse_cluster` read the cluster file
  (:class:`ClusterConfig`): nodes, addresses, transport, codec, secret, limits;
* :class:`NodeHost` runs one node (``dsys run``), :class:`MaelstromHost` runs one under
  Jepsen's Maelstrom (``dsys maelstrom``);
* :func:`run_client` (:class:`ClientHost`) runs a :class:`~dsys.Client` against a cluster
  and records its history (``dsys run --workload``); :func:`merge_histories` merges the
  histories of several client processes for the checker, :func:`save_history` saves one;
* :func:`open_client` gives scripts and tests an async :class:`ClusterClient`;
* :class:`Wire` seals and checks frames (HMAC, replay guard, strict decoding);
* :class:`DataDir` keeps a node's storage on disk, atomically.
"""

from dsys.runtime.client import ClusterClient, open_client
from dsys.runtime.client_host import ClientHost, run_client
from dsys.runtime.config import ClusterConfig, Endpoint, load_cluster, parse_cluster
from dsys.runtime.history import merge_histories, read_history, save_history
from dsys.runtime.host import HostStatistics, NodeHost
from dsys.runtime.maelstrom import ErrorCode, MaelstromError, MaelstromHost, maelstrom_type
from dsys.runtime.storage import DataDir
from dsys.runtime.target import load_target
from dsys.runtime.wire import Frame, Rejected, Wire

__all__ = [
    "ClientHost",
    "ClusterClient",
    "ClusterConfig",
    "DataDir",
    "Endpoint",
    "ErrorCode",
    "Frame",
    "HostStatistics",
    "MaelstromError",
    "MaelstromHost",
    "NodeHost",
    "Rejected",
    "Wire",
    "load_cluster",
    "load_target",
    "maelstrom_type",
    "merge_histories",
    "open_client",
    "parse_cluster",
    "read_history",
    "run_client",
    "save_history",
]

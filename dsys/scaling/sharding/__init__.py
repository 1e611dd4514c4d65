"""Sharding: a shard controller replicated on Raft, and a sharded key-value store whose
replica groups migrate shards when the configuration changes (MIT 6.5840's shardkv).

* :mod:`~dsys.scaling.sharding.config`: :func:`shard_of` (a stable hash), :class:`Config`
  (which group serves which shard) and :func:`rebalance` (fewest moves, deterministic);
* :class:`ShardController`: the controller's server (``join``, ``leave``, ``move``,
  ``query``), its state machine :class:`ControllerStore`, and :class:`ControllerClient`
  for the administrator;
* :class:`ShardKVServer`: a server of one replica group (its Raft group, its state machine
  :class:`ShardStore`, the service that polls the controller and migrates shards through
  its own log);
* :class:`ShardKVClient`: routes by the configuration and asks again on ``wrong group``;
* :mod:`~dsys.scaling.sharding.checkers`: "no shard served by two groups in one
  configuration", and per-key linearizability with no write applied twice.

Example:
    >>> from dsys.scaling.sharding import rebalance, Config
    >>> config = rebalance(Config.empty(4), {"g1": ("a",), "g2": ("b",)})
    >>> config.shards
    ('g1', 'g1', 'g2', 'g2')
"""

from dsys.scaling.sharding.checkers import (
    check_linearizable_per_key,
    check_one_group_per_shard,
    check_writes_applied_once,
)
from dsys.scaling.sharding.client import ShardKVClient
from dsys.scaling.sharding.config import NSHARDS, Config, rebalance, shard_of
from dsys.scaling.sharding.controller import (
    ControllerClient,
    ControllerLink,
    ControllerService,
    ControllerStore,
    ShardController,
)
from dsys.scaling.sharding.server import ShardKVServer, ShardService
from dsys.scaling.sharding.store import Shard, ShardStore

__all__ = [
    "NSHARDS",
    "Config",
    "ControllerClient",
    "ControllerLink",
    "ControllerService",
    "ControllerStore",
    "Shard",
    "ShardController",
    "ShardKVClient",
    "ShardKVServer",
    "ShardService",
    "ShardStore",
    "check_linearizable_per_key",
    "check_one_group_per_shard",
    "check_writes_applied_once",
    "rebalance",
    "shard_of",
]

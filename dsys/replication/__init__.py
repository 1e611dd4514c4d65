"""Replication: primary-backup with a view service, chain replication (and CRAQ reads),
Dynamo-style quorums with anti-entropy over Merkle trees, CRDTs, and client caches.

Each design is a set of :class:`~dsys.Component` or :class:`~dsys.Node` classes that run
unchanged in the simulator and on the trio runtime, and each says which consistency model
it gives; the checkers in :mod:`dsys.check` judge the histories it produces.
"""

from dsys.replication.caching import CacheClient, CacheServer, KeyCache
from dsys.replication.chain import ChainClient, ChainConfig, ChainMaster, ChainServer, check_configs
from dsys.replication.crdt import (
    Crdt,
    CrdtReplication,
    GCounter,
    LWWRegister,
    MVRegister,
    OpCounter,
    OpORSet,
    ORSet,
    PNCounter,
    check_crdt_convergence,
    crdt_states,
)
from dsys.replication.merkle import MerkleTree
from dsys.replication.primary_backup import PBClient, PBServer, View, ViewService, check_views
from dsys.replication.quorum import (
    AntiEntropy,
    QuorumClient,
    QuorumConfig,
    QuorumNode,
    Replica,
    Version,
    causal_pasts,
    check_fresh_reads,
    check_no_lost_writes,
    check_replicas_agree,
    context_of,
    order,
    pending_hints,
    reconcile,
    replicas_of,
    sibling_reads,
)
from dsys.replication.ring import HashRing

__all__: list[str] = [
    "AntiEntropy",
    "CacheClient",
    "CacheServer",
    "ChainClient",
    "ChainConfig",
    "ChainMaster",
    "ChainServer",
    "Crdt",
    "CrdtReplication",
    "GCounter",
    "HashRing",
    "KeyCache",
    "LWWRegister",
    "MVRegister",
    "MerkleTree",
    "ORSet",
    "OpCounter",
    "OpORSet",
    "PBClient",
    "PBServer",
    "PNCounter",
    "QuorumClient",
    "QuorumConfig",
    "QuorumNode",
    "Replica",
    "Version",
    "View",
    "ViewService",
    "causal_pasts",
    "check_configs",
    "check_crdt_convergence",
    "check_fresh_reads",
    "check_no_lost_writes",
    "check_replicas_agree",
    "check_views",
    "context_of",
    "crdt_states",
    "order",
    "pending_hints",
    "reconcile",
    "replicas_of",
    "sibling_reads",
]

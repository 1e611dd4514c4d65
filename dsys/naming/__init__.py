"""Naming: how a name becomes an address, and a key becomes a node.

* :mod:`dsys.naming.hashing`: flat keys placed on nodes by :class:`ConsistentHashRing`
  (with virtual nodes), :class:`RendezvousHash` (highest random weight) and, for
  comparison, :class:`ModuloHash`; :mod:`dsys.naming.measure` measures their balance and
  how many keys move when a node joins or leaves;
* :mod:`dsys.naming.registry`: a name service where servers register their names under
  leases (:class:`NameServer`, :class:`Registration`, :class:`NameClient`): a crashed
  server's names expire by themselves;
* :mod:`dsys.naming.dns`: structured names resolved like DNS: zones (:class:`Zone`) with
  delegations, served by :class:`ZoneServer` nodes, and a caching :class:`Resolver` that
  resolves iteratively or recursively and keeps answers for their TTL;
* :mod:`dsys.naming.asking`: the clients' shared pattern, one request in flight, asked
  again until answered (:class:`AskingClient`);
* :mod:`dsys.naming.checkers`: the lease promises (:func:`check_leases`,
  :func:`check_names_kept`) and the staleness a TTL allows (:func:`check_staleness`);
* :mod:`dsys.naming.chord`: Chord (:class:`Chord`), a ring of nodes that finds the node
  of any key in ``O(log N)`` hops while nodes join and fail;
  :mod:`dsys.naming.chord_checkers` judges its rings (:func:`check_chord_ring`), lookups
  (:func:`check_chord_lookups`) and hop counts (:func:`check_chord_hops`).

Every node runs unchanged in the simulator and on the trio runtime.

Example:
    >>> from dsys.naming import ConsistentHashRing, RendezvousHash
    >>> ring = ConsistentHashRing(["a", "b", "c"], vnodes=100)
    >>> ring.owner("user:42") in ring.nodes
    True
    >>> RendezvousHash(["a", "b", "c"]).preference_list("user:42", 2)
    ('b', 'c')
"""

from dsys.naming.asking import AskingClient
from dsys.naming.checkers import (
    Report,
    Staleness,
    Violation,
    answer_staleness,
    check_leases,
    check_names_kept,
    check_staleness,
)
from dsys.naming.chord import Chord, ChordLookup, chord_id
from dsys.naming.chord_checkers import check_chord_hops, check_chord_lookups, check_chord_ring
from dsys.naming.dns import (
    ROOT,
    Answer,
    LocalResolver,
    Query,
    Referral,
    Refused,
    Resolution,
    Resolve,
    Resolved,
    Resolver,
    StubClient,
    Update,
    Updated,
    Zone,
    ZoneServer,
    ZoneUpdater,
    check_domain_name,
    enclosing,
    is_within,
)
from dsys.naming.hashing import (
    ConsistentHashRing,
    ModuloHash,
    Placement,
    RendezvousHash,
    imbalance,
    key_counts,
    moved_keys,
    owners,
    stable_hash,
)
from dsys.naming.measure import Balance, Movement, measure_balance, measure_movement
from dsys.naming.registry import (
    Binding,
    Deregister,
    Lookup,
    LookupReply,
    NameClient,
    NameServer,
    Register,
    Registered,
    Registration,
    check_flat_name,
)

__all__ = [
    "ROOT",
    "Answer",
    "AskingClient",
    "Balance",
    "Binding",
    "Chord",
    "ChordLookup",
    "ConsistentHashRing",
    "Deregister",
    "LocalResolver",
    "Lookup",
    "LookupReply",
    "ModuloHash",
    "Movement",
    "NameClient",
    "NameServer",
    "Placement",
    "Query",
    "Referral",
    "Refused",
    "Register",
    "Registered",
    "Registration",
    "RendezvousHash",
    "Report",
    "Resolution",
    "Resolve",
    "Resolved",
    "Resolver",
    "Staleness",
    "StubClient",
    "Update",
    "Updated",
    "Violation",
    "Zone",
    "ZoneServer",
    "ZoneUpdater",
    "answer_staleness",
    "check_chord_hops",
    "check_chord_lookups",
    "check_chord_ring",
    "check_domain_name",
    "check_flat_name",
    "check_leases",
    "check_names_kept",
    "check_staleness",
    "chord_id",
    "enclosing",
    "imbalance",
    "is_within",
    "key_counts",
    "measure_balance",
    "measure_movement",
    "moved_keys",
    "owners",
    "stable_hash",
]

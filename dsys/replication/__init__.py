"""Replication: primary-backup with a view service, chain replication (and CRAQ reads),
Dynamo-style quorums with anti-entropy over Merkle trees, CRDTs, and client caches.

Each design is a set of :class:`~dsys.Component` or :class:`~dsys.Node` classes that run
unchanged in the simulator and on the trio runtime, and each says which consistency model
it gives; the checkers in :mod:`dsys.check` judge the histories it produces.
"""

__all__: list[str] = []

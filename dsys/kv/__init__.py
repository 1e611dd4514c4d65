"""A linearizable key-value service on Raft, with exactly-once client operations.

* :class:`KVServer`: a node holding a :class:`~dsys.raft.Raft` component and the service
  (:class:`KVService`); the replicated state machine is :class:`KVStore` (data and
  session table, both in snapshots);
* :class:`KVClient`: a :class:`~dsys.Client` that finds the leader, retries, and numbers
  its operations in a session so that none is applied twice;
* :mod:`dsys.kv.messages`: the requests and replies.

Histories of its clients are judged with ``dsys.check`` (model ``"kv"``).
"""

from dsys.kv.client import KVClient
from dsys.kv.messages import KVBatch, KVReplies, KVReply, KVRequest
from dsys.kv.server import KVServer, KVService
from dsys.kv.store import KVStore

__all__ = ["KVBatch", "KVClient", "KVReplies", "KVReply", "KVRequest", "KVServer", "KVService",
           "KVStore"]

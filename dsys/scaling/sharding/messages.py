"""The messages of the sharded store: to and from the controller, between a client and
a replica group, and between groups while a shard migrates.

Configurations travel as :meth:`~dsys.scaling.sharding.config.Config.to_json`, shard
contents as JSON values, so every message runs unchanged on the real runtime.

Example:
    >>> from dsys.scaling.sharding.messages import ShardRequest
    >>> ShardRequest("c1-5f2a", 3, "append", "x", "1")
    ShardRequest(session='c1-5f2a', seq=3, f='append', key='x', value='1')
"""

from __future__ import annotations

from typing import Any, Final

from dsys.core.messages import message

#: Reply statuses (the key-value ones are those of :mod:`dsys.kv.messages`).
OK: Final = "ok"
#: This server is not its group's (or the controller's) leader: ask the one named.
WRONG_LEADER: Final = "wrong leader"
#: This group does not serve the key's shard now (it never did, it handed it off, or the
#: shard has not arrived yet): ask the controller for the latest configuration.
WRONG_GROUP: Final = "wrong group"
#: The controller refused a change (``value`` says why).
REFUSED: Final = "refused"
#: A group was asked for a shard of a configuration it has not reached yet: ask again.
NOT_READY: Final = "not ready"


@message(name="shardctrl:Request")
class ControllerRequest:
    """Operation ``seq`` of ``session`` on the controller: ``join`` (``value`` maps group
    names to their servers), ``leave`` (a list of group names), ``move`` (``[shard,
    group]``) or ``query`` (``value``: a configuration number, -1 for the latest; needs
    no session)."""

    session: str
    seq: int
    f: str
    value: Any


@message(name="shardctrl:Reply")
class ControllerReply:
    """The answer to ``seq`` of ``session``: a status, the configuration (a query's, or
    the one a change made, as JSON) or why it was refused, and the leader known."""

    session: str
    seq: int
    status: str
    value: Any = None
    leader: str | None = None


@message(name="shardkv:Request")
class ShardRequest:
    """Key-value operation ``seq`` of ``session``: ``get``, ``put`` or ``append``."""

    session: str
    seq: int
    f: str
    key: str
    value: Any


@message(name="shardkv:Reply")
class ShardReply:
    """The answer to ``seq`` of ``session``: a status, the value read, the leader known."""

    session: str
    seq: int
    status: str
    value: Any = None
    leader: str | None = None


@message(name="shardkv:Pull")
class PullShard:
    """The group that gains ``shard`` in configuration ``num`` asks the group that held
    it in ``num - 1`` for its contents."""

    num: int
    shard: int


@message(name="shardkv:PullReply")
class PullShardReply:
    """The contents of ``shard`` as of configuration ``num``: the data and the shard's
    session table (the highest operation number applied per client session)."""

    num: int
    shard: int
    status: str
    data: Any = None
    sessions: Any = None


@message(name="shardkv:Delete")
class DeleteShard:
    """The new owner of ``shard`` (configuration ``num``) has it in its log: the old
    owner may delete its copy."""

    num: int
    shard: int


@message(name="shardkv:DeleteReply")
class DeleteShardReply:
    """The old owner deleted ``shard`` (``status`` ok), or will once its log says so."""

    num: int
    shard: int
    status: str

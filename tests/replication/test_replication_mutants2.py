"""Rarely taken branches of primary-backup that a mutation sample found unpinned (issue 21):
the refusals a backup sends, which are how a deposed primary learns it was deposed."""

from __future__ import annotations

from typing import Any

from dsys.replication.primary_backup import BackupAck, Forward
from tests.replication.test_primary_backup import pb_cluster, up

COMMAND = {"session": "s", "seq": 1, "f": "put", "key": "k", "value": "v", "time": 0.0}


def recording(node: Any) -> list[tuple[str, object]]:
    """Keep what ``node`` sends from now on, instead of sending it."""
    sent: list[tuple[str, object]] = []
    node.send = lambda dst, msg: sent.append((dst, msg))
    return sent


def test_a_backup_tells_a_server_that_is_not_its_primary_which_view_it_is_in() -> None:
    sim = pb_cluster(4, clients=0)
    primary, backup = up(sim)
    spare = ({"s1", "s2", "s3"} - {primary, backup}).pop()
    node: Any = sim.node(backup)
    sent = recording(node)
    view = node.view.num
    # A deposed primary, one view behind: the refusal carries the backup's view.
    node.on_forward(spare, Forward(view, node.applied + 1, (COMMAND,)))
    node.on_forward(primary, Forward(view - 1, node.applied + 1, (COMMAND,)))
    assert sent == [(spare, BackupAck(view, 0, False)), (primary, BackupAck(view, 0, False))]


def test_a_backup_without_the_state_of_the_view_asks_for_it_first() -> None:
    sim = pb_cluster(4, clients=0)
    primary, backup = up(sim)
    node: Any = sim.node(backup)
    sent = recording(node)
    node.state_view = node.view.num - 1  # it has not taken this view's state yet
    applied = node.applied
    node.on_forward(primary, Forward(node.view.num, applied + 1, (COMMAND,)))
    assert sent == [(primary, BackupAck(node.view.num, 0, False))]
    assert node.applied == applied and "k" not in node.store.data


def test_a_primary_told_of_a_newer_view_asks_the_view_service_at_once() -> None:
    sim = pb_cluster(4, clients=0)
    primary, backup = up(sim)
    node: Any = sim.node(primary)
    sent = recording(node)
    node.on_backup_ack(backup, BackupAck(node.view.num + 1, 0, False))
    assert [dst for dst, _ in sent] == ["vs"]

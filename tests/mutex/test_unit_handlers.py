"""Unit tests of the mutex algorithms' handlers, one event at a time
(dsys.testing.NodeHarness).

The simulation tests judge whole runs with the checkers; these pin the exact rules of
Ricart & Agrawala (1981): who gets a request, when a reply is sent at once and when it is
deferred, and that the deferred replies leave with the exit; and the coordinator's queue
of the central algorithm.
"""

from __future__ import annotations

import pytest

from dsys import Node, UsageError
from dsys.mutex import HELD, RELEASED, WANTED, CentralMutex, Mutex, RicartAgrawala, central
from dsys.mutex.ricart_agrawala import Reply, Request
from dsys.testing import NodeHarness, Note, Sent

MUTEX = {"@component": "mutex"}  # what a message the "mutex" component sends carries


class Worker(Node):
    """Holds the lock; counts its entries (the application leaves when the test says)."""

    def __init__(self, lock: Mutex) -> None:
        super().__init__()
        self.entries = 0
        self.lock = self.add_component(lock)
        self.lock.on_enter = self.entered

    def entered(self) -> None:
        self.entries += 1


def note(event: str, **data: object) -> Note:
    return Note(event, {"component": "mutex", **data})


def ricart_agrawala() -> NodeHarness:
    h = NodeHarness(lambda: Worker(RicartAgrawala()), "a", peers=["b", "c"])
    h.start()
    return h


def lock(h: NodeHarness) -> Mutex:
    return h.node.lock  # type: ignore[attr-defined, no-any-return]


def test_a_request_goes_to_every_other_node_with_the_next_sequence_number() -> None:
    h = ricart_agrawala()
    assert h.call(lock(h).request) == [
        note("request"), Sent("b", Request(1), MUTEX), Sent("c", Request(1), MUTEX)]
    assert lock(h).state == WANTED


def test_it_enters_once_every_other_node_replied_and_a_duplicate_counts_once() -> None:
    h = ricart_agrawala()
    h.call(lock(h).request)
    assert h.deliver("b", Reply(1), component="mutex") == []
    assert h.deliver("b", Reply(1), component="mutex") == []  # b again: still waiting on c
    assert h.deliver("c", Reply(0), component="mutex") == []  # a stale reply does not count
    assert h.deliver("c", Reply(1), component="mutex") == [note("enter", order=[1, "a"])]
    assert lock(h).state == HELD and h.node.entries == 1  # type: ignore[attr-defined]


def test_a_request_is_answered_at_once_while_released() -> None:
    h = ricart_agrawala()
    assert h.deliver("b", Request(4), component="mutex") == [Sent("b", Reply(4), MUTEX)]
    # Lamport's rule: our next request is numbered past every number we have seen.
    assert h.call(lock(h).request)[1] == Sent("b", Request(5), MUTEX)


def test_replies_are_deferred_inside_and_sent_on_exit() -> None:
    h = ricart_agrawala()
    h.call(lock(h).request)
    h.deliver("b", Reply(1), component="mutex")
    h.deliver("c", Reply(1), component="mutex")
    assert h.deliver("c", Request(7), component="mutex") == []  # inside: deferred
    assert h.deliver("b", Request(2), component="mutex") == []
    assert h.call(lock(h).release) == [
        note("exit"), Sent("b", Reply(2), MUTEX), Sent("c", Reply(7), MUTEX)]
    assert lock(h).state == RELEASED
    # Nothing stays deferred: the next request from b is answered at once.
    assert h.deliver("b", Request(3), component="mutex") == [Sent("b", Reply(3), MUTEX)]


def test_while_waiting_priority_goes_to_the_smaller_number_then_the_smaller_id() -> None:
    h = ricart_agrawala()
    h.call(lock(h).request)  # ours: (1, "a")
    assert h.deliver("c", Request(1), component="mutex") == []  # (1, "c") waits for us
    assert h.deliver("b", Request(2), component="mutex") == []  # (2, "b") too
    h.clear()
    h.deliver("b", Reply(1), component="mutex")
    h.deliver("c", Reply(1), component="mutex")
    h.call(lock(h).release)
    assert h.sent() == [Sent("b", Reply(2), MUTEX), Sent("c", Reply(1), MUTEX)]


def test_an_older_request_wins_over_ours_while_waiting() -> None:
    h = ricart_agrawala()
    h.deliver("b", Request(3), component="mutex")  # seen 3: ours will be 4
    h.clear()
    h.call(lock(h).request)
    assert h.sent() == [Sent("b", Request(4), MUTEX), Sent("c", Request(4), MUTEX)]
    assert h.deliver("c", Request(2), component="mutex") == [Sent("c", Reply(2), MUTEX)]


def test_the_application_cannot_request_twice_or_release_outside() -> None:
    h = ricart_agrawala()
    with pytest.raises(UsageError, match="release\\(\\) while the lock is RELEASED"):
        h.call(lock(h).release)
    h.call(lock(h).request)
    with pytest.raises(UsageError, match="request\\(\\) while the lock is WANTED"):
        h.call(lock(h).request)
    assert h.deliver("b", Reply(1), component="mutex") == []  # still usable


# ----- the central coordinator ----------------------------------------------------------------


def test_the_coordinator_grants_a_free_lock_and_queues_the_rest_in_arrival_order() -> None:
    h = NodeHarness(lambda: Worker(CentralMutex()), "a", peers=["b", "c"])  # a coordinates
    h.start()
    assert h.deliver("c", central.Request(1), component="mutex") == [
        Sent("c", central.Grant(1, 1), MUTEX)]
    assert h.deliver("b", central.Request(1), component="mutex") == []  # queued, ticket 2
    assert h.deliver("b", central.Request(1), component="mutex") == []  # a duplicate
    assert h.deliver("b", central.Release(1), component="mutex") == []  # not the holder
    assert h.deliver("c", central.Release(1), component="mutex") == [
        Sent("b", central.Grant(1, 2), MUTEX)]


def test_a_participant_asks_the_coordinator_and_ignores_a_stale_grant() -> None:
    h = NodeHarness(lambda: Worker(CentralMutex()), "b", peers=["a", "c"])
    h.start()
    assert h.call(lock(h).request) == [note("request"), Sent("a", central.Request(1), MUTEX)]
    assert h.deliver("a", central.Grant(0, 9), component="mutex") == []
    assert h.deliver("a", central.Grant(1, 3), component="mutex") == [note("enter", order=[3])]
    assert h.call(lock(h).release) == [note("exit"), Sent("a", central.Release(1), MUTEX)]

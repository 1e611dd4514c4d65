"""Chord on the trio runtime: the same component, over real TCP on loopback. Four peers
join through one, form a correct ring, answer lookups with the live successor; one
crashes (its host stops) and the ring closes over it."""

from __future__ import annotations

import functools
from collections.abc import Callable

import trio

from dsys import Node
from dsys.demos.chord import Peer
from dsys.naming.chord import ChordLookup
from dsys.naming.chord_checkers import check_chord_ring, chord_of, successor_of
from dsys.runtime import parse_cluster
from tests.runtime.conftest import running
from tests.runtime.helpers import cluster_text, wait_until

TIMEOUT = 30
NAMES = ("p0", "p1", "p2", "p3")
#: Fast maintenance: loopback round trips take well under a millisecond.
FAST = {"stabilize_every": 0.05, "fix_fingers_every": 0.05, "check_predecessor_every": 0.05,
        "rpc_timeout": 0.2}


class AskingPeer(Peer):
    """A peer that, once in the ring, looks up one key after another and keeps the
    answers."""

    def __init__(self, join: str | None) -> None:
        super().__init__(join, **FAST)  # type: ignore[arg-type]
        self.answers: list[ChordLookup] = []

    def on_start(self) -> None:
        self.set_timer("ask", 0.1)

    def on_timer(self, name: str) -> None:
        if self.chord.joined:
            self.chord.lookup(f"key-{len(self.answers)}", self.answers.append)
        self.set_timer("ask", 0.1)


async def test_peers_form_a_ring_and_answer_lookups_over_tcp() -> None:
    cluster = parse_cluster(cluster_text(dict.fromkeys(NAMES)))
    factories: dict[str, Callable[[], Node]] = {
        name: functools.partial(AskingPeer, None if name == "p0" else "p0") for name in NAMES}
    with trio.fail_after(TIMEOUT):
        async with running(cluster, factories) as hosts:
            def nodes() -> dict[str, object]:
                return {name: host.node for name, host in hosts.items()
                        if host.node is not None and name in live}

            live = set(NAMES)

            def ring_of_four() -> bool:
                ring = check_chord_ring(nodes(), fingers=True)
                return ring.judged == 4 and ring.ok

            await wait_until(ring_of_four, 20, "a correct ring of four")
            members = {name: chord_of(node).ident  # type: ignore[union-attr]
                       for name, node in nodes().items()}
            # The answers given from now on, in a correct ring.
            seen = {name: len(node.answers)  # type: ignore[attr-defined]
                    for name, node in nodes().items()}
            await wait_until(lambda: all(len(node.answers) >= seen[name] + 5  # type: ignore
                                         for name, node in nodes().items()), 10, "lookups")
            answers = [a for name, node in nodes().items()
                       for a in node.answers[seen[name]:seen[name] + 5]]  # type: ignore
            assert all(a.owner == successor_of(a.target, members) for a in answers), answers
            assert all(a.hops <= 2 for a in answers)

            hosts["p2"].stop()
            live.discard("p2")
            await wait_until(lambda: bool(check_chord_ring(nodes())), 10,
                             "the ring closed over p2")

"""``dsys demo paxos``: the duel of single-decree Paxos, then Multi-Paxos with a stable
leader that crashes and is replaced."""

from __future__ import annotations

import io

from rich.console import Console

from dsys.demos import paxos
from dsys.paxos import MultiPaxosServer


def test_the_stable_leader_story_changes_leader_once_and_every_server_catches_up() -> None:
    sim = paxos.stable_leader(seed=4)
    leads = [e for e in sim.trace if e.kind == "note" and e.data["event"] == "lead"]
    assert len(leads) == 2 and leads[0].node != leads[1].node
    assert leads[0].time < 1.0 < leads[1].time < 2.0
    servers = [node for node in sim.nodes.values() if isinstance(node, MultiPaxosServer)]
    applied = [s.applied for s in servers]
    # the restarted leader caught up (the client keeps going: a slot may be in flight)
    assert len(servers) == 3 and min(applied) > 20 and max(applied) - min(applied) <= 2
    stores = {s.applied: s.store.data for s in servers}
    assert all(s.store.data == stores[s.applied] for s in servers)


def test_the_demo_tells_both_parts_with_the_checkers_verdicts() -> None:
    sim = paxos.scenario(seed=2)
    sim.run()
    out = io.StringIO()
    paxos.present(sim, Console(file=out, width=200), everything=False)
    text = out.getvalue()
    assert "1. Single-decree Paxos" in text and "2. Multi-Paxos" in text
    assert text.count("agreement: ok") == 2 and "violation" not in text
    assert "crashed" in text and "restarted" in text

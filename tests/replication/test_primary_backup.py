"""Primary-backup with a view service, judged by checkers under faults and in the DSLabs
lab 2 scenarios.

* Under the seeded nemesis (partitions, one-way cuts, crashes with restarts, clock jumps)
  on a network that loses, duplicates and reorders: the clients' history is
  linearizable (``kv`` model), no write is applied twice, the view service's views obey
  the ack rule (:func:`~dsys.replication.check_views`), primary and backup agree at the
  end, and once the faults stop every client finishes, unless the service stopped for
  the one good reason (the primary of the last view lost its state before anyone else
  got it).
* The lab's scenarios: primary fails, backup fails, both fail, a partitioned primary, a
  view that is never acknowledged, a backup that restarts just before its promotion.
* Broken variants of each rule, and the judge that catches each: so these tests can fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsys import Simulation
from dsys.demos.pb_chain import pb_cluster
from dsys.kv.messages import OK as STATUS_OK
from dsys.kv.messages import KVReply, KVRequest
from dsys.kv.store import KVStore
from dsys.replication import PBClient, PBServer, ViewService, check_views
from dsys.replication.primary_backup import Forward, StateTransfer
from dsys.testing import SimulationFactory
from tests.replication.pb_chain_judges import (
    UNRELIABLE,
    applied_once,
    completions,
    done,
    get,
    hostile,
    linearizable,
    no_session_expired,
    not_linearizable,
    put,
    same_state,
    script,
)

CLIENTS, OPS, UNTIL = 4, 40, 6.0


def stopped_for_good(sim: Simulation) -> bool:
    """The service stopped for the one good reason: the primary of the view service's
    view does not hold the state, and the view service may not (view not acknowledged) or
    cannot (the backup does not hold it either) promote the backup."""
    vs = sim.node("vs")
    view = vs.view  # type: ignore[union-attr]
    primary = sim.node(view.primary) if view.primary else None
    if primary is not None and primary.is_primary:  # type: ignore[attr-defined]
        return False
    backup = sim.node(view.backup) if view.backup else None
    return not (vs.acked and backup is not None  # type: ignore[union-attr]
                and backup.state_view == view.num)  # type: ignore[attr-defined]


def under_faults(seed: int, sim: Simulation | None = None, *, server: Any = PBServer,
                 view_service: Any = ViewService) -> Simulation:
    """The nemesis run; every judge must pass."""
    sim = pb_cluster(seed, clients=CLIENTS, ops=OPS, network=UNRELIABLE, cas=True,
                     think=(0.02, 0.12), server=server, view_service=view_service, sim=sim)
    hostile(sim, UNTIL)
    finished = sim.run_until(done(CLIENTS * OPS), timeout=UNTIL + 30.0)
    assert finished or stopped_for_good(sim), (
        f"seed {sim.seed}: the clients did not finish after the faults, and the primary "
        f"of {sim.node('vs').view} can serve")  # type: ignore[union-attr]
    linearizable(sim)
    applied_once(sim)
    no_session_expired(sim)
    report = check_views(sim.trace)
    assert report.ok, report.explain()
    if finished:  # primary and backup agree once the last operations reached both
        sim.run(until=sim.now + 1.0)
        view = sim.node("vs").view  # type: ignore[union-attr]
        backup = sim.node(view.backup) if view.backup else None
        if backup is not None and backup.state_view == view.num:  # type: ignore[attr-defined]
            same_state(sim, [view.primary, view.backup])
    return sim


@pytest.mark.dsys(runs=4)
def test_linearizable_under_every_fault(dsys_seed: int, simulation: SimulationFactory) -> None:
    sim = under_faults(dsys_seed, simulation(UNRELIABLE))
    kinds = [e["type"] for e in sim.history]
    views = sum(1 for e in sim.trace if e.kind == "note" and e.data.get("event") == "view")
    assert kinds.count("ok") >= CLIENTS * OPS // 2 and views >= 2, (kinds.count("ok"), views)


@pytest.mark.soak
def test_linearizable_under_every_fault_soak() -> None:
    for seed in range(4, 400):  # each failure names its seed
        under_faults(seed)



# ----- the lab's scenarios ------------------------------------------------------------------


def up(sim: Simulation, *, backup: bool = True) -> tuple[str, str | None]:
    """Run until the view service has an acknowledged view (with a backup, if asked);
    return its primary and backup."""
    assert sim.run_until(lambda s: s.node("vs").acked and (  # type: ignore[union-attr]
        not backup or s.node("vs").view.backup is not None), timeout=5.0)  # type: ignore[union-attr]
    view = sim.node("vs").view  # type: ignore[union-attr]
    return view.primary, view.backup


def test_primary_fails_and_the_backup_takes_over_with_every_write() -> None:
    sim = pb_cluster(1, clients=3, ops=40)
    primary, backup = up(sim)
    sim.at(1.5, sim.crash, primary)  # in the middle of the workload
    assert sim.run_until(done(120), timeout=20.0)
    view = sim.node("vs").view  # type: ignore[union-attr]
    assert view.primary == backup and view.backup not in (None, primary), view
    linearizable(sim)
    sim.run(until=sim.now + 1.0)
    same_state(sim, [view.primary, view.backup])  # the new backup got the whole state


def test_backup_fails_and_a_new_backup_gets_the_state_before_it_counts() -> None:
    sim = pb_cluster(2, clients=3, ops=40)
    primary, backup = up(sim)
    sim.at(1.5, sim.crash, backup)
    assert sim.run_until(done(120), timeout=20.0)
    view = sim.node("vs").view  # type: ignore[union-attr]
    assert view.primary == primary and view.backup not in (None, backup), view
    sim.run(until=sim.now + 1.0)
    same_state(sim, [primary, view.backup])
    assert any(e.kind == "note" and e.data.get("event") == "state" and e.node == view.backup
               for e in sim.trace), "the new backup got a state transfer"
    # Now the old primary fails too: the new backup, promoted, still has every write.
    sim.crash(primary)
    script(sim, "reader", [get(k) for k in ("x", "y", "z")], PBClient)
    assert sim.run_until(done(123), timeout=10.0)
    assert sim.node("vs").view.primary == view.backup  # type: ignore[union-attr]
    linearizable(sim)
    assert [t for t, _, _ in completions(sim, "reader")] == ["ok"] * 3


def test_when_primary_and_backup_both_fail_the_service_stops_rather_than_lose_data() -> None:
    sim = pb_cluster(3, clients=0)
    primary, backup = up(sim)
    script(sim, "w", [put("x", "1"), put("y", "2")], PBClient)
    assert sim.run_until(done(2), timeout=5.0)
    crash_at = sim.now
    sim.crash(primary)
    sim.crash(backup)  # type: ignore[arg-type]
    sim.at(crash_at + 0.2, sim.restart, primary)
    sim.at(crash_at + 0.2, sim.restart, backup)
    script(sim, "r", [get("x"), put("x", "3"), get("y")], PBClient, start=crash_at + 0.5)
    sim.run(until=crash_at + 8.0)
    assert [t for t, _, _ in completions(sim, "r")] == ["info"] * 3, completions(sim, "r")
    # The view service may drop the backup it sees restarted first (a view of the old
    # primary and the spare), but never makes a server without the state serve.
    primaries = {e.data["primary"] for e in sim.trace if e.kind == "note"
                 and e.data.get("event") == "view" and e.time > crash_at}
    assert primaries <= {primary, backup}, primaries
    assert not any(node.serving for name, node in sim.nodes.items()  # type: ignore[attr-defined]
                   if name != "vs")
    linearizable(sim)
    assert check_views(sim.trace).ok


class Pinned(PBClient):
    """A client that keeps believing ``server`` is the primary."""

    def __init__(self, server: str) -> None:
        super().__init__()
        self.pinned = server

    def route(self, request: KVRequest) -> str | None:
        return self.pinned


def deposed_primary(server: Any = PBServer, seed: int = 0) -> tuple[Simulation, str]:
    """The primary is cut off from the view service and its backup (not from clients);
    a client that still believes in it writes and reads there, while the others move on
    to the new primary: a read before and after a write there, a read at the end."""
    sim = pb_cluster(seed, clients=0, server=server)
    primary, _ = up(sim)
    script(sim, "w0", [put("x", "before")], PBClient)
    assert sim.run_until(done(1), timeout=5.0)
    t0 = sim.now
    sim.partition([primary])
    script(sim, "old", [put("x", "stale"), get("x")], lambda: Pinned(primary), start=t0)
    script(sim, "r1", [get("x")], PBClient, start=t0 + 1.2)
    script(sim, "w1", [put("x", "after")], PBClient, start=t0 + 1.5)
    script(sim, "r2", [get("x")], PBClient, start=t0 + 5.0)
    sim.run_until(done(6), timeout=10.0)
    return sim, primary


def test_a_partitioned_old_primary_completes_nothing_no_split_brain() -> None:
    for seed in range(3):
        sim, primary = deposed_primary(seed=seed)
        assert [t for t, _, _ in completions(sim, "old")] == ["info", "info"]
        assert completions(sim, "r2") == [("ok", "get", "after")]
        assert sim.node("vs").view.primary != primary  # type: ignore[union-attr]
        linearizable(sim)
        assert check_views(sim.trace).ok


def never_acknowledged(view_service: Any = ViewService, server: Any = PBServer,
                       seed: int = 0) -> Simulation:
    """s1 serves alone in view 1 and takes writes; s2 arrives and view 2 (s1, s2) is made,
    but s1's state transfer to s2 never arrives, so s1 never acknowledges view 2; then s1
    crashes, and a client reads."""
    sim = Simulation(seed=seed)
    sim.add_node("vs", view_service)
    sim.add_node("s1", server)
    assert sim.run_until(lambda s: s.node("vs").acked, timeout=2.0)  # type: ignore[union-attr]
    script(sim, "w", [put("x", "1"), put("y", "2")], PBClient)
    assert sim.run_until(done(2), timeout=5.0)
    sim.add_node("s2", server)
    sim.block("s1", "s2")  # before s2 starts
    assert sim.run_until(lambda s: s.node("vs").view.num == 2, timeout=2.0)  # type: ignore[union-attr]
    sim.run(until=sim.now + 0.5)
    sim.crash("s1")
    script(sim, "r", [get("x"), get("y")], PBClient, start=sim.now + 1.0)
    sim.run(until=sim.now + 6.0)
    return sim


def test_the_view_service_never_moves_past_a_view_its_primary_did_not_acknowledge() -> None:
    sim = never_acknowledged()
    assert sim.node("vs").view.num == 2 and not sim.node("vs").acked  # type: ignore[union-attr]
    assert [t for t, _, _ in completions(sim, "r")] == ["info", "info"]
    assert check_views(sim.trace).ok
    linearizable(sim)


def backup_restarts_before_promotion(server: Any = PBServer, seed: int = 0) -> Simulation:
    """The backup crashes and restarts empty while its pings to the view service are
    cut, so the view service still counts its old incarnation alive; then the primary
    restarts, and the view service promotes the backup: a server with nothing."""
    sim = pb_cluster(seed, clients=0, server=server)
    primary, backup = up(sim)
    script(sim, "w", [put("x", "1"), put("y", "2")], PBClient)
    assert sim.run_until(done(2), timeout=5.0)
    sim.run(until=sim.now + 0.2)  # the backup got the writes; its last ping is recent
    t = sim.now
    sim.block(backup, "vs")  # type: ignore[arg-type]
    sim.crash(backup)  # type: ignore[arg-type]
    sim.restart(backup)  # type: ignore[arg-type]
    sim.at(t + 0.05, sim.crash, primary)
    sim.at(t + 0.06, sim.restart, primary)
    sim.at(t + 0.3, sim.heal)
    script(sim, "r", [get("x"), get("y")], PBClient, start=t + 1.0)
    sim.run(until=t + 6.0)
    return sim


def test_a_backup_that_lost_its_state_is_never_promoted_to_serve() -> None:
    sim = backup_restarts_before_promotion()
    view = sim.node("vs").view  # type: ignore[union-attr]
    assert view.num >= 3, "the view service promoted the backup (it could not know)"
    assert [t for t, _, _ in completions(sim, "r")] == ["info", "info"]
    linearizable(sim)


def test_forwards_carry_the_view_and_a_backup_refuses_another_view() -> None:
    """Unit-level: a backup takes forwards only from the primary of its view."""
    sim = pb_cluster(4, clients=0)
    primary, backup = up(sim)
    spare = ({"s1", "s2", "s3"} - {primary, backup}).pop()
    node = sim.node(backup)
    applied = node.applied  # type: ignore[union-attr]
    command = {"session": "s", "seq": 1, "f": "put", "key": "k", "value": "v", "time": 0.0}
    node.on_forward(spare, Forward(node.view.num, applied + 1, (command,)))  # type: ignore
    node.on_forward(primary, Forward(node.view.num - 1, applied + 1, (command,)))  # type: ignore
    node.on_state(spare, StateTransfer(node.view.num, 99, {"data": {"k": "v"}}))  # type: ignore
    assert node.applied == applied and "k" not in node.store.data  # type: ignore[union-attr]


# ----- broken variants, and the judge that catches each ------------------------------------------


class RepliesBeforeBackup(PBServer):
    """Answers the client as soon as the primary applied the operation (rule 3 broken)."""

    def on_request(self, src: str, msg: KVRequest) -> None:
        super().on_request(src, msg)
        if self.serving and self.applied in self.waiting:
            _, request, result = self.waiting.pop(self.applied)
            self.send(src, reply_to(request, result, self.id))


class ReadsWithoutBackup(PBServer):
    """Serves gets from its own store, without the backup (rule 3 broken for reads)."""

    def on_request(self, src: str, msg: KVRequest) -> None:
        if msg.f == "get" and self.serving:
            self.send(src, reply_to(msg, {"status": STATUS_OK,
                                            "value": self.store.read(msg.key)}, self.id))
            return
        super().on_request(src, msg)


class TrustingServer(PBServer):
    """Acts as primary whenever the view service says so, state or not (rule 5 broken)."""

    def become_primary(self) -> None:
        if self.view.num > 1:
            self.state_view = self.view.num - 1  # pretend
        super().become_primary()


class NoStateTransfer(PBServer):
    """Sends a new backup nothing of the past: only the operations from now on (rule 4
    broken)."""

    def send_state(self) -> None:
        self.send(self.view.backup,  # type: ignore[arg-type]
                  StateTransfer(self.view.num, self.applied, KVStore().snapshot()))


class ForgetsSessionsInTransfer(PBServer):
    """Sends a new backup the data but not the session table (rule 4 broken)."""

    def send_state(self) -> None:
        self.send(self.view.backup,  # type: ignore[arg-type]
                  StateTransfer(self.view.num, self.applied,
                                {**self.store.snapshot(), "sessions": {}}))


def reply_to(request: KVRequest, result: dict[str, Any], server: str) -> KVReply:
    return KVReply(request.session, request.seq, result["status"], result["value"], server)


def test_answering_before_the_backup_acknowledges_is_caught() -> None:
    assert any(not_linearizable(deposed_primary(RepliesBeforeBackup, seed)[0])
               for seed in range(3))


def test_reading_without_the_backup_is_caught() -> None:
    assert any(not_linearizable(deposed_primary(ReadsWithoutBackup, seed)[0])
               for seed in range(3))


def test_a_view_service_that_skips_the_ack_is_caught() -> None:
    broken = lambda: ViewService(ack_rule=False)  # noqa: E731
    sim = never_acknowledged(broken)
    report = check_views(sim.trace)
    assert not report.ok and "before view 2 was acknowledged" in report.explain()
    # Rule 5 alone keeps the data (s2 refuses to serve without the state) ...
    linearizable(sim)
    # ... a server that trusts the view service, as the lab's does, returns nothing.
    assert not_linearizable(never_acknowledged(broken, TrustingServer))
    # With the ack rule, even the trusting server is safe here.
    linearizable(never_acknowledged(ViewService, TrustingServer))


def test_a_server_that_serves_without_the_state_is_caught() -> None:
    assert not_linearizable(backup_restarts_before_promotion(TrustingServer))


def test_a_backup_without_state_transfer_is_caught() -> None:
    def scenario(server: Any, seed: int) -> Simulation:
        """Writes; the backup fails and the spare becomes the backup; the primary fails
        and the spare, promoted, is read."""
        sim = pb_cluster(seed, clients=0, server=server)
        primary, backup = up(sim)
        script(sim, "w", [put("x", "1"), put("y", "2")], PBClient)
        assert sim.run_until(done(2), timeout=5.0)
        sim.crash(backup)  # type: ignore[arg-type]
        sim.run(until=sim.now + 1.5)
        sim.crash(primary)
        script(sim, "r", [get("x"), get("y")], PBClient, start=sim.now + 1.0)
        sim.run(until=sim.now + 5.0)
        return sim

    linearizable(scenario(PBServer, 0))
    assert completions(scenario(PBServer, 0), "r") == [("ok", "get", "1"), ("ok", "get", "2")]
    assert not_linearizable(scenario(NoStateTransfer, 0))


def caught_by_nemesis(server: Any, seeds: range) -> bool:
    """True if some seed's nemesis run fails a judge."""
    for seed in seeds:
        try:
            under_faults(seed, server=server)
        except AssertionError:
            return True
    return False


def test_the_nemesis_catches_answering_before_the_backup() -> None:
    assert caught_by_nemesis(RepliesBeforeBackup, range(10))


def test_the_nemesis_catches_a_state_transfer_without_the_session_table() -> None:
    """The new backup does not know the sessions: it refuses their operations (session
    expired), so it misses writes, and the history is not linearizable once it is
    promoted."""
    assert caught_by_nemesis(ForgetsSessionsInTransfer, range(3))


def test_configuration_errors_are_clear() -> None:
    from dsys.errors import ConfigError

    with pytest.raises(ConfigError, match="dead_pings"):
        ViewService(dead_pings=1)
    with pytest.raises(ConfigError, match="batch"):
        PBServer(batch=0)
    with pytest.raises(ConfigError, match="coordinator"):
        PBClient(view_service="")


# ----- on the real runtime --------------------------------------------------------------------


async def test_the_same_nodes_run_on_the_trio_runtime(tmp_path: Path) -> None:
    import trio

    from dsys.check import check_linearizable
    from dsys.demos.pb_chain import workload
    from dsys.runtime import merge_histories, parse_cluster, run_client
    from tests.runtime.conftest import running
    from tests.runtime.helpers import cluster_text

    cluster = parse_cluster(cluster_text({"vs": None, "s1": None, "s2": None, "s3": None}))
    files = [tmp_path / f"{name}.jsonl" for name in ("c1", "c2")]
    with trio.fail_after(60):
        async with running(cluster, {"vs": ViewService, "s1": PBServer, "s2": PBServer,
                                     "s3": PBServer}) as hosts:
            async with trio.open_nursery() as nursery:
                for path in files:
                    nursery.start_soon(lambda p=path: run_client(
                        PBClient, cluster, p.stem, workload=workload(p.stem), ops=15,
                        history=p, echo_logs=False))
            view = hosts["vs"].node.view  # type: ignore[union-attr]
    merged = merge_histories(files)
    assert sum(e["type"] == "ok" for e in merged) == 30
    assert check_linearizable(merged, "kv").linearizable
    assert view.primary is not None and view.backup is not None, view

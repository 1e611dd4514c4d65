"""`dsys demo mapreduce`: w2's crash costs a lease and a re-execution, the slow w4's tasks
get backups, and the checker passes; what the demo prints says so."""

from __future__ import annotations

from rich.console import Console

from dsys.demos.mapreduce import CRASH_AT, UNTIL, present, scenario


def test_the_demo_shows_a_crash_recovered_and_a_straggler_backed_up() -> None:
    sim = scenario(1)
    sim.run(until=UNTIL)
    notes = [e for e in sim.trace if e.kind == "note"]
    expired = [e for e in notes if e.data["event"] == "expire"]
    assert [e.data["worker"] for e in expired] == ["w2"] and expired[0].time > CRASH_AT
    backups = [e.data["task"] for e in notes if e.data["event"] == "assign" and e.data["backup"]]
    slow = {e.data["task"] for e in notes if e.data["event"] == "assign"
            and e.data["worker"] == "w4"}
    assert set(backups) & slow, "no backup of a task of the slow worker"
    assert [e.time for e in notes if e.data["event"] == "job_done"] != []
    console = Console(record=True, width=120)
    present(sim, console)
    text = console.export_text()
    assert "mapreduce: ok (16 tasks checked)" in text and "backup" in text and "expire" in text

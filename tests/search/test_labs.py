"""The model checker on the labs: it finds the bug of most public mutants of labs 0 to 2 in
a small system, with a short path that replays in the simulator, and finds none in the
reference solutions."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsys import InvariantViolation
from tests.search.lab_systems import LABS, search_lab

#: Mutant -> the small system (of ``lab_systems``) whose search exposes it. The mutants
#: left out are bugs of efficiency, of size or of timing beyond a small system's reach
#: (a dedup window of 16 ids, a 320-request workload, a retry faster than a round trip),
#: or of a unit a search does not call (``VectorClock.merge``): the random tests of the
#: graders catch those.
CAUGHT = {
    "lab0": {"ack_mismatch": "two requests", "dedup_by_payload": "two requests",
             "dedup_last_only": "two requests", "empty_workload_never_done": "empty",
             "no_dedup": "two requests", "no_retransmission": "two requests",
             "timer_not_rearmed": "two requests"},
    "lab1": {"dedup_by_payload": "chat", "deliver_on_receipt": "chat", "fifo_only": "chat",
             "late_count": "chat", "no_count": "chat", "no_dedup": "chat",
             "no_rescan": "chat", "no_tick": "chat", "stamp_le_clock": "chat"},
    "lab2": {"accepts_stale_replies": "append then get",
             "dedup_by_request_id_only": "two clients",
             "executes_late_requests": "append then get",
             "forgets_after_a_while": "append then get",
             "new_id_per_retry": "append then get",
             "no_duplicate_table": "append then get",
             "one_entry_for_all_clients": "two clients",
             "reexecutes_duplicates": "append then get"},
}


def mutants(lab: str) -> list[Path]:
    return sorted((LABS[lab] / "mutants").glob("*.py"))


CASES = [(lab, mutant, system) for lab, table in CAUGHT.items()
         for mutant, system in table.items()]


@pytest.mark.parametrize(("lab", "mutant", "system"), CASES,
                         ids=[f"{lab}-{mutant}" for lab, mutant, _ in CASES])
def test_the_search_finds_the_mutants_bug_with_a_short_path_that_replays(
        lab: str, mutant: str, system: str) -> None:
    result = search_lab(lab, LABS[lab] / "mutants" / f"{mutant}.py", only=system)
    assert result.verdict == "violation", result.summary()
    assert len(result.path) <= 8, result.report()
    if result.problem.startswith("invariant"):
        # The same path in the simulator breaks the same invariant.
        with pytest.raises(InvariantViolation):
            result.replay(check=True)
    else:
        result.replay()  # a deadlock: the path replays; nothing is left to happen


def test_the_search_catches_at_least_half_of_the_public_mutants() -> None:
    total = sum(len(mutants(lab)) for lab in LABS)
    caught = sum(len(table) for table in CAUGHT.values())
    for lab, table in CAUGHT.items():
        names = {path.stem for path in mutants(lab)}
        assert set(table) <= names, f"{lab}: no such mutants {set(table) - names}"
    assert caught * 2 >= total, f"{caught} of {total}"


@pytest.mark.parametrize("lab", sorted(LABS))
def test_the_reference_solutions_have_no_violation(lab: str) -> None:
    result = search_lab(lab, LABS[lab] / "solution.py")
    assert result.verdict == "ok", result.report()  # exhausted within the bounds


@pytest.mark.soak
@pytest.mark.parametrize("lab", sorted(LABS))
def test_every_mutant_searched_with_every_system(lab: str) -> None:
    for path in mutants(lab):
        result = search_lab(lab, path)
        expected = "violation" if path.stem in CAUGHT[lab] else result.verdict
        assert result.verdict == expected, (path.stem, result.summary())

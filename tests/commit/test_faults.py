"""Many seeds under the seeded Nemesis (crashes that lose unsynced writes, partitions,
isolation) and 5% message loss: the checkers judge every run; the broken variants are
caught on some seed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dsys import Network, Simulation
from dsys.commit import Coordinator, Participant, check_atomicity, check_validity
from dsys.sim import Nemesis
from tests.commit.broken import (
    TRANSACTIONS,
    DecidesAloneOnTimeout,
    SendsBeforeLogging,
    VotesBeforeLogging,
    cluster,
)

FAULTS_END = 2.5  # the last transaction begins at 1.75
RUN_END = 5.0


def faulty_run(seed: int, *, coordinator: Callable[..., Coordinator] = Coordinator,
               participant: Callable[..., Participant] = Participant) -> Simulation:
    sim = cluster(seed, coordinator=coordinator, participant=participant,
                  network=Network(drop=0.05))
    Nemesis(faults=("crash", "partition", "isolate"), interval=(0.01, 0.1),
            duration=(0.05, 0.4), stop=FAULTS_END).install(sim)
    sim.run(until=RUN_END)
    return sim


def judge(sim: Simulation) -> list[str]:
    """The checkers' complaints, plus any participant still undecided after the faults."""
    problems = [r.explain() for r in (check_atomicity(sim.trace), check_validity(sim.trace))
                if not r]
    for tx in TRANSACTIONS:
        for p in tx.participants:
            outcome = sim.nodes[p].outcome(tx.txid)  # type: ignore[attr-defined]
            if outcome not in ("committed", "aborted"):
                problems.append(f"{p} has {tx.txid} {outcome} at t={sim.now}")
    return problems


def check_seeds(seeds: range) -> None:
    commits = 0
    for seed in seeds:
        sim = faulty_run(seed)
        assert judge(sim) == [], f"seed {seed}: {judge(sim)}"
        commits += sum(sim.nodes["tm"].decision(tx.txid) == "commit"  # type: ignore[attr-defined]
                       for tx in TRANSACTIONS)
    # the runs are not trivially safe: many transactions commit despite the faults
    assert commits >= len(seeds) * 2


def test_atomic_valid_and_decided_under_faults() -> None:
    check_seeds(range(150))


@pytest.mark.soak
def test_atomic_valid_and_decided_under_faults_soak() -> None:
    check_seeds(range(150, 3000))


@pytest.mark.parametrize(("variant", "seeds"), [
    (dict(coordinator=SendsBeforeLogging), 40),
    (dict(participant=DecidesAloneOnTimeout), 40),
    # a lost prepared record shows only when a peer asks before the decision arrives
    (dict(participant=VotesBeforeLogging), 300),
], ids=["sends-before-logging", "decides-alone", "votes-before-logging"])
def test_nemesis_catches_broken_variant(variant: dict[str, type], seeds: int) -> None:
    for seed in range(seeds):
        sim = faulty_run(seed, **variant)
        if not check_atomicity(sim.trace) or not check_validity(sim.trace):
            return
    pytest.fail(f"no seed in range({seeds}) caught {variant}")

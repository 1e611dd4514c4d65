"""Same code + seed + scenario = same trace, in new processes, under any PYTHONHASHSEED."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCENARIO = textwrap.dedent(
    """
    import sys
    from dsys import Nemesis, Network, Simulation
    from dsys.demos import broadcast, election

    seed = int(sys.argv[1])
    digests = []
    sim = election.scenario(seed=seed)
    Nemesis(faults=("partition", "oneway", "crash", "clock"), interval=(0.2, 0.4), stop=3.0).install(sim)
    sim.run(until=3.5)
    digests.append(sim.trace.digest())
    sim = broadcast.scenario(seed=seed)
    sim.network.update(duplicate=0.2, reorder=0.2)
    sim.run(until=3.0)
    digests.append(sim.trace.digest())
    print(" ".join(digests), len(sim.trace))
    """
)


def run_in_subprocess(seed: int, hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run([sys.executable, "-c", SCENARIO, str(seed)], env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout.strip()


def test_same_seed_same_trace_under_different_hash_seeds() -> None:
    outputs = {run_in_subprocess(11, h) for h in ("0", "1", "12345", "random")}
    assert len(outputs) == 1, outputs
    (output,) = outputs
    assert int(output.split()[-1]) > 500  # a real run, not an empty one


def test_a_different_seed_gives_a_different_trace() -> None:
    assert run_in_subprocess(11, "0") != run_in_subprocess(12, "0")


def test_same_seed_same_digest_in_process_and_after_save_and_load(tmp_path: object) -> None:
    from pathlib import Path

    from dsys import Trace
    from dsys.demos import election

    first = election.scenario(seed=4)
    first.run(until=2.0)
    second = election.scenario(seed=4)
    second.run(until=2.0)
    assert first.trace.digest() == second.trace.digest()
    path = first.trace.save(Path(str(tmp_path)) / "t.jsonl")
    loaded = Trace.load(path)
    assert loaded.digest() == first.trace.digest() and len(loaded) == len(first.trace)

"""Every messaging protocol gives the same trace for the same seed, under any PYTHONHASHSEED."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = textwrap.dedent(
    """
    from dsys import Nemesis
    from dsys.demos import causal, gossip
    from dsys.messaging import (CausalBroadcast, IsisBroadcast, SequencerBroadcast,
                                check_broadcast)
    from tests.messaging.helpers import HOSTILE, run_group
    from tests.messaging.test_pubsub import build as pubsub
    from tests.messaging.test_rpc import build as rpc

    digests = []
    for protocol in (CausalBroadcast, SequencerBroadcast, IsisBroadcast):
        nemesis = None if protocol is IsisBroadcast else Nemesis(
            faults=("crash", "partition"), interval=(0.2, 0.4), stop=2.0)
        sim = run_group(protocol, 5, nodes=5, reply=0.5, network=HOSTILE, until=4.0,
                        nemesis=nemesis)
        digests.append(sim.trace.digest()[:16])
    for module in (causal, gossip):
        sim = module.scenario(seed=3)
        sim.run(until=module.UNTIL)
        digests.append(sim.trace.digest()[:16])
    for sim in (rpc("exactly-once", 4, calls=5, retries=None), pubsub(4, qos=1)):
        sim.run(until=3.0)
        digests.append(sim.trace.digest()[:16])
    print(" ".join(digests))
    """
)


def digests(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", SCENARIO], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout.strip()


def test_same_seed_same_traces_under_different_hash_seeds() -> None:
    outputs = {digests(h) for h in ("0", "1", "4242")}
    assert len(outputs) == 1, outputs
    assert len(outputs.pop().split()) == 7

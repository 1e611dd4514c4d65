"""bench/replication.py and the R/W plot of the quorums page.

The bench, run small, prints its three tables each with its anchor (the R=W=1 row, the
full comparison, primary-backup); the quorum store it puts beside primary-backup and
chain runs exactly pb_chain's workload; the page's plot is drawn from
:func:`dsys.demos.quorum.sweep_quorums` under the conditions its text states, and what
the text reads from the plot holds on the plot's data.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import re
from pathlib import Path
from random import Random
from types import ModuleType

import pytest

from dsys.demos import pb_chain
from dsys.demos.quorum import (
    PLOT,
    PLOT_SEEDS,
    QuorumMeasurement,
    SweepConditions,
    measure_workload,
    sweep_quorums,
    workload_cluster,
)
from dsys.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "concepts" / "quorums-and-dynamo.md"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def plotted() -> dict[tuple[int, int], QuorumMeasurement]:
    """The sweep the page's plot draws (about 3 s of CPU)."""
    return {(m.r, m.w): m for m in sweep_quorums(PLOT, PLOT_SEEDS)}


# ----- the bench ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def printed() -> str:
    """The bench's output, run small (a few seconds)."""
    bench = load(ROOT / "bench" / "replication.py")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bench.main(["--seeds", "1", "--keys", "100", "1000", "--divergent", "1", "100",
                    "--ae-seeds", "1", "--clients", "2", "--ops", "15", "--runs", "1"])
    return out.getvalue()


def section(text: str, number: int) -> str:
    """The lines of table ``number`` (from its heading to the next one)."""
    parts = re.split(r"^(?=\d\. )", text, flags=re.MULTILINE)
    return next(part for part in parts if part.startswith(f"{number}. "))


def test_the_quorum_table_has_every_r_and_w_against_r_w_1(printed: str) -> None:
    table = section(printed, 1)
    assert "anchor: the R=W=1 row" in table and "vs R=W=1" in table
    rows = re.findall(r"^\s*(\d)\s+(\d)\s+(yes|no)\s+(.*)$", table, flags=re.MULTILINE)
    assert [(int(r), int(w)) for r, w, _, _ in rows] == [
        (r, w) for r in (1, 2, 3) for w in (1, 2, 3)]
    for r, w, strict, rest in rows:
        assert strict == ("yes" if int(r) + int(w) > 3 else "no")
        if (r, w) == ("1", "1"):  # the anchor over itself ("-": no stale read to divide)
            *_, get, put, stale = rest.split()
            assert (get, put) == ("1.00", "1.00") and stale in ("1.00", "-")
    total = re.search(r"R\+W>N: (\d+) stale reads of (\d+) gets \(theory: none\)", table)
    assert total is not None and total.group(1) == "0" and int(total.group(2)) > 0


def test_the_anti_entropy_table_sets_merkle_against_the_full_comparison(printed: str
                                                                         ) -> None:
    table = section(printed, 2)
    assert "anchor: the full comparison" in table and "Merkle / full" in table
    rows = re.findall(r"^\s*([\d,]+)\s+(\d+)\s+([\d.]+)\s+([\d,]+)\s+([\d.]+)\s+([\d,]+)"
                      r"\s+([\d.]+)\s+([\d.]+)$", table, flags=re.MULTILINE)
    assert [(keys, divergent) for keys, divergent, *_ in rows] == [
        ("100", "1"), ("100", "100"), ("1,000", "1"), ("1,000", "100")]
    for _, _, _, merkle, _, full, _, printed_ratio in rows:
        ratio = int(merkle.replace(",", "")) / int(full.replace(",", ""))
        assert math.isclose(float(printed_ratio), ratio, abs_tol=0.006)
    by_cell = {(keys, divergent): float(rest[-1]) for keys, divergent, *rest in rows}
    # a tree pays when few keys differ, more so the more keys agree...
    assert by_cell["1,000", "1"] < by_cell["100", "1"] < 1.0
    # ...and costs more than sending everything when every key differs
    assert by_cell["100", "100"] > 1.0


def test_the_designs_table_puts_four_designs_against_primary_backup(printed: str) -> None:
    table = section(printed, 3)
    assert "anchor: primary-backup" in table and "vs p-b" in table
    rows = {line.split()[0]: line.split() for line in table.splitlines()
            if line.split() and line.split()[0] in ("primary-backup", "chain", "craq",
                                                    "quorum")}
    assert list(rows) == ["primary-backup", "chain", "craq", "quorum"]
    assert rows["primary-backup"][-4:] == ["1.00"] * 4  # the anchor over itself
    for design, cells in rows.items():
        offset = 1 if design == "quorum" else 0  # ("quorum R=W=2": two words)
        assert cells[1 + offset:3 + offset] == ["30", "0"], cells  # 2 clients x 15, no info
    messages = re.search(r"quorum: ([\d.]+) messages an operation \(theory: 1 \+ 2\(N-1\) "
                         r"\+ 1 = 6, plus read repairs\)", table)
    assert messages is not None and 6.0 <= float(messages.group(1)) < 6.5


# ----- the quorum store on pb_chain's workload ---------------------------------------------


def test_the_quorum_store_runs_pb_chains_workload_appends_as_puts() -> None:
    seed, clients, ops, keys = 3, 2, 12, ("k0", "k1")
    sim = workload_cluster(seed=seed, clients=clients, ops=ops, keys=len(keys), reads=0.3)
    sim.run_until(pb_chain.finished(clients * ops), timeout=30.0)
    for i in range(1, clients + 1):
        client = f"c{i}"
        draw = pb_chain.workload(client, keys, reads=0.3)
        rng = Random(f"{seed}/workload/{client}")  # (the simulator's workload stream)
        expected = []
        for _ in range(ops):
            op = draw(rng)
            expected.append(("put" if op["f"] == "append" else op["f"], op["key"],
                             op["value"]))
        invoked = [(e["f"], e["key"], e["value"]) for e in sim.history
                   if e["client"] == client and e["type"] == "invoke"]
        assert invoked == expected
        assert {f for f, _, _ in expected} == {"get", "put"}


def test_larger_quorums_wait_longer_and_send_the_same() -> None:
    small = measure_workload(1, 1, clients=2, ops=20)
    large = measure_workload(3, 3, clients=2, ops=20)
    assert (small.ok, small.info, large.ok, large.info) == (40, 0, 40, 0)
    assert small.p50 < large.p50  # the slowest of three replicas, not the coordinator
    # every operation asks all N replicas whatever R and W: 6 messages, + read repairs
    assert 6.0 <= small.messages_per_op < 6.5 and 6.0 <= large.messages_per_op < 6.5
    with pytest.raises(ConfigError, match="servers >= n=3"):
        workload_cluster(servers=2)
    with pytest.raises(ConfigError, match="1 <= n <= nodes"):
        SweepConditions(n=3, nodes=2)
    with pytest.raises(ConfigError, match="reads in"):
        SweepConditions(reads=1.5)


# ----- the page's plot ------------------------------------------------------------------------


def test_what_the_page_reads_from_the_plot_holds_on_its_data(
        plotted: dict[tuple[int, int], QuorumMeasurement]) -> None:
    assert sorted(plotted) == [(r, w) for r in (1, 2, 3) for w in (1, 2, 3)]
    # "not one stale read, in any cell" with R + W > N
    assert all(m.stale_reads == 0 for (r, w), m in plotted.items() if r + w > 3)
    # "about one in ten with R = W = 1, about one in a hundred with R + W = N"
    assert 0.07 <= plotted[1, 1].stale_rate <= 0.15
    for cell in ((1, 2), (2, 1)):
        assert 0.003 <= plotted[cell].stale_rate <= 0.03, plotted[cell]
        assert plotted[cell].stale_rate < plotted[1, 1].stale_rate / 4
    # "a get's median latency depends on R alone and a put's on W alone"
    for k in (1, 2, 3):
        gets = [plotted[k, w].get_latency.p50 for w in (1, 2, 3)]
        puts = [plotted[r, k].put_latency.p50 for r in (1, 2, 3)]
        assert max(gets) / min(gets) < 1.15 and max(puts) / min(puts) < 1.15
    # "about 35, 65 and 95 ms for 1, 2 and 3"
    for k, about in ((1, 0.035), (2, 0.065), (3, 0.095)):
        for m in [plotted[k, w].get_latency for w in (1, 2, 3)] + [
                plotted[r, k].put_latency for r in (1, 2, 3)]:
            assert abs(m.p50 - about) / about < 0.15, (k, m)


def test_the_plot_is_drawn_and_the_page_states_its_conditions(
        plotted: dict[tuple[int, int], QuorumMeasurement]) -> None:
    generator = load(ROOT / "docs" / "gen_replication_pictures.py")
    caption = generator.caption(PLOT, PLOT_SEEDS)
    drawing = generator.quorum_picture(list(plotted.values()), caption)
    assert drawing.startswith("<svg") and drawing.rstrip().endswith("</svg>")
    for r, w in plotted:
        assert f"R+W={r + w}</text>" in drawing
    assert drawing.count("no stale read</text>") == 6  # the six cells with R + W > N
    assert f"{plotted[1, 1].stale_rate:.1%} stale</text>" in drawing
    assert drawing.count('stroke-width="3"') == 4  # the staircase: four cell edges
    assert ("4 clients x 40 operations (50% gets) on 1 key" in caption
            and "1 ms + an exponential delay of mean 20 ms" in caption
            and f"{len(PLOT_SEEDS)} seeds per cell" in caption)
    page = PAGE.read_text()
    assert "../assets/generated/quorum-tradeoff.svg" in page
    text = " ".join(page.split())
    assert (PLOT.n, PLOT.keys, PLOT.reads) == (3, 1, 0.5)  # "N = 3", "a single key", "half"
    for stated in (f"{PLOT.clients} clients read and write a single key", "half gets",
                   f"{PLOT.ops} operations each",
                   f"{PLOT.minimum * 1000:g} ms plus an exponential delay of mean "
                   f"{PLOT.mean * 1000:g} ms", f"{len(PLOT_SEEDS)} seeds per cell"):
        assert stated in text, stated

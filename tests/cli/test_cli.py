"""The dsys command: demos, trace tools, version, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import dsys
from dsys.cli import main
from dsys.demos import DEMOS


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dsys.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env={"COLUMNS": "160", "PATH": ""})


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dsys {dsys.__version__}"


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_every_demo_runs_and_saves_what_it_is_asked_to(name: str, tmp_path: Path) -> None:
    trace, drawing = tmp_path / "t.jsonl", tmp_path / "t.svg"
    result = run("demo", name, "--seed", "2", "--trace", str(trace), "--svg", str(drawing))
    assert result.returncode == 0, result.stderr
    assert "trace digest:" in result.stdout and "statistics" in result.stdout
    assert trace.exists() and drawing.read_text().startswith("<svg")
    digest = run("trace", "digest", str(trace)).stdout.strip()
    assert f"trace digest: {digest}" in result.stdout


def test_the_election_demo_shows_a_coordinator_lost_and_recovered() -> None:
    out = run("demo", "election", "--seed", "1").stdout
    for number, title in enumerate(["A coordinator is elected", "The coordinator crashes",
                                    "A partition: two coordinators", "The partition heals",
                                    "The crashed coordinator comes back"], start=1):
        assert f"{number}. {title}" in out
    # n5, then n4 after the crash, n3 beside n4 in the partition, n4 after the heal, and
    # n5 again: five coordinators at least (a comeback may take two epochs)
    assert out.count("COORDINATOR, epoch") >= 5
    assert "suspects n5" in out and "holds an election" in out and "Election →" in out
    assert "partition" in out and "heal" in out and "crashed" in out
    assert "election checker: one leader per epoch: ok" in out
    assert "election checker: agreement: ok" in out
    assert "not promised by bully: one leader at a time: " in out and "violation(s)" in out


def test_the_same_seed_prints_the_same_digest() -> None:
    first = run("demo", "pingpong", "--seed", "5").stdout
    second = run("demo", "pingpong", "--seed", "5").stdout
    assert first.splitlines()[-2:] == second.splitlines()[-2:]


def test_trace_show_and_svg_with_filters(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    assert run("demo", "pingpong", "--trace", str(trace)).returncode == 0
    shown = run("trace", "show", str(trace), "--node", "a", "--kind", "send", "--limit", "5")
    assert shown.returncode == 0
    assert "send Ping" in shown.stdout and "recv" not in shown.stdout
    assert "(last 5 shown)" in shown.stdout
    out = tmp_path / "d.svg"
    drawn = run("trace", "svg", str(trace), "-o", str(out), "--start", "0.1", "--end", "0.3")
    assert drawn.returncode == 0 and out.read_text().startswith("<svg")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "nosuch"], "dsys: error: no demo named 'nosuch'"),
        (["demo", "pingpong", "--until", "-1"], "dsys: error: --until must be positive"),
        (["trace", "show", "missing.jsonl"], "dsys: error: trace file not found: missing.jsonl"),
        (["trace", "digest", "bad.jsonl"], "dsys: error: bad.jsonl:1: not a dsys trace event"),
    ],
)
def test_user_errors_print_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text("not json\n")
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == message or result.stderr.strip().startswith(message)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_option_is_reported_by_argparse() -> None:
    result = run("demo", "pingpong", "--seed", "many")
    assert result.returncode == 2 and "invalid int value: 'many'" in result.stderr

"""``dsys check model``: the command line of the model checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsys.cli import main

APP = '''
from dsys import Node, message


@message(name="clisearch:Vote")
class Vote:
    pass


class Counter(Node):
    def on_start(self):
        self.votes = 0
        if self.id != "counter":
            self.send("counter", Vote())

    def on_message(self, src, msg):
        self.votes += 1


def at_most_two(view):
    votes = view.node("counter").votes
    assert votes <= 2, f"counted {votes} votes"


def two_votes(view):
    return view.node("counter").votes == 2
'''


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("app") / "cli_search_app.py"
    path.write_text(APP)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", "model", *args])
    return code, capsys.readouterr().out


def test_a_violation_exits_1_with_the_path_and_saves_the_trace(
        app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "bug.jsonl"
    code, out = run(capsys, f"{app}:Counter", "--nodes", "counter,v1,v2", "--duplicates", "1",
                    "--invariant", f"{app}:at_most_two", "--trace", str(trace))
    assert code == 1
    assert "VIOLATION: invariant 'at_most_two' violated: counted 3 votes" in out
    assert "duplicate Vote()" in out and "4. deliver Vote()" in out
    assert trace.exists() and trace.read_text().count('"kind":"recv"') == 3


def test_no_violation_exits_0_and_a_goal_is_reported_with_its_path(
        app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, f"{app}:Counter", "--nodes", "counter,v1,v2",
                    "--invariant", f"{app}:at_most_two")
    assert code == 0 and "no violation (4 states" in out
    code, out = run(capsys, f"{app}:Counter", "--nodes", "counter,v1,v2",
                    "--goal", f"{app}:two_votes", "--strategy", "iddfs", "--depth", "5")
    assert code == 0 and "goal reached: two_votes" in out and "2. deliver" in out


def test_a_limit_exits_2(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, f"{app}:Counter", "--nodes", "counter,v1,v2", "--duplicates", "2",
                    "--max-states", "3")
    assert code == 2 and "stopped at a limit" in out


def test_mistakes_are_one_line_errors(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "model", "--nodes", "a"]) == 2
    assert "--nodes needs a TARGET" in capsys.readouterr().err
    assert main(["check", "model", f"{app}:Counter", "--nodes", "a", "--strategy", "dfs"]) == 2
    assert "needs --depth" in capsys.readouterr().err
    assert main(["check", "model", f"{app}:Nope", "--nodes", "a"]) == 2
    assert "has no 'Nope'" in capsys.readouterr().err

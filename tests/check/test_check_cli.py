"""``dsys check lin``: exit statuses 0/1/2/3, one-line errors, drawings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dsys.cli import main

GOOD = [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "read", "value": None},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "ok", "f": "read", "value": 1},
]
BAD = [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "read", "value": None},
    {"process": 1, "type": "ok", "f": "read", "value": 2},
]


def write_history(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    return path


def hard_history(path: Path, writers: int = 18) -> Path:
    """Overlapping writes and an impossible read: deciding it means an exhaustive search."""
    events: list[dict[str, Any]] = []
    events += [{"process": p, "type": "invoke", "f": "write", "value": p} for p in range(writers)]
    events += [
        {"process": writers, "type": "invoke", "f": "read", "value": None},
        {"process": writers, "type": "ok", "f": "read", "value": -1},
    ]
    events += [{"process": p, "type": "ok", "f": "write", "value": p} for p in range(writers)]
    return write_history(path, events)


def test_linearizable_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_history(tmp_path / "good.jsonl", GOOD)
    assert main(["check", "lin", "--model", "register", str(path)]) == 0
    out = capsys.readouterr().out
    assert "linearizable" in out and "not-linearizable" not in out


def test_not_linearizable_exits_1_and_explains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_history(tmp_path / "good.jsonl", GOOD)
    bad = write_history(tmp_path / "bad.jsonl", BAD)
    assert main(["check", "lin", "--model", "register", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "not-linearizable" in out
    assert "read -> 2: not possible, because the register holds 1" in out


def test_undecided_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = hard_history(tmp_path / "hard.jsonl")
    assert main(["check", "lin", "--model", "register", "--timeout", "0.001", str(path)]) == 2
    assert "Undecided" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--model", "queue", "{good}"], "unknown model 'queue'"),
        (["--model", "register", "{missing}"], "no such file"),
        (["--model", "register", "{malformed}"], "line 2: not valid JSON"),
        (["--model", "cas-register", "{orphan}"], "line 1: completion (ok read) without an invoke"),
        (["--model", "register", "{good}", "--draw", "{tmp}/out.png"], "must end in .svg or .html"),
        (["--model", "register", "--timeout", "-1", "{good}"], "--timeout must be positive"),
    ],
)
def test_bad_input_exits_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    files = {
        "good": write_history(tmp_path / "good.jsonl", GOOD),
        "missing": tmp_path / "missing.jsonl",
        "malformed": tmp_path / "malformed.jsonl",
        "orphan": write_history(tmp_path / "orphan.jsonl", GOOD[3:]),
        "tmp": tmp_path,
    }
    files["malformed"].write_text(json.dumps(GOOD[0]) + "\n{not json\n")
    argv = ["check", "lin", *(a.format(**files) for a in arguments)]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("dsys: error: ")


def test_argument_errors_exit_3_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "lin", "some-file.jsonl"])  # no --model
    assert caught.value.code == 3
    assert "--model" in capsys.readouterr().err


def test_draw_one_file(tmp_path: Path) -> None:
    history = write_history(tmp_path / "bad.jsonl", BAD)
    for name in ("bad.svg", "bad.html"):
        out = tmp_path / name
        assert main(["check", "lin", "--model", "register", str(history), "--draw", str(out)]) == 1
        text = out.read_text()
        assert "<svg" in text and "stuck here" in text


def test_draw_several_files_into_a_folder(tmp_path: Path) -> None:
    good = write_history(tmp_path / "good.jsonl", GOOD)
    bad = write_history(tmp_path / "bad.jsonl", BAD)
    folder = tmp_path / "pictures"
    argv = ["check", "lin", "--model", "register", str(good), str(bad), "--draw", str(folder)]
    assert main(argv) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["bad.html", "good.html"]


def test_the_installed_command_line(tmp_path: Path) -> None:
    """The real entry point, in a fresh interpreter: exit status and a one-line error."""
    bad = write_history(tmp_path / "bad.jsonl", BAD)
    run = subprocess.run(
        [sys.executable, "-m", "dsys.cli", "check", "lin", "--model", "register", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "dsys.cli", "check", "lin", "--model", "nope", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3
    assert run.stderr.strip().count("\n") == 0 and "unknown model 'nope'" in run.stderr

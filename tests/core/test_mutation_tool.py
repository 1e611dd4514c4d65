"""bench/mutation.py, the mutation-testing tool: it makes real one-token mutants, and a
mutant it installs is what the tests actually run against (issue 21)."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dsys_bench_mutation", ROOT / "bench" / "mutation.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def test_each_mutant_is_one_change_that_parses_and_differs() -> None:
    mutants = tool.mutants_of("dsys/core/ids.py")
    original = (ROOT / "dsys/core/ids.py").read_text()
    assert {m.kind for m in mutants} == {"return"}  # the module is one f-string return
    for mutant in tool.mutants_of("dsys/sim/network.py"):
        text = mutant.mutated()
        assert text != mutant.original
        ast.parse(text)
        assert mutant.original[: mutant.start] == text[: mutant.start]
    kinds = {m.kind for m in tool.mutants_of("dsys/sim/network.py")}
    assert kinds == {"flip", "boolop", "negate", "const", "arith", "drop", "return"}
    assert all(m.original == original for m in mutants)


def test_docstrings_strings_and_annotations_are_not_mutated() -> None:
    for mutant in tool.mutants_of("dsys/sim/network.py"):
        assert not mutant.source_line.startswith(('"""', "#"))
        assert mutant.kind != "drop" or mutant.source_line != "..."


def test_a_sample_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    first, total = tool.sample_of("dsys/sim/network.py", 10, 0)
    again, _ = tool.sample_of("dsys/sim/network.py", 10, 0)
    other, _ = tool.sample_of("dsys/sim/network.py", 10, 1)
    assert len(first) == 10 and total > 10
    assert [m.label() for m in first] == [m.label() for m in again]
    assert [m.label() for m in first] != [m.label() for m in other]


def test_the_equivalents_file_names_real_mutants() -> None:
    entries = tool.load_equivalents()
    assert entries and all(e["reason"] for e in entries)
    every = {
        (m.path, m.source_line, f"{m.kind} {m.change}")
        for path in sorted({e["file"] for e in entries})
        for m in tool.mutants_of(path)
    }
    for entry in entries:
        assert (entry["file"], entry["line"], entry["change"]) in every, entry


def test_an_installed_mutant_is_what_the_tests_run_against() -> None:
    # message_id returning None must fail a test that reads a frame's id. (pytest's
    # assertion rewriter once loaded dsys modules itself, ahead of the hook, and every
    # mutant "survived": this catches that kind of silent failure of the tool.)
    (mutant,) = tool.mutants_of("dsys/core/ids.py")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "sitecustomize.py").write_text(tool.SITECUSTOMIZE)
        Path(tmp, "mutant.py").write_text(mutant.mutated())
        env = dict(os.environ)
        env["PYTHONPATH"] = tmp + os.pathsep + env.get("PYTHONPATH", "")
        env["DSYS_MUTANT_MODULE"] = "dsys.core.ids"
        env["DSYS_MUTANT_FILE"] = str(Path(tmp, "mutant.py"))
        test = "tests/runtime/test_wire_mutants.py::test_sealing_counts_and_names_frames"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--assert=plain",
            "-p",
            "no:cacheprovider",
            test,
        ]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "1 failed" in done.stdout and "None" in done.stdout

"""The README's Python example runs, and its commands are the ones CI runs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})


def test_ci_extracts_the_two_quickstart_commands() -> None:
    script = ROOT / ".ci" / "run"
    for name, expected in (("demo", "dsys demo raft"), ("test", "pytest")):
        out = subprocess.run(
            ["bash", "-c", f"source <(sed -n '/^readme_block()/,/^}}/p' {script}); "
                           f"cd {ROOT} && readme_block {name}"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()
        assert out.startswith("python3 -m venv .venv") and out.endswith(expected), out

"""``dsys lint``: each check flags its problem, leaves the fixed code alone, and can be
silenced; the command prints file:line:col and exits 1 on findings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dsys.cli import main
from dsys.lint import CODES, lint_paths, lint_source

ROOT = Path(__file__).resolve().parent.parent


def codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source), "x.py")]


# (bad, good) pairs: the bad one is flagged with the code (and no other), the good one (the
# fix the hint says, or a look-alike that is fine) is not flagged at all.
CASES = {
    "DS101": [
        ("import time\nt = time.time()", "t = self.now"),
        ("from time import monotonic as m\nt = m()", "import time\ntime.sleep(0)"),
        ("import datetime\nt = datetime.datetime.now()",
         "import datetime\nd = datetime.timedelta(1)"),
        ("from datetime import date\nt = date.today()",
         "from datetime import date\nd = date(2020, 1, 1)"),
        ("import time as t\nx = t.perf_counter_ns()", "x = 1"),
    ],
    "DS102": [
        ("import random\nx = random.choice(peers)", "x = self.rng.choice(peers)"),
        ("from random import shuffle\nshuffle(peers)", "self.rng.shuffle(peers)"),
        ("import random\nr = random.Random()", "import random\nr = random.Random(seed)"),
        ("import uuid\nu = uuid.uuid4()", "import uuid\nu = uuid.uuid5(uuid.NAMESPACE_DNS, 'a')"),
        ("import os\nb = os.urandom(8)", "import os\np = os.path.join('a', 'b')"),
    ],
    "DS103": [
        ("for p in {'a', 'b'}:\n    send(p)", "for p in sorted({'a', 'b'}):\n    send(p)"),
        ("s = set(peers)\nfor p in s:\n    send(p)",
         "s = set(peers)\nfor p in sorted(s):\n    send(p)"),
        ("xs = [p for p in set(a) | set(b)]", "xs = sorted(p for p in set(a) | set(b))"),
        ("def f(peers: set[str]):\n    return list(peers)",
         "def f(peers: set[int]):\n    return list(peers)"),
        ("def f(s: frozenset[str]):\n    return ','.join(s)",
         "def f(s: frozenset[str]):\n    return ','.join(sorted(s))"),
        ("s = {x for x in a}\nfirst = s.pop()", "s = {x for x in a}\nfirst = min(s)"),
        ("for x in set(a).union(b):\n    f(x)", "for x in {1, 2, 3}:\n    f(x)"),
        ("class N(Node):\n    def on_start(self):\n        self.up = set()\n"
         "    def on_timer(self, name):\n        for p in self.up:\n            self.send(p, 1)",
         "class N(Node):\n    def on_start(self):\n        self.up = set()\n"
         "    def on_timer(self, name):\n        if any(p == name for p in self.up):\n"
         "            self.send(name, 1)"),
        ("@attrs.define\nclass S:\n    peers: set[str]\n    def each(self):\n"
         "        return [p for p in self.peers]",
         "@attrs.define\nclass S:\n    peers: set[str]\n    def each(self):\n"
         "        return [p for p in sorted(self.peers)]"),
    ],
    "DS104": [
        ("SEEN = []\ndef on_message(src, msg):\n    SEEN.append(msg)",
         "SEEN = []\ndef on_message(src, msg):\n    SEEN = [msg]\n    SEEN.append(msg)"),
        ("TABLE = {}\ndef put(k, v):\n    TABLE[k] = v",
         "TABLE = {}\ndef get(k):\n    return TABLE[k]"),
        ("count = 0\ndef bump():\n    global count", "count = 0\ndef bump(count):\n    count += 1"),
        ("from collections import deque\nQ = deque()\ndef f():\n    Q.popleft()",
         "Q = (1, 2)\ndef f():\n    return Q[0]"),
    ],
    "DS105": [
        ("@message\nclass M:\n    items: list[int]",
         "@message\nclass M:\n    items: tuple[int, ...]"),
        ("@dsys.message(name='x')\nclass M:\n    table: dict[str, int]",
         "@dsys.message(name='x')\nclass M:\n    table: tuple[tuple[str, int], ...]"),
        ("@message\nclass M:\n    peers: 'set[str]'",
         "@message\nclass M:\n    peers: frozenset[str]"),
        ("@message\nclass M:\n    ops: tuple[dict[str, int], ...]",
         "class NotAMessage:\n    ops: list[int]"),
    ],
    "DS106": [
        ("class N(Node):\n    def on_start(self):\n        self.pick = lambda x: x",
         "class N(Node):\n    def on_start(self):\n        self.pick = max"),
        ("class N(Node):\n    def on_start(self):\n        self.todo = iter(range(3))",
         "class N(Node):\n    def on_start(self):\n        self.todo = list(range(3))"),
        ("class N(Component):\n    def on_start(self):\n        self.ids = (x for x in a)",
         "class N(Component):\n    def on_start(self):\n        self.ids = [x for x in a]"),
        ("class N(Node):\n    def key(self, m):\n        return id(m)",
         "class Helper:\n    def key(self, m):\n        return id(m)"),
    ],
}


@pytest.mark.parametrize(("code", "bad", "good"), [
    (code, bad, good) for code, pairs in CASES.items() for bad, good in pairs])
def test_each_check_flags_its_problem_and_not_the_fix(code: str, bad: str, good: str) -> None:
    found = codes(bad)
    assert found and {c for _, c in found} == {code}, found
    assert codes(good) == []


def test_every_code_has_cases() -> None:
    assert set(CASES) == set(CODES)


def test_ignore_comments_silence_one_code_or_all() -> None:
    source = "import time, random\nt = time.time() + random.random()  # dsys: ignore[DS101]\n"
    assert codes(source) == [(2, "DS102")]
    assert codes(source.replace("[DS101]", "[DS101, DS102]")) == []
    assert codes(source.replace("[DS101]", "")) == []
    assert codes(source.replace("# dsys: ignore[DS101]", "# a comment")) == [
        (2, "DS101"), (2, "DS102")]


def test_a_finding_says_where_what_and_how_to_fix() -> None:
    (finding,) = lint_source("import random\n\nx = 1 + random.randint(1, 6)\n", "n.py")
    assert str(finding) == ("n.py:3:9: DS102 global random.randint() (fix: use self.rng, the "
                            "node's seeded random generator)")


def test_a_syntax_error_is_a_finding_not_a_traceback() -> None:
    (finding,) = lint_source("def f(:\n", "bad.py")
    assert finding.code == "DS100" and finding.line == 1


def test_the_known_nondeterministic_implementations_are_caught() -> None:
    """The implementations the grader's determinism check rejects are flagged statically."""
    found = lint_paths([ROOT / "tests" / "labs" / "nondeterministic"])
    assert {(Path(f.path).name, f.code) for f in found} == {
        ("lab0_global_random.py", "DS102"), ("lab0_set_order.py", "DS103"),
        ("lab1_set_of_peers.py", "DS103")}
    mutant = ROOT / "labs" / "lab2-rpc" / "mutants" / "wall_clock_timeout.py"
    assert {f.code for f in lint_paths([mutant])} == {"DS101"}


def test_the_reference_solutions_are_clean() -> None:
    assert lint_paths(sorted((ROOT / "labs").glob("*/solution.py"))) == []


def test_the_command_prints_findings_and_exits_1(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text("import time\nnow = time.time()\n")
    (tmp_path / "pkg" / "good.py").write_text("x = 1\n")
    assert main(["lint", str(tmp_path / "pkg")]) == 1
    out, err = capsys.readouterr()
    assert out == f"{tmp_path / 'pkg' / 'bad.py'}:2:7: DS101 wall-clock time.time() (fix: use " \
                  "self.now, the node's virtual time)\n"
    assert "1 finding(s) in 2 file(s)" in err
    assert main(["lint", str(tmp_path / "pkg" / "good.py")]) == 0
    assert main(["lint", "--select", "DS103", str(tmp_path / "pkg")]) == 0
    capsys.readouterr()
    assert main(["lint", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["lint", "--select", "DS999", str(tmp_path)]) == 2

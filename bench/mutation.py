"""Mutation testing: how many one-token bugs in a module do its tests catch?

For a module and its matching tests, this generates *mutants* — copies of the module with
one small change each — samples N of them with a fixed seed, runs the tests against each,
and prints the score (the share of mutants some test fails on) and every survivor with
``file:line`` and the change. It is the measure the labs hold student graders to
(``tests/labs``), turned on dsys's own tests.

The changes, one per mutant:

- ``flip``: a comparison negated (``<`` to ``>=``, ``==`` to ``!=``, ``in`` to ``not in``, ...);
- ``boolop``: ``and`` swapped with ``or``;
- ``negate``: the condition of an ``if``/``while``/``assert``/conditional expression negated;
- ``const``: a number changed (``n`` to ``n + 1``, ``0.5`` to ``1.5``), ``True`` and
  ``False`` swapped;
- ``arith``: ``+``/``-``, ``*``/``/``, ``//``/``*``, ``&``/``|``, ``<<``/``>>`` swapped
  (also in ``+=``);
- ``drop``: a statement replaced with ``pass``;
- ``return``: ``return x`` replaced with ``return None``.

Strings, docstrings, annotations and lines marked ``# pragma: no mutate`` are left alone.

The repository is never written to: each mutant is compiled from memory and installed by
an import hook (a ``sitecustomize`` in a temporary directory, so subprocesses that tests
start get the mutant too). Interrupting the run leaves nothing behind.

Equivalent mutants — changes no test can catch because they do not change behaviour —
are listed with a reason in ``bench/mutation_equivalents.toml`` and excluded from the
score. Each entry names the file, the source line (stripped) and the change as printed.

Run from the repository root::

    python bench/mutation.py dsys/core/codec.py            # 60 sampled mutants, seed 0
    python bench/mutation.py dsys/core/codec.py -n 0       # every mutant
    python bench/mutation.py dsys/sim/network.py --tests tests/sim/test_network.py
    python bench/mutation.py --all                          # the six modules of issue 21
    python bench/mutation.py dsys/core/codec.py --list      # list the mutants, run nothing
    python bench/mutation.py dsys/commit -n 20              # a package: 20 from all its modules

A mutant is *killed* when the tests fail (or run past the timeout, 5x the unmutated run
plus 10 s); it *survives* when they pass.
"""

from __future__ import annotations

import argparse
import ast
import copy
import functools
import os
import random
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.toml")

# The matching tests of each module measured by default (paths from the repository root).
MATCHING_TESTS: dict[str, list[str]] = {
    "dsys/core/codec.py": ["tests/core/test_codec.py", "tests/core/test_codec_mutants.py"],
    "dsys/sim/network.py": [
        "tests/sim/test_network.py",
        "tests/sim/test_faults.py",
        "tests/sim/test_network_mutants.py",
    ],
    "dsys/check/_search.py": [
        "tests/check/test_check_linearizable.py",
        "tests/check/test_check_porcupine.py",
        "tests/check/test_linearizable_mutants.py",
    ],
    "dsys/check/linearizable.py": [
        "tests/check/test_check_linearizable.py",
        "tests/check/test_check_porcupine.py",
        "tests/check/test_linearizable_mutants.py",
    ],
    "dsys/messaging/checkers.py": [
        "tests/messaging/test_checkers.py",
        "tests/messaging/test_checkers_mutants.py",
    ],
    "dsys/runtime/wire.py": [
        "tests/runtime/test_wire.py",
        "tests/runtime/test_wire_mutants.py",
    ],
}

ARITH_SWAP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
COMPARE_FLIP = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
DROPPABLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Raise, ast.Continue, ast.Break)


@dataclass(frozen=True)
class Mutant:
    """One change: replace ``source[start:end]`` (character offsets) with ``text``."""

    path: str  # from the repository root
    line: int
    kind: str
    change: str  # human-readable, e.g. "`<` -> `>=`"
    start: int
    end: int
    text: str
    # The module's text when the mutant was made: the mutant applies to it, not to whatever
    # the file holds later (other people may be editing the checkout meanwhile).
    original: str = field(repr=False, compare=False)

    @property
    def source_line(self) -> str:
        return self.original.splitlines()[self.line - 1].strip()

    def mutated(self) -> str:
        """The module's text with this one change."""
        return self.original[: self.start] + self.text + self.original[self.end :]

    def label(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} {self.change}"


def _offsets(source: str) -> list[int]:
    """Character offset of the start of each line (1-based line numbers index it)."""
    starts = [0, 0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


class _Collector(ast.NodeVisitor):
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self.lines = source.splitlines()
        self.line_start = _offsets(source)
        self.mutants: list[Mutant] = []

    # -- positions --------------------------------------------------------------------

    def _pos(self, lineno: int, col_bytes: int) -> int:
        # ast columns count UTF-8 bytes; turn them into a character offset.
        line = self.lines[lineno - 1]
        col = len(line.encode()[:col_bytes].decode(errors="ignore"))
        return self.line_start[lineno] + col

    def _span(self, node: ast.AST) -> tuple[int, int]:
        start = self._pos(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self._pos(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def _skip(self, node: ast.AST) -> bool:
        line = self.lines[node.lineno - 1]  # type: ignore[attr-defined]
        return "pragma: no mutate" in line

    def _add(
        self, node: ast.AST, kind: str, change: str, text: str, span: tuple[int, int] | None = None
    ) -> None:
        if self._skip(node):
            return
        start, end = span or self._span(node)
        line: int = node.lineno  # type: ignore[attr-defined]
        self.mutants.append(Mutant(self.path, line, kind, change, start, end, text, self.source))

    def _replace_expr(self, node: ast.expr, new: ast.expr, kind: str, change: str) -> None:
        self._add(node, kind, change, "(" + ast.unparse(new) + ")")

    # -- traversal: skip what is not behaviour --------------------------------------------

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # positions inside f-strings are unreliable; their text is not behaviour

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self._drop(node)

    def visit_arg(self, node: ast.arg) -> None:
        return  # annotations

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._body(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._body(node.body)

    def visit_Module(self, node: ast.Module) -> None:
        self._body(node.body)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            return
        self._negate(test)
        self.visit(test)
        self._body(node.body)
        self._body(node.orelse)

    def visit_While(self, node: ast.While) -> None:
        self._negate(node.test)
        self.visit(node.test)
        self._body(node.body)
        self._body(node.orelse)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        self._negate(node.test)
        self.visit(node.test)
        self._drop(node)

    def _body(self, body: list[ast.stmt]) -> None:
        for i, stmt in enumerate(body):
            is_docstring = (
                i == 0
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            )
            if is_docstring:
                continue
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets
            ):
                continue
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                continue
            is_placeholder = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            if (
                isinstance(stmt, DROPPABLE)
                and not isinstance(stmt, ast.AnnAssign)
                and not is_placeholder
            ):
                self._drop(stmt)
            self.visit(stmt)

    # -- the mutation operators ------------------------------------------------------------

    def _drop(self, stmt: ast.stmt) -> None:
        # Only statements that own their lines, so that `pass` keeps the indentation valid.
        before = self.lines[stmt.lineno - 1].encode()[: stmt.col_offset].decode().strip()
        end_line = stmt.end_lineno or stmt.lineno
        after = self.lines[end_line - 1].encode()[stmt.end_col_offset or 0 :].decode().strip()
        if before or (after and not after.startswith("#")):
            return
        shown = ast.unparse(stmt).splitlines()[0][:60]
        self._add(stmt, "drop", f"`{shown}` -> `pass`", "pass", self._span(stmt))

    def _negate(self, test: ast.expr) -> None:
        start, end = self._span(test)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            self._replace_expr(test, test.operand, "negate", _show(test, test.operand))
        else:
            change = f"`{_short(ast.unparse(test))}` negated"
            self._add(test, "negate", change, "not (" + self.source[start:end] + ")")

    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            flip = COMPARE_FLIP.get(type(op))
            if flip is None:
                continue
            new = copy.deepcopy(node)
            new.ops[i] = flip()
            self._replace_expr(node, new, "flip", _show(node, new))
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        self._replace_expr(node, new, "boolop", _show(node, new))
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        swap = ARITH_SWAP.get(type(node.op))
        if swap is not None and not _is_string_format(node):
            new = copy.deepcopy(node)
            new.op = swap()
            self._replace_expr(node, new, "arith", _show(node, new))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        swap = ARITH_SWAP.get(type(node.op))
        if swap is not None:
            new = copy.deepcopy(node)
            new.op = swap()
            self._add(node, "arith", _show(node, new), ast.unparse(new))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            new: object = not value
        elif isinstance(value, int):
            new = value + 1
        elif isinstance(value, float):
            new = value + 1.0
        else:
            return
        self._add(node, "const", f"`{value!r}` -> `{new!r}`", f"({new!r})")

    def visit_Return(self, node: ast.Return) -> None:
        value = node.value
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            self._add(node, "return", f"`{ast.unparse(node)[:60]}` -> `return None`", "return None")
        self.generic_visit(node)


def _short(text: str, width: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _show(old: ast.AST, new: ast.AST) -> str:
    return f"`{_short(ast.unparse(old))}` -> `{_short(ast.unparse(new))}`"


def _is_string_format(node: ast.BinOp) -> bool:
    return isinstance(node.left, (ast.Constant, ast.JoinedStr)) and isinstance(
        getattr(node.left, "value", None), str
    )


@functools.cache
def mutants_of(path: str) -> tuple[Mutant, ...]:
    """Every mutant of the module at ``path`` (relative to the repository root) that compiles
    and changes the code (not merely its spelling)."""
    source = (ROOT / path).read_text()
    collector = _Collector(path, source)
    collector.visit(ast.parse(source))
    good = []
    seen = set()
    for mutant in sorted(collector.mutants, key=lambda m: (m.start, m.end, m.kind, m.change)):
        key = (mutant.start, mutant.end, mutant.text)
        if key in seen or _same_code(source[mutant.start : mutant.end], mutant.text):
            continue
        seen.add(key)
        try:
            ast.parse(mutant.mutated())
        except SyntaxError:
            continue
        good.append(mutant)
    return tuple(good)


def _same_code(old: str, new: str) -> bool:
    """True if two spellings of one expression or statement compile to the same tree."""
    for mode, wrap in (("eval", "({})"), ("exec", "{}")):
        try:
            before = ast.dump(ast.parse(wrap.format(old), mode=mode))
            after = ast.dump(ast.parse(wrap.format(new), mode=mode))
        except SyntaxError:
            continue
        return before == after
    return False


def load_equivalents(path: Path = EQUIVALENTS) -> list[dict[str, str]]:
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text()).get("equivalent", [])
    for entry in entries:
        missing = {"file", "line", "change", "reason"} - set(entry)
        if missing:
            raise SystemExit(f"{path}: an [[equivalent]] entry lacks {sorted(missing)}: {entry}")
    return entries


def is_equivalent(mutant: Mutant, entries: list[dict[str, str]]) -> str | None:
    for entry in entries:
        if (
            entry["file"] == mutant.path
            and entry["line"] == mutant.source_line
            and entry["change"] == f"{mutant.kind} {mutant.change}"
        ):
            return entry["reason"]
    return None


SITECUSTOMIZE = """
import importlib.abc, importlib.machinery, os, sys

_MODULE = os.environ.get("DSYS_MUTANT_MODULE")
_FILE = os.environ.get("DSYS_MUTANT_FILE")


class _MutantLoader(importlib.abc.Loader):
    def __init__(self, origin):
        self.origin = origin

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        with open(_FILE, encoding="utf-8") as f:
            code = compile(f.read(), self.origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)


class _MutantFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None:
            return None
        spec.loader = _MutantLoader(spec.origin)
        spec.cached = None
        return spec


if _MODULE and _FILE:
    sys.meta_path.insert(0, _MutantFinder())
"""


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")


def run_tests(tests: list[str], env: dict[str, str], timeout: float) -> tuple[bool, float]:
    """Run ``tests``; return (passed, seconds). A timeout counts as a failure."""
    # --assert=plain: pytest's assertion rewriter would otherwise load dsys modules itself
    # (dsys is a pytest plugin, so its package is marked for rewriting), ahead of the hook.
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "--assert=plain",
        "-p",
        "no:cacheprovider",
        "--no-header",
        *tests,
    ]
    began = time.monotonic()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - began
    return done.returncode == 0, time.monotonic() - began


def sample_of(path: str, n: int, seed: int) -> tuple[list[Mutant], int]:
    """The mutants sampled from ``path`` (a module, or a package: all its modules), in
    source order, and how many there were to sample from."""
    target = ROOT / path
    if target.is_dir():
        files = sorted(
            str(f.relative_to(ROOT)) for f in target.rglob("*.py") if "__pycache__" not in f.parts
        )
    else:
        files = [path]
    everything = [m for f in files for m in mutants_of(f)]
    rng = random.Random(seed)
    sample = everything if n <= 0 or n >= len(everything) else rng.sample(everything, n)
    sample.sort(key=lambda m: (m.path, m.line, m.start, m.kind, m.change))
    return sample, len(everything)


def default_tests(path: str) -> list[str]:
    """The matching tests of a module or package: the table above, else ``tests/<name>/``."""
    if path in MATCHING_TESTS:
        return MATCHING_TESTS[path]
    parts = Path(path).with_suffix("").parts
    folder = Path("tests", parts[1]) if len(parts) > 1 and parts[0] == "dsys" else None
    return [str(folder)] if folder is not None and (ROOT / folder).is_dir() else []


def measure(
    path: str,
    tests: list[str],
    n: int,
    seed: int,
    verbose: bool,
    lines: set[int] | None = None,
) -> tuple[int, int, int]:
    """Print the score of ``path`` against ``tests``; return (killed, survived, equivalent).

    ``lines``: run only the sampled mutants on these lines (to recheck survivors)."""
    sample, total = sample_of(path, n, seed)
    if lines:
        sample = [m for m in sample if m.line in lines]
    entries = load_equivalents()
    tests = [t for t in tests if (ROOT / t.split("::")[0]).exists()]
    print(f"== {path}: {len(sample)} of {total} mutants (seed {seed}); tests: {' '.join(tests)}")
    with tempfile.TemporaryDirectory(prefix="dsys-mutation-") as tmp:
        Path(tmp, "sitecustomize.py").write_text(SITECUSTOMIZE)
        mutant_file = Path(tmp, "mutant.py")
        env = dict(os.environ)
        env["PYTHONPATH"] = tmp + os.pathsep + env.get("PYTHONPATH", "")
        env["DSYS_MUTANT_FILE"] = str(mutant_file)
        env["DSYS_MUTANT_MODULE"] = ""  # the unmutated run first
        passed, baseline = run_tests(tests, env, timeout=1800)
        if not passed:  # once more: someone may have been saving a file in the checkout
            passed, baseline = run_tests(tests, env, timeout=1800)
        if not passed:
            raise SystemExit(f"the tests fail on the unmutated {path}; fix them first")
        timeout = 5 * baseline + 10
        print(f"   unmutated run: {baseline:.1f} s (timeout per mutant {timeout:.0f} s)")
        killed = survived = equivalent = 0
        for mutant in sample:
            reason = is_equivalent(mutant, entries)
            if reason is not None:
                equivalent += 1
                if verbose:
                    print(f"   equivalent {mutant.label()}  ({reason})")
                continue
            mutant_file.write_text(mutant.mutated())
            env["DSYS_MUTANT_MODULE"] = module_name(mutant.path)
            passed, seconds = run_tests(tests, env, timeout)
            if passed:
                survived += 1
                print(f"   SURVIVED {mutant.label()}\n            {mutant.source_line}")
            else:
                killed += 1
                if verbose:
                    print(f"   killed   {mutant.label()} ({seconds:.1f} s)")
    judged = killed + survived
    score = 100.0 * killed / judged if judged else 100.0
    print(
        f"   score {path}: {score:.0f}% ({killed} killed / {judged}; "
        f"{equivalent} equivalent excluded)"
    )
    return killed, survived, equivalent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "modules", nargs="*", help="module files or package folders, from the repository root"
    )
    parser.add_argument("--all", action="store_true", help="the six modules of issue 21")
    parser.add_argument(
        "--tests", nargs="+", help="test files to run (default: the matching tests)"
    )
    parser.add_argument("-n", type=int, default=60, help="mutants sampled per module (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--list", action="store_true", help="list the sampled mutants, run nothing")
    parser.add_argument(
        "--lines",
        help="only the sampled mutants on these lines, e.g. 84,112 (to recheck survivors)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also print killed mutants")
    args = parser.parse_args(argv)
    modules = list(MATCHING_TESTS) if args.all else args.modules
    lines = {int(x) for x in args.lines.split(",")} if args.lines else None
    if not modules:
        parser.error("name a module (e.g. dsys/core/codec.py) or use --all")
    results = []
    for path in modules:
        if not (ROOT / path).exists():
            parser.error(f"no module or package {path} (give a path from the repository root)")
        if args.list:
            for mutant in sample_of(path, args.n, args.seed)[0]:
                print(mutant.label())
            continue
        tests = args.tests or default_tests(path)
        if not tests:
            parser.error(f"no matching tests known for {path}: pass --tests")
        results.append((path, *measure(path, tests, args.n, args.seed, args.verbose, lines)))
    if len(results) > 1:
        print("\nmodule | score | killed | judged | equivalent")
        for path, killed, survived, equivalent in results:
            judged = killed + survived
            print(
                f"{path} | {100.0 * killed / judged if judged else 100:.0f}% | {killed} | "
                f"{judged} | {equivalent}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

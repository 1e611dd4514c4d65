"""``dsys lint PATH``: a determinism and model-checkability lint for node code.

A dsys run replays exactly only if the code it runs is deterministic: time and randomness
come from the node's context (``self.now``, ``self.rng``), and nothing depends on the
order of a set of strings (it follows ``PYTHONHASHSEED``). The model checker
(:mod:`dsys.search`) also needs node state it can copy and compare. This lint reads Python
files (it never imports them) and points at what breaks either, as far as it can be seen
in the source:

* ``DS101``, the wall clock: ``time.time()``, ``time.monotonic()``,
  ``time.perf_counter()`` (and their ``_ns`` forms), ``datetime.now()``, ``date.today()``...
* ``DS102``, randomness that is not the node's: the ``random`` module's functions
  (``random.choice``...), ``random.Random()`` without a seed, ``uuid.uuid1/4``,
  ``os.urandom``, ``secrets``.
* ``DS103``, iteration over a set without ``sorted()``: ``for`` and comprehensions over a
  set literal, a set comprehension, ``set(...)``/``frozenset(...)``, a set operation, or
  a name or attribute that holds one (assigned one, or annotated ``set[...]``); also
  ``list(s)``, ``tuple(s)``, ``iter(s)``, ``enumerate(s)``, ``"".join(s)``, ``s.pop()``.
  Not flagged: a comprehension given straight to ``sorted``, ``any``, ``all``, ``min``,
  ``max``, ``set``, ``len`` (their result has no order), and sets whose annotation says
  their items are numbers.
* ``DS104``, module-level mutable state (a list, dict, set, deque... made at module level)
  changed from inside a function: state shared by every node of a process.
* ``DS105``, a ``@message`` class with a mutable field type (``list``, ``dict``, ``set``,
  ``bytearray``, ``deque``...): messages are values, shared by sender and receiver.
* ``DS106``, node state the model checker cannot copy or compare: a lambda (it counts by
  name only, whatever it captured), an iterator or generator, an open file, a lock, an
  ``object()`` sentinel; and ``id()``, which differs from run to run.

Each finding is printed as ``file:line:col: CODE what (fix: how)``; ``dsys lint`` exits 1
when it finds anything. A comment ``# dsys: ignore[DS103]`` (several codes separated by
commas, or ``# dsys: ignore`` for all) on the flagged line silences it: say why beside it.

The lint is syntactic: it does not follow imports or infer types beyond the file, so it
misses a set returned by a function, and may flag a loop whose order does not matter
(one that only adds to another set): silence those with the comment.

Example:
    >>> source = '''
    ... import random, time
    ... class Server(Node):
    ...     def on_start(self):
    ...         self.peers: set[str] = set()
    ...         self.started = time.time()
    ...     def on_timer(self, name):
    ...         for peer in self.peers:
    ...             self.send(peer, random.choice(["a", "b"]))
    ... '''
    >>> for finding in lint_source(source, "server.py"):
    ...     print(finding)
    server.py:6:24: DS101 wall-clock time.time() (fix: use self.now, the node's virtual time)
    server.py:8:21: DS103 iteration over a set (self.peers): its order follows \
PYTHONHASHSEED (fix: iterate over sorted(...))
    server.py:9:29: DS102 global random.choice() (fix: use self.rng, the node's seeded \
random generator)
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from dsys.errors import UsageError

#: What each code means, in a few words (``dsys lint --codes`` lists them).
CODES = {
    "DS101": "wall-clock time",
    "DS102": "randomness that is not the node's seeded generator",
    "DS103": "iteration over a set (order follows PYTHONHASHSEED)",
    "DS104": "module-level mutable state changed from a function",
    "DS105": "a message class with a mutable field type",
    "DS106": "node state the model checker cannot copy or compare",
}

_WALL_CLOCK = {
    "time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter",
             "perf_counter_ns", "process_time", "process_time_ns", "localtime", "gmtime",
             "ctime", "asctime"},
    "datetime.datetime": {"now", "utcnow", "today"},
    "datetime.date": {"today"},
}
_RANDOM_FUNCTIONS = {
    "random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform",
    "gauss", "normalvariate", "lognormvariate", "expovariate", "betavariate",
    "gammavariate", "paretovariate", "weibullvariate", "vonmisesvariate", "triangular",
    "getrandbits", "randbytes", "seed", "binomialvariate",
}
_OTHER_RANDOM = {"uuid": {"uuid1", "uuid4"}, "os": {"urandom", "getrandom"}}
_MUTATORS = {"append", "extend", "insert", "remove", "pop", "popitem", "clear", "add",
             "discard", "update", "setdefault", "appendleft", "extendleft", "popleft",
             "sort", "reverse", "rotate", "difference_update", "intersection_update",
             "symmetric_difference_update"}
_MUTABLE_MAKERS = {"list", "dict", "set", "bytearray", "defaultdict", "deque", "Counter",
                   "OrderedDict"}
_MUTABLE_TYPES = {"list", "dict", "set", "bytearray", "List", "Dict", "Set", "DefaultDict",
                  "defaultdict", "deque", "Deque", "Counter", "OrderedDict",
                  "MutableMapping", "MutableSequence", "MutableSet"}
_SET_TYPES = {"set", "frozenset", "Set", "FrozenSet", "AbstractSet", "MutableSet"}
_NUMBER_TYPES = {"int", "float", "bool", "complex"}
_ORDERED_CONSUMERS = {"list", "tuple", "iter", "enumerate", "next", "reversed", "zip"}
#: Functions whose result does not depend on the order they are given the items in.
_ORDER_FREE = {"sorted", "any", "all", "min", "max", "set", "frozenset", "len", "Counter"}
_SET_METHODS = {"union", "intersection", "difference", "symmetric_difference"}
_UNCHECKABLE_CALLS = {"iter": "an iterator", "open": "an open file",
                      "count": "an iterator (itertools.count)",
                      "cycle": "an iterator (itertools.cycle)", "Lock": "a lock",
                      "RLock": "a lock", "object": "an object() sentinel (compared by id)"}

_IGNORE = re.compile(r"#\s*dsys:\s*ignore(?:\[([A-Z0-9_,\s]+)\])?")


@attrs.frozen(order=True)
class Finding:
    """One thing the lint flags: where (``path:line:col``), its code, what and how to fix.

    Example:
        >>> print(Finding("a.py", 3, 8, "DS101", "wall-clock time.time()", "use self.now"))
        a.py:3:8: DS101 wall-clock time.time() (fix: use self.now)
    """

    path: str
    line: int
    col: int
    code: str
    text: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.text} (fix: {self.fix})"


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _type_names(annotation: ast.AST | None) -> list[str]:
    """Every name in a type annotation (``dict[str, list[int]]``: dict, str, list, int),
    including one written as a string."""
    if annotation is None:
        return []
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return []
    names = []
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
    return names


def _set_annotation(annotation: ast.AST | None) -> bool | None:
    """For an annotation: None if it is not a set type; else whether its order matters
    (False for a set of numbers)."""
    names = _type_names(annotation)
    if not names or names[0] not in _SET_TYPES:
        return None
    items = names[1:]
    return not (items and all(name in _NUMBER_TYPES for name in items))


class _Imports:
    """What the module's names stand for: ``{"t": "time", "choice": "random.choice"}``."""

    def __init__(self, tree: ast.Module) -> None:
        self.names: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.names[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def resolve(self, func: ast.AST) -> str | None:
        """The full dotted name a called expression stands for, if it is an import."""
        dotted = _dotted(func)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head not in self.names:
            return None
        full = self.names[head]
        return f"{full}.{rest}" if rest else full


class _Linter(ast.NodeVisitor):
    def __init__(self, tree: ast.Module, path: str) -> None:
        self.path = path
        self.imports = _Imports(tree)
        self.findings: list[Finding] = []
        self.module_mutables = self._module_mutables(tree)
        # Scopes: names known to hold a set (True: its order matters) and local names.
        self.set_names: list[dict[str, bool]] = [{}]
        self.locals: list[set[str]] = [set()]
        self.set_attrs: list[dict[str, bool]] = []
        self.in_function = 0
        self.node_class: list[bool] = []
        # Comprehensions consumed by a function whose result has no order (sorted, any...).
        self.order_free: set[int] = set()

    # ----- helpers ---------------------------------------------------------------------

    def flag(self, node: ast.AST, code: str, text: str, fix: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0),
                                     getattr(node, "col_offset", 0) + 1, code, text, fix))

    @staticmethod
    def _module_mutables(tree: ast.Module) -> set[str]:
        names: set[str] = set()
        for stmt in tree.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            if value is None or not _is_mutable_value(value):
                continue
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        return names

    def set_order(self, expr: ast.AST) -> bool | None:
        """None if ``expr`` is not known to be a set; else whether its order matters."""
        match expr:
            case ast.Set(elts=elts):
                return not all(isinstance(e, ast.Constant) and isinstance(e.value, int | float)
                               for e in elts)
            case ast.SetComp():
                return True
            case ast.Call(func=ast.Name(id="set" | "frozenset"), args=args):
                # set(range(...)) holds numbers: its order does not follow the hash seed.
                first = args[0] if args else None
                return not (isinstance(first, ast.Call) and isinstance(first.func, ast.Name)
                            and first.func.id == "range")
            case ast.Call(func=ast.Attribute(attr=attr, value=value)) if attr in _SET_METHODS:
                return self.set_order(value)
            case ast.BinOp(op=ast.BitOr() | ast.BitAnd() | ast.Sub() | ast.BitXor(),
                           left=left, right=right):
                left_order = self.set_order(left)
                if left_order is not None:
                    return left_order
                return None if isinstance(expr.op, ast.Sub) else self.set_order(right)
            case ast.Name(id=name):
                for scope in reversed(self.set_names):
                    if name in scope:
                        return scope[name]
                return None
            case ast.Attribute(value=ast.Name(id="self"), attr=attr) if self.set_attrs:
                return self.set_attrs[-1].get(attr)
        return None

    def check_iteration(self, iterable: ast.AST, at: ast.AST) -> None:
        if self.set_order(iterable):
            shown = ast.unparse(iterable)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            self.flag(at, "DS103", f"iteration over a set ({shown}): its order follows "
                      "PYTHONHASHSEED", "iterate over sorted(...)")

    # ----- scopes ----------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if any(_is_message_decorator(d) for d in node.decorator_list):
            self._check_message(node)
        self.set_attrs.append(_set_attributes(node))
        bases = {(_dotted(b) or "").rsplit(".", 1)[-1] for b in node.bases}
        self.node_class.append(bool(bases & {"Node", "Component", "Layer"})
                               or bool(self.node_class and self.node_class[-1]))
        self.generic_visit(node)
        self.node_class.pop()
        self.set_attrs.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        scope: dict[str, bool] = {}
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        for extra in (node.args.vararg, node.args.kwarg):
            if extra is not None:
                args.append(extra)
        for arg in args:
            order = _set_annotation(arg.annotation)
            if order is not None:
                scope[arg.arg] = order
        self.set_names.append(scope)
        self.locals.append({arg.arg for arg in args} | _assigned_names(node))
        self.in_function += 1
        for stmt in node.body:
            self.visit(stmt)
        self.in_function -= 1
        self.locals.pop()
        self.set_names.pop()
        for decorator in node.decorator_list:
            self.visit(decorator)

    visit_AsyncFunctionDef = visit_FunctionDef

    # ----- statements ------------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        order = self.set_order(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if order is not None:
                    self.set_names[-1][target.id] = order
                else:
                    self.set_names[-1].pop(target.id, None)
            self._check_mutation_target(target)
            self._check_state(target, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        order = _set_annotation(node.annotation)
        if order is None and node.value is not None:
            order = self.set_order(node.value)
        if isinstance(node.target, ast.Name) and order is not None:
            self.set_names[-1][node.target.id] = order
        if node.value is not None:
            self._check_mutation_target(node.target)
            self._check_state(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.generic_visit(node)
        self._check_mutation_target(node.target, augmented=True)

    def visit_Delete(self, node: ast.Delete) -> None:
        self.generic_visit(node)
        for target in node.targets:
            self._check_mutation_target(target)

    def visit_Global(self, node: ast.Global) -> None:
        if self.in_function:
            for name in node.names:
                self.flag(node, "DS104", f"global {name}: module-level state changed from a "
                          "function is shared by every node of the process",
                          "keep state on the node (self.…)")

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.check_iteration(node.iter, node.iter)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def _visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp
                             | ast.DictComp) -> None:
        if id(node) not in self.order_free:
            for generator in node.generators:
                self.check_iteration(generator.iter, generator.iter)
        self.generic_visit(node)

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._visit_comprehension(node)

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comprehension(node)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._visit_comprehension(node)

    def visit_SetComp(self, node: ast.SetComp) -> None:
        # Building a set from a set: the result has no order either, unless it is iterated.
        for generator in node.generators:
            self.generic_visit(generator)
        self.visit(node.elt)

    # ----- calls -----------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in _ORDER_FREE:
            # sorted(x for x in s), any(... for x in s): the result has no order to leak.
            self.order_free.update(id(arg) for arg in node.args
                                   if isinstance(arg, ast.GeneratorExp | ast.ListComp))
        self.generic_visit(node)
        full = self.imports.resolve(node.func)
        if full is not None:
            self._check_imported_call(node, full)
        func = node.func
        if isinstance(func, ast.Name) and func.id in _ORDERED_CONSUMERS and node.args \
                and full is None:
            for arg in node.args:
                self.check_iteration(arg, node)
        elif isinstance(func, ast.Attribute):
            if func.attr == "join" and node.args:
                self.check_iteration(node.args[0], node)
            elif func.attr == "pop" and not node.args and self.set_order(func.value):
                self.flag(node, "DS103", f"{ast.unparse(func)}() takes an arbitrary item of a "
                          "set: which one follows PYTHONHASHSEED", "take min(...) or the first "
                          "of sorted(...), then remove it")
            elif func.attr in _MUTATORS and isinstance(func.value, ast.Name):
                self._check_shared(func.value.id, node)
        if isinstance(func, ast.Name) and func.id == "id" and full is None \
                and self.in_function and self.node_class and self.node_class[-1]:
            self.flag(node, "DS106", "id() differs from run to run and from copy to copy",
                      "name things by a counter or a key you choose")

    def _check_imported_call(self, node: ast.Call, full: str) -> None:
        module, _, name = full.rpartition(".")
        if name in _WALL_CLOCK.get(module, ()):
            self.flag(node, "DS101", f"wall-clock {ast.unparse(node.func)}()",
                      "use self.now, the node's virtual time")
        elif module == "random" and name in _RANDOM_FUNCTIONS:
            self.flag(node, "DS102", f"global {ast.unparse(node.func)}()",
                      "use self.rng, the node's seeded random generator")
        elif full in ("random.Random", "random.SystemRandom") and (
                not node.args or full == "random.SystemRandom"):
            self.flag(node, "DS102", f"{ast.unparse(node.func)}() without a seed",
                      "use self.rng, or Random(seed) with a seed from the run")
        elif name in _OTHER_RANDOM.get(module, ()) or module == "secrets" or full == "secrets":
            self.flag(node, "DS102", f"{ast.unparse(node.func)}() is random on every run",
                      "use self.rng (e.g. a counter and the node's id for unique ids)")

    # ----- checks on assignments -------------------------------------------------------

    def _shadowed(self, name: str) -> bool:
        return any(name in scope for scope in self.locals[1:])

    def _check_shared(self, name: str, at: ast.AST) -> None:
        if self.in_function and name in self.module_mutables and not self._shadowed(name):
            self.flag(at, "DS104", f"module-level {name} is changed here: it is shared by every "
                      "node of the process, and outlives a run", "keep state on the node (self.…)")

    def _check_mutation_target(self, target: ast.AST, augmented: bool = False) -> None:
        if isinstance(target, ast.Subscript | ast.Attribute):
            root = target.value
            while isinstance(root, ast.Subscript | ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):
                self._check_shared(root.id, target)
        elif isinstance(target, ast.Name) and augmented:
            self._check_shared(target.id, target)

    def _check_state(self, target: ast.AST, value: ast.AST) -> None:
        """DS106: ``self.x = <something the model checker cannot copy or compare>`` in a
        node, component or layer."""
        if not (self.node_class and self.node_class[-1] and self.in_function):
            return
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id == "self"):
            return
        what = None
        if isinstance(value, ast.Lambda):
            what = "a lambda (the model checker compares functions by name only)"
        elif isinstance(value, ast.GeneratorExp):
            what = "a generator"
        elif isinstance(value, ast.Call):
            name = (_dotted(value.func) or "").rsplit(".", 1)[-1]
            if name in _UNCHECKABLE_CALLS and (name != "object" or not value.args):
                what = _UNCHECKABLE_CALLS[name]
        if what is not None:
            self.flag(value, "DS106", f"self.{target.attr} holds {what}: the model checker "
                      "cannot copy or compare it", "keep plain data (numbers, strings, tuples, "
                      "lists, dicts) in node state, or define search_state()")

    def _check_message(self, cls: ast.ClassDef) -> None:
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                mutable = [n for n in _type_names(stmt.annotation) if n in _MUTABLE_TYPES]
                if mutable and "ClassVar" not in _type_names(stmt.annotation):
                    self.flag(stmt, "DS105", f"message {cls.name}.{stmt.target.id} has a mutable "
                              f"type ({mutable[0]}): sender and receiver share one value",
                              "use tuple[...], frozenset[...] or a tuple of (key, value) pairs")


def _is_mutable_value(value: ast.AST) -> bool:
    if isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp
                  | ast.SetComp):
        return True
    if isinstance(value, ast.Call):
        return (_dotted(value.func) or "").rsplit(".", 1)[-1] in _MUTABLE_MAKERS
    return False


def _is_message_decorator(decorator: ast.AST) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (_dotted(target) or "").rsplit(".", 1)[-1] == "message"


def _assigned_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names a function binds itself (so a module-level name of the same name is not the
    one it changes), not counting nested functions' own."""
    names: set[str] = set()
    declared_global: set[str] = set()
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            if not isinstance(node, ast.Lambda):
                names.add(node.name)
            continue
        if isinstance(node, ast.Global | ast.Nonlocal):
            declared_global.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return names - declared_global


def _set_attributes(cls: ast.ClassDef) -> dict[str, bool]:
    """The attributes of ``cls`` known to hold a set: class-level annotations (attrs and
    dataclass fields), and ``self.x: set[...] = ...`` or ``self.x = set()`` in its methods."""
    found: dict[str, bool] = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            order = _set_annotation(stmt.annotation)
            if order is not None:
                found[stmt.target.id] = order
    probe = _Linter(ast.Module(body=[], type_ignores=[]), "")
    for node in ast.walk(cls):
        target: ast.AST | None = None
        kind: bool | None = None
        if isinstance(node, ast.AnnAssign):
            target, kind = node.target, _set_annotation(node.annotation)
            if kind is None and node.value is not None:
                kind = probe.set_order(node.value)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, kind = node.targets[0], probe.set_order(node.value)
        if (kind is not None and isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name) and target.value.id == "self"):
            found.setdefault(target.attr, kind)
    return found


def _ignored(line: str) -> set[str] | None:
    """The codes a line's ``# dsys: ignore[...]`` silences (an empty set: all of them)."""
    match = _IGNORE.search(line)
    if match is None:
        return None
    if match.group(1) is None:
        return set()
    return {code.strip() for code in match.group(1).split(",") if code.strip()}


def lint_source(source: str, path: str = "<string>") -> list[Finding]:
    """The findings in one file's source, in line order (see the module docstring).

    Example:
        >>> lint_source("import time\\nt = time.time()  # dsys: ignore[DS101] a benchmark")
        []
    """
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        return [Finding(path, error.lineno or 0, error.offset or 0, "DS100",
                        f"cannot parse: {error.msg}", "fix the syntax error first")]
    linter = _Linter(tree, path)
    linter.visit(tree)
    lines = source.splitlines()
    kept = []
    for finding in sorted(set(linter.findings)):
        line = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        codes = _ignored(line)
        if codes is None or (codes and finding.code not in codes):
            kept.append(finding)
    return kept


def python_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The ``.py`` files of ``paths`` (files as given, folders searched, in sorted order).

    Example:
        >>> list(python_files(["/no/such/path"]))
        Traceback (most recent call last):
        ...
        dsys.errors.UsageError: no such file or folder: /no/such/path
    """
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py")
                              if "__pycache__" not in p.parts and not any(
                                  part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            yield path
        else:
            raise UsageError(f"no such file or folder: {given}")


def lint_paths(paths: Sequence[str | Path], *, select: Iterable[str] | None = None
               ) -> list[Finding]:
    """The findings in every Python file of ``paths``, optionally only the codes in
    ``select``."""
    chosen = set(select) if select is not None else None
    if chosen is not None and chosen - CODES.keys():
        raise UsageError(f"unknown lint code(s) {', '.join(sorted(chosen - CODES.keys()))}; "
                         f"the codes: {', '.join(CODES)}")
    found: list[Finding] = []
    for path in python_files(paths):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        found.extend(f for f in lint_source(source, str(path))
                     if chosen is None or f.code in chosen or f.code == "DS100")
    return found


# ----- the command ------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``dsys lint``."""
    lint = subparsers.add_parser(
        "lint", help="flag code that breaks determinism or model checking",
        description="Flag wall-clock time, global random, iteration over sets, shared "
        "module-level state, mutable message fields and node state the model checker "
        "cannot compare. Exits 1 when anything is found. Silence a line with "
        "`# dsys: ignore[CODE]`.")
    lint.add_argument("paths", nargs="*", metavar="PATH", help="Python files or folders")
    lint.add_argument("--select", metavar="CODES",
                      help="only these codes, comma-separated (e.g. DS101,DS103)")
    lint.add_argument("--codes", action="store_true", help="list the codes and exit")
    lint.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``dsys lint PATH...``."""
    if args.codes:
        for code, what in CODES.items():
            print(f"{code}  {what}")
        return 0
    if not args.paths:
        raise UsageError("give the files or folders to lint: dsys lint PATH...")
    select = [c.strip() for c in args.select.split(",")] if args.select else None
    findings = lint_paths(args.paths, select=select)
    for finding in findings:
        print(finding)
    files = len(list(python_files(args.paths)))
    if findings:
        print(f"{len(findings)} finding(s) in {files} file(s)", file=sys.stderr)
        return 1
    print(f"no findings in {files} file(s)", file=sys.stderr)
    return 0

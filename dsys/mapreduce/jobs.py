"""MapReduce jobs as plain functions, the stable partition function and the sequential run.

A :class:`Job` is a pair of plain functions (Dean and Ghemawat, "MapReduce: Simplified Data
Processing on Large Clusters", OSDI 2004, section 2.1):

* ``map(key, value) -> iterable of (k, v)``: called once per input file, with the file's
  name as ``key`` and its text as ``value``;
* ``reduce(key, values) -> value``: called once per intermediate key ``k`` with every ``v``
  the maps emitted for it, in input order.

Keys are strings and values JSON values (they travel through files as JSON). Intermediate
pairs go to one of ``reducers`` partitions by :func:`partition`, a *stable* hash of the key
(CRC-32): every map task on every machine, in every process, must send a key to the same
reduce task. Python's ``hash()`` of a string changes with ``PYTHONHASHSEED`` from one
process to the next, so it would scatter one key over several reduce tasks.

:func:`run_sequential` runs a job in one loop, the reference every distributed run is
checked against. The four jobs of the paper's section 2.3 are here: :data:`WORD_COUNT`,
:data:`INVERTED_INDEX`, :func:`grep` and :data:`JOIN` (a reduce-side join of two inputs).

Example:
    >>> from dsys.mapreduce import WORD_COUNT, run_sequential
    >>> run_sequential(WORD_COUNT, {"a.txt": "to be or not to be", "b.txt": "be quick"})
    {'be': 3, 'not': 1, 'or': 1, 'quick': 1, 'to': 2}
    >>> partition("be", 4), partition("be", 4) == partition("be", 4)
    (1, True)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from random import Random
from typing import Any

import attrs

from dsys.errors import ConfigError

__all__ = [
    "INVERTED_INDEX",
    "JOIN",
    "WORD_COUNT",
    "Job",
    "grep",
    "group",
    "partition",
    "run_sequential",
    "sample_documents",
]

MapFunction = Callable[[str, str], Iterable[tuple[str, Any]]]
ReduceFunction = Callable[[str, list[Any]], Any]


def partition(key: str, reducers: int) -> int:
    """The reduce task (``0 .. reducers-1``) that owns ``key``: CRC-32 of its UTF-8 bytes,
    modulo ``reducers``. The same in every process, unlike ``hash(key)``."""
    return zlib.crc32(key.encode("utf-8")) % reducers


def _name(_: Any, __: Any, value: str) -> None:
    if not value or not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
        raise ConfigError(f"a job name must be letters, digits, '_', '.' or '-', got {value!r}")


def _positive_int(_: Any, attribute: Any, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"a job's {attribute.name} must be an int >= 1, got {value!r}")


def _cost(_: Any, attribute: Any, value: float) -> None:
    if not 0 <= value < float("inf"):
        raise ConfigError(f"a job's {attribute.name} must be >= 0 seconds, got {value!r}")


@attrs.frozen
class Job:
    """A MapReduce job: ``map`` and ``reduce`` functions and how many reduce tasks.

    Attributes:
        name: names the job's files in the store (``<name>/map-3-1``, ``<name>/out-1``).
        map: ``map(key, value) -> iterable of (k, v)``; ``key`` is an input file's name.
        reduce: ``reduce(key, values) -> value``.
        reducers: ``R``, the number of reduce tasks (and of intermediate partitions).
        record_cost: virtual seconds of CPU per record (a pair a map emits, a value a
            reduce consumes) on a worker of speed 1: what a task's duration is made of in
            the simulator, with the store's per-byte costs.
        combine: an optional *combiner* (paper, section 4.3), ``combine(key, values) ->
            value``, run by each map task on its own pairs of one key before they are
            written: word count's map emits ``("the", 1)`` hundreds of times, its combiner
            sends one ``("the", n)``. Only for a ``reduce`` that gives the same result on
            combined values (sums, counts, maxima).
    """

    name: str = attrs.field(validator=_name)
    map: MapFunction
    reduce: ReduceFunction
    reducers: int = attrs.field(default=4, validator=_positive_int)
    record_cost: float = attrs.field(default=1e-4, validator=_cost)
    combine: ReduceFunction | None = None

    def map_output(self, task: int, reducer: int) -> str:
        """The store name of map task ``task``'s partition for reduce task ``reducer``."""
        return f"{self.name}/map-{task}-{reducer}"

    def output(self, reducer: int) -> str:
        """The store name of reduce task ``reducer``'s output."""
        return f"{self.name}/out-{reducer}"


def group(pairs: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    """Intermediate pairs grouped by key, keys sorted, values in the order they came."""
    grouped: dict[str, list[Any]] = {}
    for key, value in pairs:
        if not isinstance(key, str):
            raise ConfigError(f"map emitted a key that is not a string: {key!r}")
        grouped.setdefault(key, []).append(value)
    return {key: grouped[key] for key in sorted(grouped)}


def run_sequential(job: Job, inputs: Mapping[str, str]) -> dict[str, Any]:
    """Run ``job`` over ``inputs`` (file name -> text, in order) in one loop: the reference."""
    pairs = [pair for name, text in inputs.items() for pair in job.map(name, text)]
    return {key: job.reduce(key, values) for key, values in group(pairs).items()}


# ----- the paper's example jobs (section 2.3) ---------------------------------------------

_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _count_map(name: str, text: str) -> Iterable[tuple[str, int]]:
    return [(word, 1) for word in _words(text)]


def _count_reduce(word: str, counts: list[int]) -> int:
    return sum(counts)


#: Word count: how often each word occurs in all the inputs (with a combiner that sums
#: each map task's counts first).
WORD_COUNT = Job("wordcount", _count_map, _count_reduce, combine=_count_reduce)


def _index_map(name: str, text: str) -> Iterable[tuple[str, str]]:
    return [(word, name) for word in sorted(set(_words(text)))]


def _index_reduce(word: str, names: list[str]) -> list[str]:
    return sorted(set(names))


#: Inverted index: for each word, the sorted names of the inputs that contain it.
INVERTED_INDEX = Job("index", _index_map, _index_reduce)


@attrs.frozen
class _Grep:
    pattern: str

    def map(self, name: str, text: str) -> Iterable[tuple[str, str]]:
        regex = re.compile(self.pattern)
        return [(f"{name}:{n}", line) for n, line in enumerate(text.splitlines(), 1)
                if regex.search(line)]

    @staticmethod
    def reduce(where: str, lines: list[str]) -> str:
        return lines[0]


def grep(pattern: str, reducers: int = 2) -> Job:
    """Distributed grep: every line that matches ``pattern``, keyed ``"<file>:<line no>"``.

    Example:
        >>> run_sequential(grep("be"), {"a": "to be\\nor not", "b": "maybe"})
        {'a:1': 'to be', 'b:1': 'maybe'}
    """
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"grep: bad pattern {pattern!r}: {exc}") from None
    search = _Grep(pattern)
    return Job("grep", search.map, search.reduce, reducers)


def _join_map(name: str, text: str) -> Iterable[tuple[str, list[str]]]:
    # Inputs named "<table>/<anything>" hold lines "key,field"; the table travels along.
    table = name.split("/", 1)[0]
    pairs = []
    for line in text.splitlines():
        key, sep, field = line.partition(",")
        if sep:
            pairs.append((key, [table, field]))
    return pairs


def _join_reduce(key: str, rows: list[list[str]]) -> list[list[str]]:
    tables = sorted({table for table, _ in rows})
    if len(tables) < 2:
        return []
    left = sorted(field for table, field in rows if table == tables[0])
    right = sorted(field for table, field in rows if table == tables[1])
    return [[a, b] for a in left for b in right]


#: A reduce-side equi-join of two tables: inputs named ``<table>/<part>`` hold lines
#: ``key,field``; for each key, every pair (field of the first table, field of the second),
#: by table name order. Keys found in one table only join to ``[]``.
JOIN = Job("join", _join_map, _join_reduce)


_VOCABULARY = (
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "they", "you", "were", "her", "she", "there", "had", "one", "all", "we", "can",
    "their", "has", "been", "if", "more", "when", "will", "would", "who", "so", "no", "map",
    "reduce", "worker", "task", "lease", "crash", "straggler", "backup",
)


def sample_documents(count: int, words: int, seed: int = 0, prefix: str = "doc") -> dict[str, str]:
    """``count`` made-up documents of ``words`` words each (Zipf-like word frequencies, ten
    words a line), from ``Random(seed)``: input for examples, tests and benchmarks.

    Example:
        >>> docs = sample_documents(2, 12, seed=1)
        >>> list(docs), len(docs["doc-0"].split())
        (['doc-0', 'doc-1'], 12)
    """
    rng = Random(f"mapreduce-documents/{seed}")
    weights = [1.0 / rank for rank in range(1, len(_VOCABULARY) + 1)]
    documents = {}
    for n in range(count):
        chosen = rng.choices(_VOCABULARY, weights, k=words)
        lines = [" ".join(chosen[i:i + 10]) for i in range(0, words, 10)]
        documents[f"{prefix}-{n}"] = "\n".join(lines)
    return documents

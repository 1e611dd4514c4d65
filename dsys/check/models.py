"""Models: the sequential objects a history is checked against.

A history is linearizable *with respect to a model*: the model says what a single copy of
the object, doing one operation at a time, would answer. dsys has three built in, named as
on the command line:

``register``
    ``read`` and ``write`` of one value; starts empty (a read returns ``None``/``null``).
``cas-register``
    a register with ``cas``: ``value`` is ``[old, new]``; an ``ok`` cas found ``old`` and
    stored ``new``, a ``fail`` cas found something other than ``old`` and changed nothing.
``kv``
    ``get`` / ``put`` / ``append`` / ``cas`` on string values by ``key``; a missing key
    reads ``""``.

Operations with a ``key`` work on independent objects, one per key; each model tells the
checker so through :meth:`Model.partition`, and the checker then checks each key on its own
(Herlihy and Wing's locality: a history is linearizable iff each object's is).

Your own model
--------------
Subclass :class:`Model`, give it a ``name``, an :meth:`~Model.init` state and a
:meth:`~Model.step` function; the other methods are optional. States must be hashable and
are never mutated: ``step`` returns a new one. For example, a counter:

>>> from dsys.check import History, Model, Operation, check_linearizable
>>> class Counter(Model[int]):
...     name = "counter"
...     def init(self) -> int:
...         return 0
...     def step(self, state: int, op: Operation) -> tuple[bool, int]:
...         if op.f == "add":
...             return True, state + op.value
...         return op.status != "ok" or op.output == state, state  # a read
>>> history = History.from_events([
...     {"process": 0, "type": "invoke", "f": "add", "value": 2},
...     {"process": 1, "type": "invoke", "f": "read", "value": None},
...     {"process": 1, "type": "ok", "f": "read", "value": 2},
...     {"process": 0, "type": "ok", "f": "add", "value": 2},
... ])
>>> check_linearizable(history, Counter()).verdict
<Verdict.LINEARIZABLE: 'linearizable'>
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from dsys.check.history import CheckInputError, HistoryError, Operation

State = TypeVar("State", bound=Hashable)


class Model(Generic[State]):
    """A sequential specification: a start state and a step function.

    Override :meth:`init` and :meth:`step`. The rest have sensible defaults:

    - :meth:`validate` rejects operations the model does not know, before checking starts;
    - :meth:`needed` drops operations that can neither change nor observe the state (by
      default, ``fail`` operations: they completed without effect);
    - :meth:`read_only` marks operations that never change the state, which lets the
      checker place them as soon as they fit (a speed-up, never a change of verdict);
    - :meth:`partition` splits a history into independent parts (by default, none);
    - :meth:`describe_operation` and :meth:`describe_state` give the words used in
      explanations and drawings.
    """

    #: The model's name, as shown in reports.
    name: ClassVar[str] = "model"

    def init(self) -> State:
        """The state before any operation."""
        raise NotImplementedError(f"{type(self).__name__} must define init()")

    def step(self, state: State, op: Operation) -> tuple[bool, State]:
        """Apply ``op`` to ``state``: return ``(legal, next_state)``.

        ``legal`` is false when a single copy of the object in ``state`` could not have
        produced what ``op`` observed (``op.output`` for an ``ok`` op). For an ``info`` op
        the output is unknown, so only its effect matters; it is always legal unless the
        operation cannot run at all in ``state``.
        """
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def validate(self, op: Operation) -> None:
        """Raise ``ValueError`` with a message if ``op`` makes no sense for this model."""

    def needed(self, op: Operation) -> bool:
        """Whether ``op`` must be checked at all; by default ``fail`` ops are left out."""
        return op.status != "fail"

    def read_only(self, op: Operation) -> bool:
        """Whether ``op`` can never change the state (when ``step`` says it is legal)."""
        return False

    def partition(self, operations: Sequence[Operation]) -> list[list[Operation]] | None:
        """Split into independent sub-histories, or ``None`` to check all as one."""
        return None

    def describe_operation(self, op: Operation) -> str:
        """A few words for ``op``, e.g. ``write 3`` or ``read -> 3``."""
        return op.label()

    def describe_state(self, state: State) -> str:
        """A few words for ``state``, used in "then the register holds 3"."""
        return f"the state is {state!r}"


def partition_by_key(operations: Sequence[Operation]) -> list[list[Operation]] | None:
    """Group operations by ``key``, in order of first appearance; ``None`` if one group."""
    groups: dict[Any, list[Operation]] = {}
    for op in operations:
        groups.setdefault(op.key, []).append(op)
    return list(groups.values()) if len(groups) > 1 else None


#: The state of a set of registers: (key, value) pairs for the keys written so far. A
#: frozenset keeps it hashable; after partitioning by key it holds at most one pair.
Registers = frozenset[tuple[Any, Any]]


def _lookup(state: Registers, key: Any, default: Any) -> Any:
    for name, value in state:
        if name == key:
            return value
    return default


def _assign(state: Registers, key: Any, value: Any) -> Registers:
    if len(state) <= 1 and all(name == key for name, _ in state):
        return frozenset(((key, value),))  # the common case after splitting by key
    return frozenset([(name, old) for name, old in state if name != key] + [(key, value)])


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def _outcome(op: Operation) -> str:
    if op.status == "info":
        return " (outcome unknown)"
    if op.status == "fail":
        return " (failed)"
    return ""


class RegisterModel(Model[Registers]):
    """A read/write register, one per key, starting empty (``None``).

    >>> model = RegisterModel()
    >>> model.describe_state(model.init())
    'the register is empty'
    """

    name: ClassVar[str] = "register"
    #: The operations this model accepts.
    operations: ClassVar[tuple[str, ...]] = ("read", "write")
    #: What a register holds before the first write.
    empty: ClassVar[Any] = None

    def init(self) -> Registers:
        return frozenset()

    def step(self, state: Registers, op: Operation) -> tuple[bool, Registers]:
        current = _lookup(state, op.key, self.empty)
        if op.f == "read":
            # A read that did not complete ok observed nothing and changed nothing.
            return op.status != "ok" or op.output == current, state
        if op.f == "write":
            return True, state if op.status == "fail" else _assign(state, op.key, op.value)
        old, new = op.value  # cas
        if op.status == "fail":
            # Returning false is an observation: the register did not hold `old`.
            return current != old, state
        if current == old:
            return True, _assign(state, op.key, new)
        # An ok cas must have found `old`. An info cas may have run and found something
        # else, which changes nothing.
        return op.status == "info", state

    def validate(self, op: Operation) -> None:
        if op.f not in self.operations:
            hint = " (use the cas-register model)" if op.f == "cas" else ""
            raise ValueError(
                f"the {self.name} model has no {op.f!r} operation, only "
                f"{', '.join(self.operations)}{hint}"
            )
        if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
            raise ValueError(f"a cas needs value [old, new], got {_show(op.value)}")

    def needed(self, op: Operation) -> bool:
        if op.f == "read":
            return op.status == "ok"
        return op.f == "cas" or op.status != "fail"

    def read_only(self, op: Operation) -> bool:
        return (op.f == "read" and op.status == "ok") or (op.f == "cas" and op.status == "fail")

    def partition(self, operations: Sequence[Operation]) -> list[list[Operation]] | None:
        return partition_by_key(operations)

    def describe_operation(self, op: Operation) -> str:
        key = "" if op.key is None else f" {op.key}"
        if op.f == "read":
            result = f" -> {_show(op.output)}" if op.status == "ok" else ""
            return f"read{key}{result}{_outcome(op)}"
        if op.f == "cas":
            old, new = op.value
            return f"cas{key} {_show(old)}->{_show(new)}{_outcome(op)}"
        return f"{op.f}{key} {_show(op.value)}{_outcome(op)}"

    def describe_state(self, state: Registers) -> str:
        if not state:
            return "the register is empty"
        parts = []
        for key, value in sorted(state, key=lambda item: repr(item[0])):
            name = "the register" if key is None else f"register {key}"
            parts.append(f"{name} holds {_show(value)}")
        return "; ".join(parts)


class CasRegisterModel(RegisterModel):
    """A register with compare-and-set: ``cas`` with value ``[old, new]``.

    >>> from dsys.check import History
    >>> model = CasRegisterModel()
    >>> history = History.from_events([
    ...     {"process": 0, "type": "invoke", "f": "cas", "value": [None, 1]},
    ...     {"process": 0, "type": "ok", "f": "cas", "value": [None, 1]},
    ... ])
    >>> model.step(model.init(), history.operations[0])
    (True, frozenset({(None, 1)}))
    """

    name: ClassVar[str] = "cas-register"
    operations: ClassVar[tuple[str, ...]] = ("read", "write", "cas")


class KVModel(Model[Registers]):
    """A key-value store of strings: ``get``, ``put``, ``append``, and ``cas`` with value
    ``[old, new]`` (an ``ok`` cas found ``old`` and stored ``new``; a ``fail`` cas found
    something else and changed nothing); missing keys read ``""``.

    >>> model = KVModel()
    >>> model.describe_state(frozenset({("x", "ab")}))
    "key x holds 'ab'"
    """

    name: ClassVar[str] = "kv"
    operations: ClassVar[tuple[str, ...]] = ("get", "put", "append", "cas")

    def init(self) -> Registers:
        return frozenset()

    def step(self, state: Registers, op: Operation) -> tuple[bool, Registers]:
        current = _lookup(state, op.key, "")
        if op.f == "get":
            return op.status != "ok" or op.output == current, state
        if op.f == "cas":
            old, new = op.value
            if op.status == "fail":
                return current != old, state  # an observation: the key did not hold old
            if current == old:
                return True, _assign(state, op.key, new)
            return op.status == "info", state
        if op.status == "fail":
            return True, state
        if op.f == "put":
            return True, _assign(state, op.key, op.value)
        return True, _assign(state, op.key, current + op.value)  # append

    def validate(self, op: Operation) -> None:
        if op.f not in self.operations:
            raise ValueError(f"the kv model has no {op.f!r} operation, only get, put, append "
                             "and cas")
        if op.f == "cas":
            if not (isinstance(op.value, tuple) and len(op.value) == 2
                    and all(isinstance(v, str) for v in op.value)):
                raise ValueError(f"a cas needs value [old, new] of strings, got "
                                 f"{_show(op.value)}")
        elif op.f != "get" and not isinstance(op.value, str):
            raise ValueError(f"{op.f} needs a string value, got {_show(op.value)}")

    def needed(self, op: Operation) -> bool:
        if op.f == "get":
            return op.status == "ok"
        return op.f == "cas" or op.status != "fail"

    def read_only(self, op: Operation) -> bool:
        return (op.f == "get" and op.status == "ok") or (op.f == "cas" and op.status == "fail")

    def partition(self, operations: Sequence[Operation]) -> list[list[Operation]] | None:
        return partition_by_key(operations)

    def describe_operation(self, op: Operation) -> str:
        key = "" if op.key is None else f" {op.key}"
        if op.f == "get":
            result = f" -> {_show(op.output)}" if op.status == "ok" else ""
            return f"get{key}{result}{_outcome(op)}"
        if op.f == "cas":
            old, new = op.value
            return f"cas{key} {_show(old)}->{_show(new)}{_outcome(op)}"
        return f"{op.f}{key} {_show(op.value)}{_outcome(op)}"

    def describe_state(self, state: Registers) -> str:
        if not state:
            return "every key is empty"
        return "; ".join(
            f"key {key} holds {_show(value)}"
            for key, value in sorted(state, key=lambda i: repr(i[0]))
        )


#: The built-in models by name, as accepted by ``dsys check lin --model``.
MODELS: dict[str, type[Model[Any]]] = {
    "register": RegisterModel,
    "cas-register": CasRegisterModel,
    "kv": KVModel,
}


def get_model(model: str | Model[Any]) -> Model[Any]:
    """Return ``model`` itself, or a new instance of the built-in model of that name.

    >>> get_model("kv").name
    'kv'
    """
    if isinstance(model, Model):
        return model
    try:
        return MODELS[model]()
    except KeyError:
        raise CheckInputError(
            f"unknown model {model!r}: choose one of {', '.join(MODELS)} "
            "(or pass a Model instance from Python)"
        ) from None


def validate_history(
    model: Model[Any], operations: Sequence[Operation], source: str | None = None
) -> None:
    """Run :meth:`Model.validate` on each operation, naming the line of the first bad one."""
    prefix = f"{source}, " if source else ""
    for op in operations:
        try:
            model.validate(op)
        except ValueError as error:
            raise HistoryError(f"{prefix}{op.where}: {error}") from None

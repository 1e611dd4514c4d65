"""Histories, consistency models and the linearizability checker.

Record what clients invoked and what came back (a :class:`History`), choose what the
object should behave like (a :class:`Model`), and ask whether some order of the
operations, each placed between its invoke and completion, explains every result
(:func:`check_linearizable`). Failures come with the longest order found and the
operations that could not be placed after it; :func:`draw_history` draws either.

Weaker promises have checkers too (:mod:`dsys.check.consistency`): sequential
consistency, causal consistency, PRAM, the session guarantees and eventual convergence,
each returning a :class:`Report` whose violations name the operations at fault.

>>> from dsys.check import check_linearizable
>>> events = [
...     {"process": 0, "type": "invoke", "f": "write", "value": 1},
...     {"process": 0, "type": "ok", "f": "write", "value": 1},
...     {"process": 1, "type": "invoke", "f": "read", "value": None},
...     {"process": 1, "type": "ok", "f": "read", "value": 1},
... ]
>>> check_linearizable(events, "register").linearizable
True
"""

from dsys.check.consistency import (
    CONSISTENCY_MODELS,
    SESSION_GUARANTEES,
    UNDECIDED,
    check_causal,
    check_consistency,
    check_converged,
    check_eventual,
    check_pram,
    check_sequential,
    check_session_guarantees,
)
from dsys.check.draw import draw_history, render_html, render_svg
from dsys.check.history import CheckInputError, History, HistoryError, Operation
from dsys.check.linearizable import CheckResult, PartitionResult, Verdict, check_linearizable
from dsys.check.models import (
    MODELS,
    CasRegisterModel,
    KVModel,
    Model,
    RegisterModel,
    get_model,
    partition_by_key,
)
from dsys.check.report import Report, Violation

__all__ = [
    "CONSISTENCY_MODELS",
    "MODELS",
    "SESSION_GUARANTEES",
    "UNDECIDED",
    "CasRegisterModel",
    "CheckInputError",
    "CheckResult",
    "History",
    "HistoryError",
    "KVModel",
    "Model",
    "Operation",
    "PartitionResult",
    "RegisterModel",
    "Report",
    "Verdict",
    "Violation",
    "check_causal",
    "check_consistency",
    "check_converged",
    "check_eventual",
    "check_linearizable",
    "check_pram",
    "check_sequential",
    "check_session_guarantees",
    "draw_history",
    "get_model",
    "partition_by_key",
    "render_html",
    "render_svg",
]

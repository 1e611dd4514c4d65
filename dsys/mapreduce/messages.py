"""The messages between the MapReduce coordinator and its workers.

Workers *pull* work: an idle worker sends :class:`AskTask` every ``poll`` seconds until it
gets an :class:`Assign`. While it runs a task it sends :class:`Renew` every third of the
lease, and :class:`Finished` once the task's output is committed (which also asks for the
next task). The coordinator answers a
worker that asks after the job is over with :class:`JobDone` (and sends it to every worker
once when the job ends). Any message may be lost: a lost ``AskTask`` is asked again, a lost
``Renew`` or ``Finished`` lets the lease run out and the task run once more, which is safe
because outputs are committed at most once.
"""

from __future__ import annotations

from dsys.core.messages import message

__all__ = ["AskTask", "Assign", "Finished", "JobDone", "Renew"]


@message(name="mapreduce:AskTask")
class AskTask:
    """Worker to coordinator: I am idle, give me a task."""


@message(name="mapreduce:Assign")
class Assign:
    """Coordinator to worker: run ``task`` (``"map-3"``, ``"reduce-1"``) as attempt
    ``attempt``, reading ``inputs``; renew the lease (``lease`` seconds) while you do."""

    task: str
    attempt: int
    inputs: tuple[str, ...]
    lease: float


@message(name="mapreduce:Renew")
class Renew:
    """Worker to coordinator: still working on ``attempt`` of ``task``."""

    task: str
    attempt: int


@message(name="mapreduce:Finished")
class Finished:
    """Worker to coordinator: the output of ``attempt`` of ``task`` is committed (by this
    attempt, or already by another one)."""

    task: str
    attempt: int


@message(name="mapreduce:JobDone")
class JobDone:
    """Coordinator to worker: the job is finished, stop asking."""

"""Failure reports: what went wrong in a simulation, and how to replay it."""

from __future__ import annotations

from contextvars import ContextVar

#: Set by runners (the pytest plugin, ``dsys demo``, ``dsys lab test``) to the exact
#: command that replays the current run; it is printed in every failure report.
replay_command: ContextVar[str | None] = ContextVar("dsys_replay_command", default=None)


class SimulationError(Exception):
    """A simulated run stopped because something went wrong in it.

    Attributes say where: ``node``, ``event`` (a description), ``time`` (virtual
    seconds), ``seed``, ``trace_tail`` (the last trace events, as text) and ``replay``
    (the command that replays the run). ``str(error)`` is the full report.
    """

    def __init__(
        self,
        headline: str,
        *,
        node: str | None,
        event: str,
        time: float,
        seed: int,
        trace_tail: str,
        replay: str,
        trace_path: str | None = None,
    ) -> None:
        self.headline = headline
        self.node = node
        self.event = event
        self.time = time
        self.seed = seed
        self.trace_tail = trace_tail
        self.replay = replay
        self.trace_path = trace_path
        super().__init__(self.report())

    def report(self) -> str:
        """The full, multi-line report (also ``str(error)``)."""
        lines = [
            self.headline,
            f"  node:          {self.node if self.node is not None else '-'}",
            f"  while:         {self.event}",
            f"  virtual time:  {self.time:.6f} s",
            f"  seed:          {self.seed}",
            "  last trace events:",
            self.trace_tail or "    (trace recording was off: run with Simulation(trace=True))",
            f"  replay with:   {self.replay}",
        ]
        if self.trace_path:
            lines.append(f"  full trace:    {self.trace_path}")
        return "\n".join(lines)


class HandlerError(SimulationError):
    """A node's handler raised an exception (chained as ``__cause__``)."""


class InvariantViolation(SimulationError):
    """An invariant added with ``Simulation.add_invariant`` did not hold."""


class WireError(SimulationError):
    """A message changed after it was sent (the sender mutated a shared object)."""

"""The result type shared by the trace checkers (broadcast orders, mutual exclusion, clocks...).

A checker reads a trace and returns a :class:`Report`: the property it judged, how much
it judged, and every :class:`Violation` it found, each said in words. A report is truthy
when the property holds, so tests can write ``assert check_safety(sim.trace)`` and print
``report.explain()`` on failure.

Example:
    >>> from dsys.check import Report, Violation
    >>> report = Report("safety", (Violation(1.5, ("a", "b"), "a and b both inside"),), 12,
    ...                 "entries")
    >>> bool(report)
    False
    >>> print(report.explain())
    safety: 1 violation(s) (12 entries checked)
      t=1.500000: a and b both inside
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Violation:
    """One broken promise: when it was seen, which nodes (or processes), what happened.

    ``events`` optionally names the trace events involved, by their position in the trace
    (the clock checkers give the two events whose timestamps disagree with causality).
    """

    time: float
    nodes: tuple[str, ...]
    text: str
    events: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"t={self.time:.6f}: {self.text}"


@attrs.frozen
class Report:
    """The verdict of one checker over one trace.

    ``check`` names the property (or properties), ``violations`` lists what broke it
    (empty when it holds) and ``judged`` says how much was checked, counted in ``unit``.
    """

    check: str
    violations: tuple[Violation, ...]
    judged: int
    unit: str

    @property
    def ok(self) -> bool:
        """True when no violation was found."""
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    def explain(self, limit: int = 10) -> str:
        """A few lines for a human: the verdict, then up to ``limit`` violations."""
        if self.ok:
            return f"{self.check}: ok ({self.judged} {self.unit} checked)"
        lines = [f"{self.check}: {len(self.violations)} violation(s) "
                 f"({self.judged} {self.unit} checked)"]
        lines += [f"  {v}" for v in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        return "\n".join(lines)

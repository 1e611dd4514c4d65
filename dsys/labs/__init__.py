"""The lab framework: lab folders, graded tests, grading, and students' attempts.

Students use it through the ``dsys lab`` command::

    dsys lab list                       # the labs, their points, your progress
    dsys lab start lab0 ~/labs/lab0     # copy the starter files out
    dsys lab test lab0                  # grade your attempt

Instructors write a lab as a folder (see :mod:`dsys.labs.lab`) whose ``grader.py`` uses
:func:`graded` and :class:`Trial` (see :mod:`dsys.labs.grading`). The library's own tests
grade every lab's reference solution (it must earn every point) and every mutant in its
``mutants/`` folder (each must lose points), for every lab folder they find; a mutant can
build on the solution with :func:`reference_module`. Every grading also checks that the
graded code is deterministic (:mod:`dsys.labs.determinism`), and can run its seeds in
parallel processes (:mod:`dsys.labs.processes`).

Example:
    >>> from dsys.labs import discover
    >>> discover()[0].name
    'lab0'
"""

from dsys.labs.grading import (
    Failure,
    Grade,
    GradedTest,
    Outcome,
    Trial,
    grade,
    graded,
    load_grader,
    load_implementation,
    load_reference,
    reference_module,
)
from dsys.labs.lab import Lab, discover, find_lab, labs_root

__all__ = [
    "Failure",
    "Grade",
    "GradedTest",
    "Lab",
    "Outcome",
    "Trial",
    "discover",
    "find_lab",
    "grade",
    "graded",
    "labs_root",
    "load_grader",
    "load_implementation",
    "load_reference",
    "reference_module",
]

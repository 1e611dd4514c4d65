"""Finding a node factory from a command-line TARGET.

A TARGET is ``path/to/file.py:Factory`` or ``package.module:Factory``; ``Factory`` is a
:class:`~dsys.core.node.Node` subclass or any callable returning a node (a dotted name
like ``Outer.Inner`` works too).

A file is loaded by :func:`dsys.loader.load_file` (the grader loads students' files the
same way), as the module named after the file (``file``), with its folder first on
``sys.path`` while it loads, as ``python path/to/file.py`` would see its neighbours. That
name matters: message tags are ``module:ClassName``, so every process of a cluster must
import the messages under the same module name (or give them explicit
``@message(name=...)``).

It is :func:`dsys.loader.load_target`, the one loader of targets, kept importable here.

Example:
    >>> from dsys.runtime.target import load_target
    >>> load_target("dsys.demos.pingpong:Ponger").__name__
    'Ponger'
"""

from __future__ import annotations

from dsys.loader import load_target

__all__ = ["load_target"]

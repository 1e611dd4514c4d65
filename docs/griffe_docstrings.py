"""A griffe extension that makes dsys's docstrings read well in the API reference.

dsys's docstrings are written for ``help()`` and for Python's doctest: Google-style
sections, Sphinx roles (``:class:`~dsys.Node```) and ``Example:`` sections holding
``>>>`` sessions. mkdocstrings renders Markdown, so before a docstring is parsed this
extension

* turns a section header ``Example:`` into ``Examples:``, the section whose ``>>>``
  sessions mkdocstrings shows as highlighted code;
* turns a Sphinx role into inline code (``:class:`~dsys.sim.network.Network``` becomes
  ``Network`` in code style, the ``~`` keeping only the last name, as Sphinx does);
* turns a paragraph ending with ``::`` (a reStructuredText literal block) into one ending
  with ``:``, whose indented block Markdown then shows as code.

The docstrings themselves are left as they are, for ``help()`` and doctest.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:class|func|meth|mod|attr|data|exc|obj|const):`(?P<tilde>~?)(?P<target>[^`]+)`")
EXAMPLE_HEADER = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)
LITERAL_MARKER = re.compile(r"(?<=\S)::[ \t]*$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    target = match.group("target")
    shown = target.rsplit(".", 1)[-1] if match.group("tilde") else target
    return f"`{shown}`"


def readable(text: str) -> str:
    """The Markdown-friendly form of a docstring (see the module docstring)."""
    text = EXAMPLE_HEADER.sub(lambda m: f"{m.group('indent')}Examples:", text)
    text = ROLE.sub(_role, text)
    return LITERAL_MARKER.sub(":", text)


class ReadableDocstrings(griffe.Extension):
    """Rewrite each docstring with :func:`readable` once the object tree is built."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = readable(obj.docstring.value)

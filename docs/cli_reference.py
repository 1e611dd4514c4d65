"""The CLI reference, generated from the real argparse parsers of ``dsys``.

The page ``reference/cli.md`` holds the marker ``<!-- cli-reference -->``; at every build
this hook replaces it with one section per command and subcommand, walked from
:func:`dsys.cli.build_parser`: its description, its usage line, and a table of its
arguments (names, help, default). Nothing is written by hand, so a new option or command
appears on the page the next time the site is built.

Run it by hand to see the Markdown: ``python docs/cli_reference.py``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- cli-reference -->"
#: Columns of the usage lines (the docs' code blocks fit in 88).
WIDTH = 86


def commands(parser: argparse.ArgumentParser, path: str = "dsys"
             ) -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    """Every command below ``parser``, depth first in the order of ``--help``:
    ``(path, parser, one-line help)``, the path being e.g. ``"dsys lab start"``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                sub_path = f"{path} {name}"
                yield sub_path, sub, helps.get(name, "")
                yield from commands(sub, sub_path)


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            metavar = ""
            if action.nargs != 0:
                metavar = " " + (action.metavar if isinstance(action.metavar, str)
                                 else action.dest.upper())
            name = ", ".join(f"`{option}{metavar}`" for option in action.option_strings)
        else:
            name = f"`{action.metavar if isinstance(action.metavar, str) else action.dest}`"
        meaning = _cell(action.help or "")
        choices = [str(c) for c in action.choices or ()] \
            if not isinstance(action.choices, dict) else []
        if choices and not all(choice in meaning for choice in choices):
            meaning += " (one of " + ", ".join(f"`{choice}`" for choice in choices) + ")"
        default = ""
        if action.option_strings and action.nargs != 0 \
                and action.default not in (None, argparse.SUPPRESS):
            default = f"`{action.default}`"
        rows.append(f"| {name} | {meaning} | {default} |")
    if not rows:
        return []
    return ["| argument | meaning | default |", "| --- | --- | --- |", *rows, ""]


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions,
                        parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def reference(parser: argparse.ArgumentParser | None = None) -> str:
    """The Markdown of the CLI reference: a section per command.

    Example:
        >>> text = reference()
        >>> "## `dsys lab start`" in text and "`--force`" in text
        True
    """
    if parser is None:
        from dsys.cli import build_parser

        parser = build_parser()
    lines = [_usage(parser).join(["```text\n", "\n```"]), ""]
    lines += _arguments(parser)
    for path, sub, summary in commands(parser):
        level = "#" * min(path.count(" ") + 1, 4)
        lines += [f"{level} `{path}`", ""]
        description = sub.description or summary
        if description:
            lines += [" ".join(description.split()), ""]
        lines += [_usage(sub).join(["```text\n", "\n```"]), ""]
        lines += _arguments(sub)
    return "\n".join(lines)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """The MkDocs hook: the marker becomes the reference."""
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, reference())
    return markdown


if __name__ == "__main__":  # pragma: no cover
    print(reference())

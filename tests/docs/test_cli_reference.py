"""The CLI reference page is generated from the real parsers, and names every command.

``docs/cli_reference.py`` walks :func:`dsys.cli.build_parser` and writes a section per
command; the docs build runs it as a hook on ``reference/cli.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path
from types import ModuleType

from dsys.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dsys_docs_cli_reference",
                                                  ROOT / "docs" / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cli_reference = _generator()


def _subcommands(parser: argparse.ArgumentParser, path: str = "dsys") -> list[str]:
    """Every command path below ``parser``, found independently of the generator."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{path} {name}")
                found += _subcommands(sub, f"{path} {name}")
    return found


def _sections(markdown: str) -> dict[str, str]:
    """Heading text (the command path) -> the section's text."""
    parts = re.split(r"^#{2,4} `([^`]+)`$", markdown, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_subcommand_has_a_section_with_its_usage_and_options() -> None:
    parser = build_parser()
    sections = _sections(cli_reference.reference(parser))
    expected = _subcommands(parser)
    assert {"dsys lab test", "dsys check lin", "dsys trace show", "dsys run"} <= set(expected)
    assert list(sections) == expected  # each once, in the order of --help
    for path in expected:
        sub = parser
        for name in path.split()[1:]:
            sub = next(a for a in sub._actions
                       if isinstance(a, argparse._SubParsersAction)).choices[name]
        section = sections[path]
        assert f"usage: {path}" in section, path
        for action in sub._actions:
            if action.help == argparse.SUPPRESS:
                continue
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section, f"{path}: {option} is not on the page"


def test_a_new_command_appears_without_editing_the_page() -> None:
    parser = argparse.ArgumentParser(prog="dsys")
    groups = parser.add_subparsers()
    tool = groups.add_parser("tool", help="a tool")
    actions = tool.add_subparsers()
    frob = actions.add_parser("frob", description="Frob things.")
    frob.add_argument("--level", type=int, default=3, help="how hard: 1 | 2 | 3")
    frob.add_argument("--mode", choices=["fast", "slow"], help="which way")
    text = cli_reference.reference(parser)
    sections = _sections(text)
    assert list(sections) == ["dsys tool", "dsys tool frob"]
    assert "a tool" in sections["dsys tool"]
    frob_section = sections["dsys tool frob"]
    assert "Frob things." in frob_section
    assert "| `--level LEVEL` | how hard: 1 \\| 2 \\| 3 | `3` |" in frob_section  # one row
    assert "(one of `fast`, `slow`)" in frob_section


def test_usage_lines_fit_the_code_width() -> None:
    text = cli_reference.reference()
    blocks = re.findall(r"```text\n(.*?)\n```", text, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        for line in block.splitlines():
            assert len(line) <= 88, line


def test_the_page_is_generated_by_a_hook_of_the_site() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert cli_reference.MARKER in page
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    hooks = config.split("\nhooks:\n", 1)[1].split("\n\n", 1)[0]  # the list, to a blank line
    assert "- docs/cli_reference.py" in [line.split("#")[0].strip() for line in hooks.splitlines()]
    rendered = cli_reference.on_page_markdown(page)
    assert cli_reference.MARKER not in rendered and "## `dsys lab`" in rendered

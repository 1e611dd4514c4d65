"""The ``dsys`` command.

Each group of subcommands lives beside the code it drives and exposes
``register(subparsers)``, which adds its parsers and sets ``func`` on them: a callable
taking the parsed arguments and returning the exit status. Errors a user can cause are
raised as :class:`dsys.errors.DsysError` and printed here as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dsys import __version__
from dsys.errors import DsysError

#: Modules that contribute subcommands, in the order they appear in ``dsys --help``.
COMMAND_MODULES = (
    "dsys.demos.cli",
    "dsys.trace.cli",
    "dsys.check.cli",
    "dsys.search.cli",  # adds `dsys check model` to the check group
    "dsys.labs.cli",
    "dsys.runtime.cli",
    "dsys.runtime.kv_cli",  # `dsys kv`, a client of dsys.kv:KVServer clusters
    "dsys.runtime.scaling_cli",  # `dsys scaling load`, a load generator for dsys.scaling
    "dsys.lint",  # `dsys lint PATH`, the determinism and model-checkability lint
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dsys",
        description="Learn distributed systems by building them.",
    )
    parser.add_argument("--version", action="version", version=f"dsys {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except DsysError as error:
        print(f"dsys: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("dsys: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

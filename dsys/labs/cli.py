"""``dsys`` subcommands of dsys.labs (being written)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this package's commands."""

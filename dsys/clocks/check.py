"""Compatibility shim: the clock checkers live in :mod:`dsys.clocks.checkers`.

Every package names its checker module ``checkers``; this old name keeps working for now.
Names are looked up in the new module on first use (``ClockCheck``, the former result
type, is now :class:`dsys.check.Report`).
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name == "ClockCheck":
        name = "Report"
    return getattr(importlib.import_module("dsys.clocks.checkers"), name)

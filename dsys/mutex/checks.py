"""Compatibility shim: the mutual exclusion checkers live in :mod:`dsys.mutex.checkers`.

Every package names its checker module ``checkers``; this old name keeps working for now.
Names are looked up in the new module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("dsys.mutex.checkers"), name)

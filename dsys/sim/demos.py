"""Compatibility shim: the ``dsys demo`` command lives in :mod:`dsys.demos.cli`, beside the
demos it runs. This old path keeps working for now: names are looked up in the new module
on first use."""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("dsys.demos.cli"), name)

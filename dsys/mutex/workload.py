"""Compatibility shim: the mutual exclusion workload lives in
:mod:`dsys.demos.mutex_workload`.

It runs the algorithms in the simulator, and a protocol package never imports the
simulator (see "Layer rules" in the design), so it moved beside the other simulator
harnesses. This old path keeps working for now: names are looked up in the new module on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("dsys.demos.mutex_workload"), name)

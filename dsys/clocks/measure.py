"""Compatibility shim: the clock synchronisation measurements live in
:mod:`dsys.demos.clock_sync`.

They run Cristian's and Berkeley's algorithms in the simulator, and a protocol package
never imports the simulator (see "Layer rules" in the design), so they moved beside the
other simulator harnesses. This old path keeps working for now: names are looked up in the
new module on first use, and ``python -m dsys.clocks.measure`` still runs its ``main``.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("dsys.demos.clock_sync"), name)


if __name__ == "__main__":
    raise SystemExit(__getattr__("main")())

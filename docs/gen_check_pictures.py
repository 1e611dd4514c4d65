"""Draw the pictures of the linearizability pages with the checker itself.

``main(out_dir)`` writes, into ``out_dir``:

- ``lin-passing.svg``: a linearizable register history, with the linearization points the
  checker found;
- ``lin-stale-read.svg``: a stale read, which is sequentially consistent but not
  linearizable, with the region where the checker got stuck;
- ``lin-unknown-write.svg``: a write that timed out (``info``) and took effect later.

The docs build calls ``main``; run it by hand with ``python docs/gen_check_pictures.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dsys.check import check_linearizable, draw_history


def _op(
    process: int, f: str, value: Any, start: float, end: float | None, result: Any = None
) -> list[dict[str, Any]]:
    """The invoke and completion events of one operation (end None: timed out there)."""
    invoke = {"process": process, "type": "invoke", "f": f, "value": value, "time": start}
    if end is None:
        return [invoke]
    done = dict(invoke, type="ok", time=end, value=value if f != "read" else result)
    return [invoke, done]


def _timed_out(process: int, f: str, value: Any, start: float, end: float) -> list[dict[str, Any]]:
    invoke = {"process": process, "type": "invoke", "f": f, "value": value, "time": start}
    return [invoke, dict(invoke, type="info", time=end)]


def _history(*ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = [event for op in ops for event in op]
    return sorted(events, key=lambda event: event["time"])


#: Two writes and three reads that one copy of the register explains.
PASSING = _history(
    _op(0, "write", 1, 0.0, 1.0),
    _op(0, "write", 2, 1.5, 3.2),
    _op(1, "read", None, 0.4, 1.4, result=1),
    _op(1, "read", None, 2.0, 3.6, result=2),
    _op(2, "read", None, 2.2, 3.0, result=1),
)

#: p2 reads 1 after the write of 2 has completed: a stale read.
STALE_READ = _history(
    _op(0, "write", 1, 0.0, 1.0),
    _op(0, "write", 2, 1.5, 2.5),
    _op(1, "read", None, 2.8, 3.6, result=2),
    _op(2, "read", None, 3.0, 4.0, result=1),
)

#: p1's write of 3 timed out; a later read shows it did take effect, late.
UNKNOWN_WRITE = _history(
    _op(0, "write", 1, 0.0, 1.0),
    _timed_out(1, "write", 3, 0.5, 1.6),
    _op(0, "read", None, 1.8, 2.6, result=1),
    _op(2, "read", None, 2.9, 3.8, result=3),
)


def main(out_dir: str | Path) -> list[Path]:
    """Write the pictures into ``out_dir`` (created if needed); return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pictures = [
        ("lin-passing.svg", PASSING, "a linearizable history"),
        ("lin-stale-read.svg", STALE_READ, "a stale read"),
        ("lin-unknown-write.svg", UNKNOWN_WRITE, "a write that timed out"),
    ]
    written = []
    for name, events, title in pictures:
        result = check_linearizable(events, "register")
        written.append(draw_history(result, out / name, title=title))
    return written


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    for path in main(sys.argv[1] if len(sys.argv) > 1 else default):
        print(path)

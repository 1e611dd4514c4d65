"""Clocks: logical time and physical clock synchronisation.

Logical clocks, as layers any node can add without changing its protocol code:

* :class:`LamportLayer` (Lamport 1978): ``e → f`` implies ``L(e) < L(f)``;
* :class:`VectorClockLayer` over :class:`VectorClock` (Fidge 1988, Mattern 1989):
  ``e → f`` if and only if ``V(e) < V(f)``;
* :class:`HLCLayer` over :class:`HLCTimestamp` (Kulkarni et al. 2014): Lamport's guarantee
  with timestamps that stay close to physical time.

Judging them: :class:`HappensBefore` computes the happened-before relation of a trace, and
the checkers of :mod:`dsys.clocks.checkers` (:func:`check_lamport`, :func:`check_vector` and
:func:`check_hlc`) compare the timestamps the layers recorded (:mod:`dsys.clocks.timestamps`)
with it, each returning a :class:`Report`.

Physical clocks: :mod:`dsys.clocks.cristian` and :mod:`dsys.clocks.berkeley` synchronise
the simulator's skewed, drifting node clocks; :mod:`dsys.demos.clock_sync` measures the
skew they achieve in the simulator against the error bound they claim.

Example:
    >>> from dsys.clocks import VectorClock, Order
    >>> VectorClock({"a": 1}).compare(VectorClock({"b": 1})) is Order.CONCURRENT
    True
"""

from typing import Any

from dsys.check.report import Report, Violation
from dsys.clocks.berkeley import BerkeleyFollower, BerkeleyMaster
from dsys.clocks.checkers import check_hlc, check_lamport, check_vector
from dsys.clocks.cristian import CristianClient, CristianServer
from dsys.clocks.happens_before import HappensBefore
from dsys.clocks.hlc import HLCLayer, HLCTimestamp
from dsys.clocks.lamport import LamportLayer
from dsys.clocks.physical import SyncedClock
from dsys.clocks.timestamps import Stamped, read_timestamps
from dsys.clocks.vector import Order, VectorClock, VectorClockLayer

__all__ = [
    "BerkeleyFollower",
    "BerkeleyMaster",
    "CristianClient",
    "CristianServer",
    "HLCLayer",
    "HLCTimestamp",
    "HappensBefore",
    "LamportLayer",
    "Order",
    "Report",
    "Stamped",
    "SyncedClock",
    "VectorClock",
    "VectorClockLayer",
    "Violation",
    "check_hlc",
    "check_lamport",
    "check_vector",
    "read_timestamps",
]


def __getattr__(name: str) -> Any:
    # Compatibility shim: ``ClockCheck``, the clock checkers' former result type, is now
    # the one result type of every checker. The old name keeps working for now.
    if name == "ClockCheck":
        return Report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

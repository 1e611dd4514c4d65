"""Software-corrected physical clocks: what clock synchronisation adjusts.

A node cannot set its hardware clock (in the simulator, the :class:`~dsys.Clock` with its
offset and drift; on a real machine, the one the operating system keeps). What a
synchronisation algorithm can do is keep a *correction* on top of it::

    adjusted_now = node.now + correction

and claim how far that adjusted clock may be from the reference it synchronises to: an
*error bound*. The bound is established at a synchronisation and then grows, because the
two clocks keep drifting apart. With hardware clocks whose rate is off by at most ``rho``
(``max_drift``; 1e-4 = 100 parts per million), two clocks drift apart by at most ``2·rho``
seconds per second of real time, and an interval ``Δ`` read on one clock lasts at most
``Δ / (1 - rho)`` real seconds, so after ``Δ`` local seconds the bound has grown by::

    divergence(Δ) = 2·rho·Δ / (1 - rho)

:class:`SyncedClock` is the base of the synchronisation components
(:class:`~dsys.clocks.CristianClient`, :class:`~dsys.clocks.BerkeleyMaster`,
:class:`~dsys.clocks.BerkeleyFollower`): it holds the correction and the bound.

Example:
    >>> divergence(10.0, 1e-4) < 0.0021    # 10 s at 100 ppm: about 2 ms
    True
    >>> round_trip_bound(rtt=0.010, min_delay=0.002, max_drift=0.0)
    0.003
"""

from __future__ import annotations

from dsys.core.node import Component


def divergence(local_interval: float, max_drift: float) -> float:
    """How far two clocks with rate error at most ``max_drift`` can drift apart while
    one of them measures ``local_interval`` seconds."""
    return 2 * max_drift * local_interval / (1 - max_drift)


def round_trip_bound(rtt: float, min_delay: float, max_drift: float) -> float:
    """The error of estimating a remote clock as ``T + rtt/2`` (Cristian 1989).

    The remote clock was read at ``T`` some time during the round trip, at least
    ``min_delay`` after the request left and at least ``min_delay`` before the reply
    arrived; so at the reply's arrival it reads between ``T + min_delay`` and
    ``T + rtt - min_delay``, and the midpoint ``T + rtt/2`` is off by at most
    ``rtt/2 - min_delay``. Drift during the round trip adds at most ``3·rho·rtt/(1-rho)``: the
    two clocks diverge by up to ``2·rho`` per real second, and ``rtt`` itself was measured on a
    clock that may be ``rho`` slow or fast.
    """
    return rtt / 2 - min_delay + 3 * max_drift * rtt / (1 - max_drift)


class SyncedClock(Component):
    """A software clock on top of the node's hardware clock, kept by a synchronisation
    algorithm (a subclass): ``adjusted_now = node.now + correction``.

    ``error_bound`` is the claimed bound on ``|adjusted_now - reference|`` (the reference
    is the time server for Cristian, the master's clock for Berkeley), or None before the
    first synchronisation. It grows with :func:`divergence` since it was established.
    """

    def __init__(self, *, max_drift: float = 0.0) -> None:
        if not 0 <= max_drift < 1:
            raise ValueError(f"max_drift must be in [0, 1), got {max_drift}")
        self.max_drift = max_drift
        self.correction = 0.0
        self._bound: float | None = None
        self._bound_since = 0.0  # hardware clock reading when the bound was established

    @property
    def adjusted_now(self) -> float:
        """The synchronised time: the hardware clock plus the correction."""
        return self.node.now + self.correction

    @property
    def error_bound(self) -> float | None:
        """The claimed bound on this clock's error now (None: not synchronised yet)."""
        if self._bound is None:
            return None
        return self._bound + divergence(self.node.now - self._bound_since, self.max_drift)

    def _establish(self, bound: float, since: float) -> None:
        """For subclasses: the error was at most ``bound`` at hardware time ``since``."""
        self._bound = bound
        self._bound_since = since

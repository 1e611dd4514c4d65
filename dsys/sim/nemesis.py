"""The nemesis: random faults on a seeded schedule, as in Jepsen.

A nemesis alternates quiet periods and faults: it waits a random ``interval``, injects one
fault, lets it last a random ``duration``, reverts it, and starts again. Faults:

* ``"partition"``: the servers split into two random halves;
* ``"isolate"``: one random server is cut off from all the others;
* ``"oneway"``: one random server can send but receives nothing from the others;
* ``"crash"``: one random running server crashes, and restarts when the fault ends
  (at most ``max_crashed`` at a time; default: a minority of the servers);
* ``"clock"``: one random server's clock jumps by up to ``clock_jump`` seconds.

With ``include_clients=True`` the network faults (partition, isolate, oneway) may also cut
simulated clients off, as a client machine losing its network would be; crashes and clock
jumps still only hit servers (a client's history must survive).

At ``stop`` the nemesis heals the network and restarts every node it crashed, so a test
can then check that the system recovers. It uses only the simulator's public fault API,
and draws every choice from its own random generator (``"<seed>/nemesis"``).

Example:
    >>> from dsys import Nemesis, Simulation
    >>> sim = Simulation(seed=3)
    >>> nemesis = Nemesis(faults=("partition", "crash"), interval=(0.5, 1.0), stop=5.0)
    >>> nemesis.install(sim) is nemesis
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from random import Random
from typing import TYPE_CHECKING, Any

import attrs

from dsys.errors import ConfigError

if TYPE_CHECKING:
    from dsys.sim.simulation import Simulation

FAULTS = ("partition", "isolate", "oneway", "crash", "clock")


def _as_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _faults(_: Any, __: Any, value: tuple[str, ...]) -> None:
    unknown = [f for f in value if f not in FAULTS]
    if unknown or not value:
        raise ConfigError(f"nemesis faults must be a non-empty subset of {FAULTS}, got {value}")


def _span(_: Any, attribute: Any, value: tuple[float, float]) -> None:
    if len(value) != 2 or not 0 < value[0] <= value[1]:
        raise ConfigError(f"nemesis {attribute.name} must be (low, high) with 0 < low <= high")


@attrs.define
class Nemesis:
    """Random faults on a seeded schedule; see the module docstring."""

    faults: tuple[str, ...] = attrs.field(default=("partition", "crash"), converter=_as_tuple,
                                          validator=_faults)
    interval: tuple[float, float] = attrs.field(default=(0.5, 2.0), validator=_span)
    duration: tuple[float, float] = attrs.field(default=(0.5, 2.0), validator=_span)
    start: float = 0.0
    stop: float | None = None
    max_crashed: int | None = None
    clock_jump: float = 0.5
    include_clients: bool = False
    history: list[tuple[float, str, str]] = attrs.field(factory=list, init=False)
    _sim: Any = attrs.field(default=None, init=False, repr=False)
    _rng: Random = attrs.field(factory=Random, init=False, repr=False)
    _crashed: list[str] = attrs.field(factory=list, init=False, repr=False)
    _stopped: bool = attrs.field(default=False, init=False, repr=False)

    def install(self, sim: Simulation) -> Nemesis:
        """Schedule this nemesis on ``sim``; returns itself."""
        self._sim = sim
        self._rng = Random(f"{sim.seed}/nemesis")
        self._crashed: list[str] = []
        self._stopped = False
        sim.at(max(self.start, sim.now), self._quiet)
        if self.stop is not None:
            sim.at(self.stop, self.halt)
        return self

    def halt(self) -> None:
        """Stop injecting faults: heal the network and restart what this nemesis crashed."""
        self._stopped = True
        self._sim.heal()
        for node_id in self._crashed:
            self._sim.restart(node_id)
        self._crashed = []
        self.history.append((self._sim.now, "halt", ""))

    def _quiet(self) -> None:
        if not self._stopped:
            self._sim.after(self._rng.uniform(*self.interval), self._inject)

    def _inject(self) -> None:
        if self._stopped:
            return
        sim, rng = self._sim, self._rng
        servers = list(sim.node_ids)
        # Who the network faults may cut off (crashes and clocks stay on servers).
        reachable = servers + list(sim.client_ids) if self.include_clients else servers
        kind = rng.choice(self.faults)
        revert: Callable[[], None]
        target = ""
        if len(reachable) < 2 and kind != "crash":
            kind = "crash"
        if kind == "partition":
            shuffled = reachable[:]
            rng.shuffle(shuffled)
            cut = rng.randint(1, len(shuffled) - 1)
            sim.partition(shuffled[:cut], shuffled[cut:])
            target = ",".join(sorted(shuffled[:cut]))
            revert = sim.heal
        elif kind == "isolate":
            target = rng.choice(reachable)
            sim.partition([target], [n for n in reachable if n != target])
            revert = sim.heal
        elif kind == "oneway":
            target = rng.choice(reachable)
            for other in reachable:
                if other != target:
                    sim.block(other, target)
            revert = sim.heal
        elif kind == "crash":
            limit = self.max_crashed if self.max_crashed is not None else (len(servers) - 1) // 2
            up = [n for n in servers if sim.is_up(n)]
            if len(self._crashed) >= limit or not up:
                self._quiet()
                return
            target = rng.choice(up)
            sim.crash(target)
            self._crashed.append(target)
            revert = lambda: self._restart(target)  # noqa: E731
        else:  # clock
            target = rng.choice(servers)
            sim.set_clock(target, offset=rng.uniform(-self.clock_jump, self.clock_jump))
            revert = lambda: sim.set_clock(target, offset=0.0)  # noqa: E731
        self.history.append((sim.now, kind, target))
        sim.after(rng.uniform(*self.duration), self._end, revert)

    def _end(self, revert: Callable[[], None]) -> None:
        if not self._stopped:
            revert()
            self._quiet()

    def _restart(self, node_id: str) -> None:
        if node_id in self._crashed:
            self._crashed.remove(node_id)
            self._sim.restart(node_id)

"""Deliberately broken scale-out code: each breaks one property, the way a student might.
The tests run them and expect their checks to fail."""

from __future__ import annotations

from random import Random

from dsys.scaling import Balancer, PoolManager, TargetUtilization, TwoChoices
from dsys.scaling.server import Deactivate


class SamplesOne(TwoChoices):
    """"Two choices" that samples one server: random routing under another name."""

    def sample(self, rng: Random) -> list[str]:
        return [self.servers[rng.randrange(len(self.servers))]]


class RoutesToRemoved(Balancer):
    """Says it removed a server but leaves it in the routing policy: new requests keep
    going there."""

    def remove_server(self, server: str, *, tell: str | None = None) -> None:
        self.note("remove", server=server, outstanding=self.outstanding.get(server, 0))


class TurnsOffWithoutDraining(PoolManager):
    """Turns a machine off as soon as it asks the balancer to remove it, without waiting
    for the balancer to say it drained."""

    def scale_to(self, servers: int) -> None:
        draining = {m for m, s in self.state.items() if s == "draining"}
        super().scale_to(servers)
        for machine, state in sorted(self.state.items()):
            if state == "draining" and machine not in draining:
                self.state[machine] = "off"
                self.send(machine, Deactivate())


#: An autoscaler without hysteresis: no band around the target, no stabilization window.
NO_HYSTERESIS = TargetUtilization(target=0.6, low=0.6, high=0.6, cooldown=10.0,
                                  stabilization=0.0)

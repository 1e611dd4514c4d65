"""Small nodes used by the simulator tests."""

from __future__ import annotations

from typing import Any

from dsys import Node, message


@message(name="simtest:Num")
class Num:
    n: int


class Sender(Node):
    """Sends ``count`` numbered messages to ``b`` at start, spaced ``gap`` apart."""

    count = 200
    gap = 0.0

    def on_start(self) -> None:
        self.i = 0
        self.send_next()

    def send_next(self) -> None:
        while self.i < self.count:
            self.send("b", Num(self.i))
            self.i += 1
            if self.gap:
                self.set_timer("next", self.gap)
                return

    def on_timer(self, name: str) -> None:
        self.send_next()


class Recorder(Node):
    """Records (time, src, n) for every message; replies to ``echo`` senders."""

    def on_start(self) -> None:
        self.got: list[tuple[float, str, int]] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.got.append((self.now, src, msg.n))


def sends_and_delivers(sim: Any) -> tuple[dict[int, float], dict[int, list[float]]]:
    """Send time and delivery times of every message id, from the trace."""
    sent: dict[int, float] = {}
    delivered: dict[int, list[float]] = {}
    for e in sim.trace:
        if e.kind == "send":
            sent[e.data["id"]] = e.time
        elif e.kind == "recv":
            delivered.setdefault(e.data["id"], []).append(e.time)
    return sent, delivered

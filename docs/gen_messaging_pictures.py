"""Draw the pictures of the communication page from real simulation runs.

``main(out_dir)`` writes, into ``out_dir``:

- ``causal-violation-fifo.svg``: the chat of ``dsys demo causal`` over FIFO broadcast:
  Bob's answer overtakes Alice's question on its way to Carol;
- ``causal-order-kept.svg``: the same run over causal broadcast: Carol holds the answer
  back until the question has arrived;
- ``rpc-table-forgets.svg``: an at-most-once RPC server runs a call, its reply is lost,
  it crashes and restarts, and the client's retry runs the call a second time;
- ``gossip-spread.svg``: how many of 1,000 nodes know a rumor after each round, for push,
  pull and push-pull gossip.

The space-time diagrams are drawn by :func:`dsys.trace.svg.draw` from the runs' traces,
keeping the protocol's data messages and turning its ``note`` events (what the protocol
delivered or executed) into labelled points.

The docs build calls ``main``; run it by hand with ``python docs/gen_messaging_pictures.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from dsys import Network, Node, Simulation
from dsys.demos import causal
from dsys.demos.gossip_rounds import spread_rumor
from dsys.messaging import Rpc, RpcResult
from dsys.trace import Trace, TraceEvent
from dsys.trace.svg import draw


def protocol_view(trace: Trace, messages: tuple[str, ...],
                  label: Callable[[TraceEvent], str | None], *,
                  arrow: Callable[[object], str] | None = None,
                  senders: tuple[str, ...] | None = None) -> Trace:
    """The events worth drawing: sends, deliveries and drops of ``messages`` (sent by
    ``senders``, default anyone), faults, and each note that ``label`` names (as a log
    point with that text). ``arrow(message)`` names a message's arrow (default: its type)."""
    kept = []
    for event in trace:
        if event.kind in ("send", "recv", "drop"):
            sender = event.data.get("from", event.node) if event.kind != "send" else event.node
            kind = event.message_name or event.data.get("type")
            if kind not in messages or (senders is not None and sender not in senders):
                continue
            if arrow is not None and "msg" in event.data:
                name = arrow(event.data["msg"])
                event = TraceEvent(event.time, event.node, event.kind,
                                   {**event.data, "msg": {"type": f"view:{name}", "body": {}}})
            kept.append(event)
        elif event.kind in ("crash", "restart", "block", "heal", "partition"):
            kept.append(event)
        elif event.kind == "note" and (text := label(event)) is not None:
            last = kept[-1] if kept else None
            if last and last.kind == "log" and (last.time, last.node) == (event.time, event.node):
                # One label per instant, or they overlap: "reads lunch?, yes!".
                verb = str(last.data["text"]).split(" ")[0] + " "
                text = f"{last.data['text']}, {text.removeprefix(verb)}"
                kept.pop()
            kept.append(TraceEvent(event.time, event.node, "log", {"text": text}))
    return Trace(kept)


def chat_picture(protocol: str) -> str:
    """The causal demo's chat over one protocol, drawn (Carol's own relays left out)."""
    sim = causal.scenario(protocols=(protocol,))
    sim.run(until=0.35)
    message = {"fifo": "RbMessage", "causal": "CausalMessage"}[protocol]

    def label(event: TraceEvent) -> str | None:
        if event.data.get("event") == "deliver":
            return f"reads {event.data['payload']}"
        return None

    def arrow(msg: object) -> str:
        return str(getattr(msg, "payload", "?"))

    title = {"fifo": "FIFO broadcast: carol reads the answer before the question",
             "causal": "causal broadcast: carol waits for the question"}[protocol]
    view = protocol_view(sim.trace, (message,), label, arrow=arrow, senders=("alice", "bob"))
    return draw(view, nodes=["alice", "bob", "carol"], height=600, title=title)


class CounterServer(Node):
    def __init__(self) -> None:
        super().__init__()
        self.rpc = self.add_component(Rpc("at-most-once"))
        self.rpc.register("add", lambda caller, n: n)


class OneCall(Node):
    def __init__(self) -> None:
        super().__init__()
        self.rpc = self.add_component(Rpc(timeout=0.05, retries=None))

    def on_start(self) -> None:
        self.set_timer("call", 0.1)

    def on_timer(self, name: str) -> None:
        self.rpc.call("server", "add", 5, self.done)

    def done(self, result: RpcResult) -> None:
        self.log(f"got {result.value} after {result.attempts} attempts")


def rpc_picture() -> str:
    """At-most-once RPC, a lost reply and a server crash: the call runs twice."""
    sim = Simulation(seed=1, network=Network(latency=(0.001, 0.010)))
    sim.add_node("client", OneCall)
    sim.add_node("server", CounterServer)
    sim.at(0.05, sim.block, "server", "client")
    sim.at(0.2, sim.crash, "server")
    sim.at(0.3, sim.restart, "server")
    sim.at(0.31, sim.heal)
    sim.run(until=0.5)

    def label(event: TraceEvent) -> str | None:
        what = event.data.get("event")
        if what == "execute":
            return f"runs add #{event.data['rid']}"
        if what == "duplicate":
            return "table answers"
        if what == "result":
            return f"result: {event.data['value']}"
        return None

    return draw(protocol_view(sim.trace, ("RpcRequest", "RpcReply"), label),
                nodes=["client", "server"], height=420,
                title="at-most-once RPC: a crash forgets")


def gossip_picture(nodes: int = 1000, seed: int = 1) -> str:
    """Informed nodes per round, one line per mode (a plain SVG line chart)."""
    runs = {mode: spread_rumor(nodes, mode, seed=seed) for mode in ("push", "pull", "push-pull")}
    colours = {"push": "#c53030", "pull": "#2b6cb0", "push-pull": "#2f855a"}
    width, height, left, top, bottom = 560, 320, 60, 40, 270
    rounds = max(run.rounds for run in runs.values())
    x_of = lambda r: left + r * (width - left - 20) / rounds  # noqa: E731
    y_of = lambda n: bottom - n * (bottom - top) / nodes  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="18" font-size="13" font-weight="bold">gossip: nodes that know '
           f'the rumor, {nodes} nodes, fanout 1 (seed {seed})</text>',
           f'<line x1="{left}" y1="{bottom}" x2="{width - 20}" y2="{bottom}" stroke="#4a5568"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#4a5568"/>']
    for r in range(0, rounds + 1, 2):
        out.append(f'<text x="{x_of(r):.1f}" y="{bottom + 15}" text-anchor="middle" '
                   f'fill="#718096">{r}</text>')
    out.append(f'<text x="{(left + width) / 2}" y="{bottom + 32}" text-anchor="middle">'
               "round</text>")
    for n in (0, nodes // 2, nodes):
        out.append(f'<text x="{left - 6}" y="{y_of(n) + 4:.1f}" text-anchor="end" '
                   f'fill="#718096">{n}</text>')
    for index, (mode, run) in enumerate(runs.items()):
        points = " ".join(f"{x_of(r):.1f},{y_of(n):.1f}" for r, n in enumerate(run.informed))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colours[mode]}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{width - 150}" y="{bottom - 60 + 15 * index}" '
                   f'fill="{colours[mode]}">{mode}: {run.rounds} rounds</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(out_dir: str | Path) -> list[Path]:
    """Write the pictures into ``out_dir`` (created if needed); return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pictures = {
        "causal-violation-fifo.svg": lambda: chat_picture("fifo"),
        "causal-order-kept.svg": lambda: chat_picture("causal"),
        "rpc-table-forgets.svg": rpc_picture,
        "gossip-spread.svg": gossip_picture,
    }
    written = []
    for name, make in pictures.items():
        path = out / name
        path.write_text(make(), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    for path in main(sys.argv[1] if len(sys.argv) > 1 else default):
        print(path)

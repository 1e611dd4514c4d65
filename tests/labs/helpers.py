"""A tiny lab, written to a temporary folder, for testing the lab framework itself."""

from __future__ import annotations

import textwrap
from pathlib import Path

LAB_TOML = """\
title = "Echo"
topic = "testing the framework"
aliases = ["e"]
implementation = "echo.py"
requires = ["Client", "Server"]
reference = "solution.py"
"""

SOLUTION = '''
from dsys import Node, message


@message
class Echo:
    text: str


class Server(Node):
    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Echo():
                self.send(src, msg)


class Client(Node):
    def __init__(self, server: str) -> None:
        super().__init__()
        self.server = server
        self.echoed = False

    def on_start(self) -> None:
        self.send(self.server, Echo("hi"))
        self.set_timer("retry", 0.05)

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Echo():
                self.echoed = True
                self.cancel_timer("retry")

    def on_timer(self, name: str) -> None:
        self.on_start()
'''

#: Sends once: loses its greeting forever when the network drops it.
NO_RETRY = SOLUTION.replace('        self.set_timer("retry", 0.05)\n', "")

#: Crashes in a handler (at the ``1 / 0``).
CRASHING = SOLUTION.replace(
    "            case Echo():\n                self.send(src, msg)",
    "            case Echo():\n                print('about to divide')\n                1 / 0",
)

GRADER = '''
from dsys import Network
from dsys.labs import Trial, graded


def echoed(sim) -> bool:
    return bool(getattr(sim.node("client"), "echoed", False))


@graded(points=3, runs=4)
def perfect(trial: Trial) -> None:
    """Echoes on a perfect network."""
    sim = trial.simulation()
    sim.add_node("server", trial.impl.Server)
    sim.add_node("client", lambda: trial.impl.Client("server"))
    assert trial.run_until(sim, echoed, timeout=1.0), "no echo"


@graded(points=7, runs=25)
def lossy(trial: Trial) -> None:
    """Echoes when half of the messages are lost."""
    sim = trial.simulation(network=Network(drop=0.5))
    sim.add_node("server", trial.impl.Server)
    sim.add_node("client", lambda: trial.impl.Client("server"))
    assert trial.run_until(sim, echoed, timeout=5.0), "no echo after 5 s"
'''


def make_lab(root: Path, name: str = "echo", *, grader: str = GRADER,
             toml: str = LAB_TOML) -> Path:
    """Write the tiny lab into ``root/name`` and return its folder."""
    folder = root / name
    (folder / "starter").mkdir(parents=True)
    (folder / "mutants").mkdir()
    (folder / "lab.toml").write_text(toml)
    (folder / "README.md").write_text("# Echo\n\nMake it echo.\n")
    (folder / "grader.py").write_text(textwrap.dedent(grader))
    (folder / "solution.py").write_text(SOLUTION)
    (folder / "starter" / "echo.py").write_text(NO_RETRY)
    (folder / "mutants" / "no_retry.py").write_text(NO_RETRY)
    (folder / "mutants" / "crashing.py").write_text(CRASHING)
    return folder

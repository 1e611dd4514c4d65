"""dsys: learn distributed systems by building them.

The curated public API. Everything a student needs to write nodes and run them is here;
deeper modules (``dsys.sim``, ``dsys.trace``, ``dsys.check``...) hold the rest.
"""

import importlib.metadata as _metadata

try:
    __version__ = _metadata.version("dsys")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from dsys.core.client import Client
from dsys.core.messages import message
from dsys.core.node import Component, Layer, Node
from dsys.core.storage import Storage
from dsys.errors import CodecError, ConfigError, DsysError, UsageError
from dsys.sim.nemesis import Nemesis
from dsys.sim.network import Constant, Exponential, Network, Uniform
from dsys.sim.report import HandlerError, InvariantViolation, SimulationError, WireError
from dsys.sim.simulation import Clock, Simulation
from dsys.trace.events import Trace, TraceEvent

__all__ = [
    "Client",
    "Clock",
    "CodecError",
    "Component",
    "ConfigError",
    "Constant",
    "DsysError",
    "Exponential",
    "HandlerError",
    "InvariantViolation",
    "Layer",
    "Nemesis",
    "Network",
    "Node",
    "Simulation",
    "SimulationError",
    "Storage",
    "Trace",
    "TraceEvent",
    "Uniform",
    "UsageError",
    "WireError",
    "__version__",
    "message",
]

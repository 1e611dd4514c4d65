"""The deterministic simulator: virtual time, a hostile network, crashes, clients."""

from dsys.core.client import Client
from dsys.sim.nemesis import Nemesis
from dsys.sim.network import Constant, Custom, Exponential, Latency, LinkSettings, Network, Uniform
from dsys.sim.report import HandlerError, InvariantViolation, SimulationError, WireError
from dsys.sim.simulation import Clock, Simulation, Statistics

__all__ = [
    "Client",
    "Clock",
    "Constant",
    "Custom",
    "Exponential",
    "HandlerError",
    "InvariantViolation",
    "Latency",
    "LinkSettings",
    "Nemesis",
    "Network",
    "Simulation",
    "SimulationError",
    "Statistics",
    "Uniform",
    "WireError",
]

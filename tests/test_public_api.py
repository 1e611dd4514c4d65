"""``dsys/__init__.py`` is the curated public API: this test keeps it honest."""

from __future__ import annotations

import inspect

import dsys

#: The public API, as the docs present it. Changing it is a decision: update both.
DOCUMENTED = {
    "Client", "Clock", "CodecError", "Component", "ConfigError", "Constant", "DsysError",
    "Exponential", "HandlerError", "InvariantViolation", "Layer", "Nemesis", "Network", "Node",
    "Simulation", "SimulationError", "Storage", "Trace", "TraceEvent", "Uniform", "UsageError",
    "WireError", "__version__", "message",
}


def test_all_lists_exactly_the_documented_names() -> None:
    assert set(dsys.__all__) == DOCUMENTED
    assert len(dsys.__all__) == len(set(dsys.__all__))


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in dsys.__all__:
        obj = getattr(dsys, name)
        if name.startswith("__"):
            continue
        assert inspect.getdoc(obj), f"dsys.{name} has no docstring"


def test_no_public_name_leaks_in_without_being_listed() -> None:
    public = {n for n in vars(dsys) if not n.startswith("_")}
    modules = {n for n in public if inspect.ismodule(getattr(dsys, n))}
    assert public - modules == set(dsys.__all__) - {"__version__"}

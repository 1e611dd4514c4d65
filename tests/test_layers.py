"""The layer rules of docs/design.md hold, and would be caught if broken.

The rules are import-linter contracts in pyproject.toml (``[tool.importlinter]``). These
tests run ``lint-imports`` on the code, then on copies of the code with one forbidden
import added, to prove that each contract really fails (so a mistake in the configuration
itself cannot pass unnoticed); they check that every package of dsys is placed in the
contracts; and that importing a protocol package does not load the simulator.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {contract["id"]: contract for contract in CONFIG["contracts"]}

#: What a protocol package may import besides other protocol packages (see the design).
SHARED = {"dsys.core", "dsys.errors", "dsys.trace", "dsys.check"}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the dsys package and configuration found in ``root``."""
    tool = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.fail("lint-imports is not installed: install the dev extra "
                    "(pip install -e '.[dev]')")
    # --no-cache: write nothing into the tree (import-linter caches in the current folder).
    return subprocess.run([tool, "--no-cache", "--no-logo"], cwd=root, capture_output=True,
                          text=True, timeout=120)


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the package and its configuration, to break on purpose."""
    shutil.copytree(ROOT / "dsys", tmp_path / "dsys",
                    ignore=shutil.ignore_patterns("__pycache__", ".lab-folders"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(root: Path, module: str, statement: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{statement}\n")


@pytest.mark.parametrize(("module", "statement", "contract", "reported"), [
    ("dsys.messaging.gossip", "from dsys.sim.simulation import Simulation", "protocols",
     "dsys.messaging.gossip -> dsys.sim.simulation"),
    ("dsys.mutex.central", "import dsys.demos.mutex_workload", "protocols",
     "dsys.mutex.central -> dsys.demos.mutex_workload"),
    # Through the public API of dsys/__init__.py, which imports the simulator.
    ("dsys.clocks.lamport", "from dsys import Simulation", "protocols",
     "dsys.clocks.lamport -> dsys ("),
    ("dsys.core.storage", "import dsys.trace.events", "core",
     "dsys.core.storage -> dsys.trace.events"),
    ("dsys.runtime.wire", "import dsys.sim.network", "hosts",
     "dsys.runtime.wire -> dsys.sim.network"),
], ids=["protocol-imports-sim", "protocol-imports-demos", "protocol-imports-dsys",
        "core-imports-trace", "runtime-imports-sim"])
def test_each_contract_fails_when_its_rule_is_broken(copy: Path, module: str, statement: str,
                                                     contract: str, reported: str) -> None:
    add_import(copy, module, statement)
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert CONTRACTS[contract]["name"] in broken, result.stdout
    assert reported in broken, result.stdout


def test_every_package_of_dsys_is_placed_in_the_contracts() -> None:
    """import-linter refuses to name a package that does not exist yet, so a new package
    must be added to the contracts when it appears: a protocol package to the sources of
    the "protocols" contract, a host, harness or tool to its forbidden modules."""
    protocols = CONTRACTS["protocols"]
    placed = SHARED | set(protocols["source_modules"]) | set(protocols["forbidden_modules"])
    packages = {f"dsys.{p.name}" for p in (ROOT / "dsys").iterdir()
                if (p / "__init__.py").is_file()}
    assert packages - placed == set(), (
        "place each new package in pyproject.toml's [tool.importlinter] contract "
        "'protocols' (see 'Layer rules' in docs/design.md)")
    assert {"dsys.clocks", "dsys.messaging", "dsys.mutex"} <= set(protocols["source_modules"])
    assert {"dsys.sim", "dsys.runtime", "dsys.labs", "dsys.demos", "dsys.cli",
            "dsys.testing"} <= set(protocols["forbidden_modules"])


# ----- importing a protocol package --------------------------------------------------------

# dsys/__init__.py imports the simulator for the public API (dsys.Simulation), so this
# imports the protocol packages under a bare ``dsys`` package (its folder, without running
# its __init__) and lists what they load: only the core, the shared pieces and themselves.
BARE_IMPORT = """
import importlib.util, sys, types
spec = importlib.util.find_spec("dsys")
assert spec.submodule_search_locations[0].startswith(sys.argv[1]), spec
bare = types.ModuleType("dsys")
bare.__path__ = list(spec.submodule_search_locations)
sys.modules["dsys"] = bare
import dsys.clocks, dsys.messaging, dsys.mutex
print("\\n".join(sorted({".".join(m.split(".")[:2]) for m in sys.modules
                         if m.startswith("dsys.")})))
"""


def loaded_by_protocols(root: Path) -> set[str]:
    """The top-level parts of dsys loaded by importing the protocol packages in ``root``."""
    result = subprocess.run([sys.executable, "-c", BARE_IMPORT, str(root)], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_importing_a_protocol_package_does_not_load_the_simulator() -> None:
    loaded = loaded_by_protocols(ROOT)
    assert {"dsys.clocks", "dsys.messaging", "dsys.mutex"} <= loaded
    assert loaded <= SHARED | {"dsys.clocks", "dsys.messaging", "dsys.mutex"}


def test_the_import_check_sees_a_protocol_module_that_loads_the_simulator(copy: Path) -> None:
    add_import(copy, "dsys.messaging.gossip", "from dsys.sim.network import Network")
    assert "dsys.sim" in loaded_by_protocols(copy)


# ----- compatibility shims -----------------------------------------------------------------

#: Names that moved, by old module: they keep working from there for now (looked up in the
#: new module on first use, so the old module does not import it).
MOVED = {
    "dsys.messaging": ("dsys.demos.gossip_rounds", ["RumorRun", "spread_rumor"]),
    "dsys.messaging.gossip": ("dsys.demos.gossip_rounds", ["RumorRun", "spread_rumor"]),
    "dsys.clocks.measure": ("dsys.demos.clock_sync", [
        "Sample", "SyncMeasurement", "SyncSetup", "main", "measure_berkeley",
        "measure_cristian"]),
    "dsys.clocks.draw": ("dsys.demos.clock_sync", ["draw_sync"]),
    "dsys.clocks.check": ("dsys.clocks.checkers", ["check_hlc", "check_lamport",
                                                   "check_vector", "Violation"]),
    "dsys.mutex": ("dsys.demos.mutex_workload", [
        "Workload", "add_workload", "entries", "finished", "messages_per_entry", "simulate",
        "workloads"]),
    "dsys.mutex.workload": ("dsys.demos.mutex_workload", ["Workload", "simulate", "THINK"]),
    "dsys.mutex.checks": ("dsys.mutex.checkers", [
        "check_bounded_waiting", "check_liveness", "check_order", "check_safety",
        "safety_invariant", "Report", "Violation"]),
    "dsys.sim.demos": ("dsys.demos.cli", ["register", "run_demo"]),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_names_keep_working_from_their_old_module(old: str) -> None:
    new, names = MOVED[old]
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name), (old, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = old_module.no_such_name


def test_the_clock_checkers_former_result_type_is_the_report() -> None:
    from dsys.check import Report
    from dsys.clocks import ClockCheck
    from dsys.clocks.check import ClockCheck as Old

    assert ClockCheck is Old is Report

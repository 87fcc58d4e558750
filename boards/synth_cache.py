"""The resource report's cache: synthesis runs again only when what it reads has changed.

``boards/resources.py`` synthesizes every layer core for two families, twice each (2 to 3.5
minutes for a config), and ``make bitstream`` runs it before every board build. The key of a
report is a digest of everything it depends on: the RTLIL of every layer core (the design as
Yosys reads it), the synthesis script of every run, the tool's banner (``yosys -V``: version and
build), the report's own code (``boards/resources.py``) and the options (config, lanes, families,
flattened builds, weight width). A report found under its key is returned as it was written,
with ``cache`` = ``{"hit": true, "key": ..., "synthesis_seconds": ...}`` (the time the synthesis
took) and ``seconds`` the time of this run.
"""
import hashlib
import json
from pathlib import Path

FOLDER = "report-cache"         # under the config's work folder (build/resources/<config>-p<P>)


def key(options: dict, files: list[Path]) -> str:
    """The digest of ``options`` (JSON) and the contents of ``files``, in order."""
    h = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    for path in files:
        h.update(b"\0" + Path(path).read_bytes())
    return h.hexdigest()[:20]


def load(work: Path, digest: str) -> dict | None:
    """The report stored under ``digest``, or None (also when the file is not readable JSON:
    a run interrupted while writing it then synthesizes again)."""
    path = Path(work) / FOLDER / f"{digest}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def store(work: Path, digest: str, report: dict) -> Path:
    """Write ``report`` under ``digest`` atomically (a temporary file renamed)."""
    path = Path(work) / FOLDER / f"{digest}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report))
    tmp.replace(path)
    return path

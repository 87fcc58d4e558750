"""What a worker must share with the client: the checkout's code and the Python environment.

``checkout_digest`` hashes the project's code (every ``.py`` file of the packages named in
``pyproject.toml``, ``pyproject.toml`` itself and ``configs/*.yaml``) and, separately, the
environment (the Python version and the installed version of every dependency it names). A task
run by other code or other library versions would not give the serial run's result, so
``CheckoutCheck``, a Dask worker plugin carrying the client's digest, refuses a worker whose
digest differs: the worker logs why, reports it to the client on ``REFUSED_TOPIC`` and closes
(with its nanny, so it is not restarted), before it runs any task.
"""
from __future__ import annotations

import hashlib
import os
import platform
import re
import tomllib
from importlib import metadata
from pathlib import Path

from distributed import WorkerPlugin

ROOT = Path(__file__).resolve().parents[1]       # the checkout this package was imported from
REFUSED_TOPIC = "ttfs-worker-refused"
SHOWN = 8                                         # differing files or versions named in an error


class CodeMismatch(RuntimeError):
    """A worker's code or environment differs from the client's; the message names what."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def code_files(root: Path = ROOT) -> list[Path]:
    """The files whose content defines what a task computes (paths relative to ``root``)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    files = [Path("pyproject.toml")]
    for package in project["tool"]["setuptools"]["packages"]:
        files += [p.relative_to(root) for p in (root / package).rglob("*.py")]
    files += [p.relative_to(root) for p in (root / "configs").glob("*.yaml")]
    return sorted(files)


def environment(root: Path = ROOT) -> dict[str, str]:
    """The Python version and the installed version of each dependency in pyproject.toml."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    names = [re.match(r"[A-Za-z0-9_.-]+", spec).group(0) for spec in project["dependencies"]]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def checkout_digest(root: Path = ROOT) -> dict:
    """``code`` and ``environment`` digests, with the per-file digests and versions behind them."""
    files = {str(p): _sha((root / p).read_bytes()) for p in code_files(root)}
    versions = environment(root)
    return {"code": _sha(repr(sorted(files.items())).encode()),
            "environment": _sha(repr(sorted(versions.items())).encode()),
            "files": files, "versions": versions, "root": str(root)}


def differences(expected: dict, found: dict) -> list[str]:
    """What differs between two ``checkout_digest`` results, one phrase each (files, versions)."""
    out = []
    for kind, noun in (("files", "file"), ("versions", "version of")):
        mine, theirs = expected[kind], found[kind]
        for name in sorted(set(mine) | set(theirs)):
            if mine.get(name) != theirs.get(name):
                if kind == "files":
                    what = ("missing on the worker" if name not in theirs else
                            "only on the worker" if name not in mine else "content differs")
                else:
                    what = f"client {mine.get(name)}, worker {theirs.get(name)}"
                out.append(f"{noun} {name} ({what})")
    return out


def mismatch_message(worker: str, expected: dict, found: dict) -> str:
    diffs = differences(expected, found)
    shown = "; ".join(diffs[:SHOWN]) + (f"; and {len(diffs) - SHOWN} more" if len(diffs) > SHOWN else "")
    return (f"worker {worker} refused: its checkout ({found['root']}, code {found['code']}, "
            f"environment {found['environment']}) differs from the client's ({expected['root']}, "
            f"code {expected['code']}, environment {expected['environment']}): {shown}. Workers "
            "must run the same checkout (same commit, no local changes) in the same environment: "
            "see README, 'Sweeps on Dask'")


class CheckoutCheck(WorkerPlugin):
    """Refuses a worker whose ``checkout_digest`` differs from ``expected`` (the client's), and
    moves an accepted worker into the client's working directory, where the caches' relative
    paths (``build/...``) point."""

    name = "ttfs-checkout-check"
    idempotent = False

    def __init__(self, expected: dict, workdir: str):
        self.expected, self.workdir = expected, workdir

    async def setup(self, worker):
        found = checkout_digest()
        problem = None
        if (found["code"], found["environment"]) != (self.expected["code"], self.expected["environment"]):
            problem = mismatch_message(worker.address, self.expected, found)
        elif not Path(self.workdir).is_dir():
            problem = (f"worker {worker.address} refused: the client's working directory "
                       f"{self.workdir} does not exist on it; workers need the checkout at the same "
                       "path (a shared filesystem)")
        if problem is None:
            os.chdir(self.workdir)
            return
        worker.log_event(REFUSED_TOPIC, {"worker": worker.address, "message": problem})
        # Closing the nanny too: a restarted worker would be refused again, forever.
        worker.loop.add_callback(worker.close, nanny=True, reason="checkout differs from the client's")
        raise CodeMismatch(problem)

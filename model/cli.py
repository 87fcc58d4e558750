"""What the command-line entry points share: user-facing errors and atomic JSON reports."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from .config import ConfigError
from .data import DataError
from .train import CheckpointError

USER_ERRORS = (ConfigError, DataError, CheckpointError)


def guarded(body: Callable[[], int], errors: tuple[type[Exception], ...] = ()) -> int:
    """Run a command; a bad config, data file or checkpoint (or one of the command's own
    ``errors``, such as a simulator that is not installed) is one clear line and exit code 2."""
    try:
        return body()
    except (*USER_ERRORS, *errors) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def write_json(path: str | Path, obj: dict) -> None:
    """Write a report atomically (a temporary file renamed over the old one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")     # processes may write it at once
    tmp.write_text(json.dumps(obj, indent=2,
                              default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)))
    tmp.replace(path)

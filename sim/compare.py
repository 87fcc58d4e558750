"""The comparator: where the RTL first leaves the model's prediction.

Trace records are tuples ``(cycle, kind, ...)`` (cycles/integrate.py documents the kinds). Both
streams are put in the canonical order first, then compared record by record; the first
difference is reported with its cycle, the expected and the seen record, and the context that
reproduces it (config, layer, seed, image). Memories are compared word by word afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cycles.trace import trace_order


@dataclass
class Divergence:
    what: str                 # "trace" or the memory's name
    index: int                # record index, or flat word index
    cycle: int | None
    expected: object
    seen: object
    context: dict = field(default_factory=dict)

    def __str__(self) -> str:
        where = f"cycle {self.cycle}" if self.cycle is not None else f"word {self.index}"
        ctx = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return (f"first divergence in {self.what} at {where} (record {self.index}): "
                f"expected {self.expected}, seen {self.seen}" + (f" [{ctx}]" if ctx else ""))


def first_trace_divergence(expected: list[tuple], seen: list[tuple], context: dict | None = None):
    """None if the two traces are equal, else the first Divergence."""
    exp, got = sorted(expected, key=trace_order), sorted(seen, key=trace_order)
    for i, (a, b) in enumerate(zip(exp, got)):
        if a != b:
            return Divergence("trace", i, min(a[0], b[0]), a, b, context or {})
    if len(exp) != len(got):
        i = min(len(exp), len(got))
        a = exp[i] if i < len(exp) else "end of trace"
        b = got[i] if i < len(got) else "end of trace"
        cycle = (a[0] if isinstance(a, tuple) else b[0])
        return Divergence("trace", i, cycle, a, b, context or {})
    return None


def first_memory_divergence(name: str, expected: np.ndarray, seen: np.ndarray,
                            context: dict | None = None):
    """None if equal, else the first differing word of a (lanes, words) memory image."""
    expected, seen = np.asarray(expected), np.asarray(seen)
    if expected.shape != seen.shape:
        return Divergence(name, 0, None, f"shape {expected.shape}", f"shape {seen.shape}", context or {})
    diff = np.flatnonzero(expected.ravel() != seen.ravel())
    if diff.size == 0:
        return None
    i = int(diff[0])
    lane, addr = np.unravel_index(i, expected.shape)
    ctx = dict(context or {}, lane=int(lane), address=int(addr))
    return Divergence(name, i, None, int(expected.ravel()[i]), int(seen.ravel()[i]), ctx)

"""Bounded waits: every wait for a block to finish ends after a cycle limit taken from the
cycle model, and a block that does not finish by then fails naming what it was doing.

The drivers (sim/engine_driver.py, sim/core_driver.py, sim/stdp_driver.py, sim/capture.py's
cocotb side, the board link's host driver boards/host.py) know the cycles the cycle model
predicts for the command they start (``cycles.integrate``, ``cycles.core``); they wait at
most ``cycle_limit(predicted)`` cycles -- twice the prediction plus a margin, so a slower but
finishing block still reaches the comparison that names its first difference -- and raise
``StallError`` past it.
"""

MARGIN = 1000        # cycles on top of twice the prediction (a short command's fixed costs)


def cycle_limit(expected: int) -> int:
    """The cycles a wait for a command the cycle model predicts ``expected`` cycles for may take."""
    if expected < 0:
        raise ValueError(f"expected cycles {expected}: must be >= 0")
    return 2 * int(expected) + MARGIN


class StallError(TimeoutError):
    """A command that did not finish within its cycle limit: ``command``, ``waited`` (cycles),
    ``expected`` (the cycle model's cycles), ``context`` (what else names the case)."""

    def __init__(self, command: str, waited: int, expected: int, context: dict | None = None):
        self.command, self.waited, self.expected = command, int(waited), int(expected)
        self.context = dict(context or {})
        where = f" [{self.context}]" if self.context else ""
        super().__init__(f"{command}: not done after {self.waited} cycles; the cycle model "
                         f"expects {self.expected} (limit {cycle_limit(self.expected)}: twice "
                         f"that plus {MARGIN}){where}")

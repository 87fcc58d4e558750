"""The board's round trip: one layer loaded, one image run through infer and learn, everything
read back through the host link (boards/host.py) and compared with the model's prediction.

``predict`` computes the prediction (``cycles.core.core_command``, as the host reads it:
``sim.core_driver.expected_state``); ``play`` runs it through a ``Board`` on any transport --
Amaranth's simulator on the link's streams (tests/boards/test_board_link.py) or cocotb on the board
top's UART pins (boards/cocotb_top.py, ``run_board``) -- and raises AssertionError at the first
counter, cycle count or memory that differs. ``save_case`` / ``load_case`` carry a case to the
cocotb process.
"""
import json
from pathlib import Path

import numpy as np

from cycles.core import COUNTERS, core_command
from cycles.learning import LearningParams
from sim import core_driver as cd

COMMANDS = ("infer", "learn")


def predict_command(cmd: str, lay, formats, lc, x, weights, active, threshold,
                    learning: LearningParams = LearningParams(), enabled=None, window=None) -> dict:
    """One command's prediction as the host reads it back: counters, cycles, memories.
    ``enabled`` and ``window``: the core's policy registers (default: all maps on, T)."""
    pred = core_command(cmd, lay, formats, lc, x, weights, active, threshold, **learning.stdp_args(),
                        enabled=enabled, window=window)
    return {"cmd": cmd, "counters": pred.counters, "cycles": pred.cycles,
            "state": cd.expected_state(lay, lc, pred)}


def predict(lay, formats, lc, case: dict) -> list[dict]:
    """Per command of ``COMMANDS``, on the case's synapses (infer leaves them as they are)."""
    return [predict_command(cmd, lay, formats, lc, case["x"], case["weights"], case["active"],
                            case["threshold"], case["learning"]) for cmd in COMMANDS]


def divergences(status: dict, state: dict, step: dict, context: dict) -> list[str]:
    """Where a command read back through the link (``Board.run``'s status, ``read_state``)
    differs from its prediction (``predict_command``): counters, cycles, the first memory."""
    bad = []
    counters = {k: status[k] for k in COUNTERS}
    if counters != step["counters"]:
        bad.append(f"counters: expected {step['counters']}, seen {counters} [{context}]")
    if status["cycle"] != step["cycles"]:
        bad.append(f"cycles: expected {step['cycles']}, seen {status['cycle']} [{context}]")
    d = cd.state_divergence(step["state"], state, context)
    if d is not None:
        bad.append(str(d))
    return bad


async def play(board, case: dict, steps: list[dict], context: dict) -> list[dict]:
    """Identify, load, run and compare; returns what was seen per command."""
    layer = case["layer"]
    pooled = board.cfg.layers[layer].pool.size > 0
    await board.check()
    await board.load_synapses(layer, case["weights"], case["active"])
    await board.load_image(layer, case["x"], case["threshold"], learn=True)
    await board.set_learning(layer, case["learning"])
    seen = []
    for st in steps:
        ctx = dict(context, layer=layer, command=st["cmd"])
        status = await board.run(layer, st["cmd"], st["cycles"])
        state = await board.read_state(layer, status["n_out"] if pooled else None)
        bad = divergences(status, state, st, ctx)
        assert not bad, bad[0]
        seen.append({"cmd": st["cmd"], "counters": {k: status[k] for k in COUNTERS},
                     "cycles": status["cycle"],
                     "winners": [list(w) for w in state["winners"]],
                     "n_out": status["n_out"]})
    return seen


def save_case(path: Path, case: dict, steps: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: case[k] for k in ("weights", "active", "x")}
    meta = {"layer": case["layer"], "threshold": int(case["threshold"]),
            "learning": case["learning"].registers(), "steps": []}
    for i, st in enumerate(steps):
        state, npz = cd.split_state(st["state"], i)
        arrays.update(npz)
        meta["steps"].append({"cmd": st["cmd"], "counters": st["counters"],
                              "cycles": st["cycles"], **state})
    np.savez(path.with_suffix(".npz"), **arrays)
    path.with_suffix(".json").write_text(json.dumps(meta))


def load_case(path: str | Path) -> tuple[dict, list[dict]]:
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    with np.load(path.with_suffix(".npz")) as z:
        arrays = {k: z[k] for k in z.files}
    case = {"layer": meta["layer"], "threshold": meta["threshold"],
            "learning": LearningParams.from_registers(meta["learning"])}
    case.update({k: arrays[k] for k in ("weights", "active", "x")})
    steps = [{"cmd": st["cmd"], "counters": st["counters"], "cycles": st["cycles"],
              "state": cd.join_state(st, arrays, i)}
             for i, st in enumerate(meta["steps"])]
    return case, steps


def run_board(cfg_path: str | Path, lanes: int, divisor: int, case: dict, steps: list[dict],
              context: dict, sim: str | None = None, testcase: str | None = None,
              waves: bool | None = None):
    """Build the board top of the config (boards/top.py; Verilog through sim/runner.py, the clock
    inside the simulation) and run boards/cocotb_top.py on it: ``board_matches_model`` plays the
    case over the UART pins, ``board_refuses_corruption`` sends damaged frames. Raises
    AssertionError naming the first divergence."""
    import os

    from boards.top import BoardTop
    from model import config as C
    from sim import runner
    sim = runner.default_sim(sim)
    cfg = C.load(cfg_path)
    name = f"board-{Path(cfg_path).stem}-p{lanes}-d{divisor}-{sim}"
    path = runner.BUILD / "cases" / f"{name}-{os.getpid()}"
    save_case(path, case, steps)
    return runner.run(BoardTop(cfg, lanes, divisor), "board", "boards.cocotb_top", sim=sim,
                      clock=("clk", 10), waves=waves, build_dir=runner.BUILD / name,
                      testcase=testcase,
                      extra_env={"BOARD_CASE": str(path), "BOARD_CONFIG": str(cfg_path),
                                 "BOARD_LANES": str(lanes), "BOARD_DIVISOR": str(divisor),
                                 "BOARD_CONTEXT": json.dumps(dict(context, simulator=sim)),
                                 "COCOTB_LOG_LEVEL": "WARNING"})

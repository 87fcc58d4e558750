"""How strong the hardware blocks' tests are: mutation testing of ``hw/``, on demand.

    python -m sim.mutate [--blocks prune,wta] [--per-block 20] [--seed 1] \\
        --out build/reports/mutation.json

Each mutant changes one operator or constant of one block's source (``OPERATORS``: a comparison
flipped or loosened, ``+`` / ``-`` and ``&`` / ``|`` swapped, an inversion ``~`` dropped, a
small integer constant moved by one; never a port or signal width, whose widening no test can
see), in a copy of the tree, and runs the tests that tie that
block to its model (``BLOCK_TESTS``, Amaranth's simulator: seconds each). A mutant is *killed*
when a test fails (or the run times out), *survives* when every test passes. The report lists
per block the mutants tried, killed and surviving, each survivor with its line and change, and
the score (killed / tried). A survivor is either a change that does not alter behaviour (an
equivalent mutant) or a gap in the tests; each one is worth a look.

The tree is copied once to a temporary folder; the working tree is never touched.
"""
from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from model.cli import write_json

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("model", "cycles", "hw", "sim", "boards", "report", "tests", "configs", "pyproject.toml")

# Each block and the tests that tie it to its model (Amaranth's simulator only: fast).
BLOCK_TESTS = {
    "prune": ["tests/hw/test_prune_check.py", "tests/hw/test_stdp_unit.py"],
    "wta": ["tests/hw/test_wta_unit.py"],
    "pool": ["tests/hw/test_pool_unit.py"],
    "integrate": ["tests/hw/test_integrate.py", "tests/hw/test_integrate_saturation.py"],
    "channel_enable": ["tests/hw/test_channel_enable.py", "tests/hw/test_integrate.py"],
    "window": ["tests/hw/test_integrate.py"],
    "stdp_unit": ["tests/hw/test_stdp_unit.py", "tests/hw/test_stdp_unit_border.py"],
    "stdp_lane": ["tests/hw/test_hw_blocks.py", "tests/hw/test_stdp_unit.py"],
    "hash": ["tests/hw/test_hw_blocks.py"],
    "core": ["tests/hw/test_core.py"],
}

SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
         ast.NotEq: ast.Eq, ast.Add: ast.Sub, ast.Sub: ast.Add, ast.BitAnd: ast.BitOr,
         ast.BitOr: ast.BitAnd}
OPERATORS = ("compare", "binop", "invert", "constant")
WIDTH_CALLS = {"In", "Out", "bits", "Signal", "ArrayLayout", "unsigned", "signed"}


@dataclass(frozen=True)
class Mutant:
    block: str
    index: int            # the index-th mutable site of the file, in ast.walk order
    line: int
    kind: str
    change: str


def _sites(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """The mutable sites of a module, in a fixed order: (node, kind)."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    # Port and signal widths: widening one changes nothing a test can see (equivalent mutants).
    widths = {id(n) for call in ast.walk(tree) if isinstance(call, ast.Call)
              and getattr(call.func, "id", getattr(call.func, "attr", None)) in WIDTH_CALLS
              for arg in call.args for n in ast.walk(arg)}
    out = []
    for node in ast.walk(tree):
        if id(node) in widths:
            continue
        if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS:
            out.append((node, "compare"))
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
            out.append((node, "binop"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            out.append((node, "invert"))
        elif (isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 64
              and id(node) not in docstrings):
            out.append((node, "constant"))
    return out


def mutants(block: str, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    found = []
    for i, (node, kind) in enumerate(_sites(tree)):
        before = ast.unparse(node)
        after = ast.unparse(_mutated(node, kind))
        found.append(Mutant(block, i, node.lineno, kind, f"{before}  ->  {after}"))
    return found


def _mutated(node: ast.AST, kind: str) -> ast.AST:
    """A mutated copy of ``node`` (the tree keeps the original)."""
    import copy
    new = copy.deepcopy(node)
    if kind == "compare":
        new.ops[0] = SWAPS[type(new.ops[0])]()
    elif kind == "binop":
        new.op = SWAPS[type(new.op)]()
    elif kind == "invert":
        return new.operand
    else:
        new.value = node.value + 1 if node.value < 2 else node.value - 1
    return new


def apply(source: str, mutant: Mutant) -> str:
    """``source`` with ``mutant`` applied."""
    tree = ast.parse(source)
    node, kind = _sites(tree)[mutant.index]
    replacement = _mutated(node, kind)

    class Swap(ast.NodeTransformer):
        def generic_visit(self, n):
            super().generic_visit(n)
            return replacement if n is node else n
    return ast.unparse(Swap().visit(tree))


def _pytest(tree: Path, tests: list[str], timeout: float) -> str:
    """'pass', 'fail' or 'timeout' of the tests in the copied tree."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           *tests]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "pass" if proc.returncode == 0 else "fail"


def run(blocks: list[str], per_block: int, seed: int, progress=print) -> dict:
    start = time.perf_counter()
    rep = {"seed": seed, "per_block": per_block, "blocks": {}}
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        tree = Path(tmp)
        for name in COPIED:
            src = ROOT / name
            (shutil.copytree(src, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
             if src.is_dir() else shutil.copy2(src, tree / name))
        for block in blocks:
            tests = BLOCK_TESTS[block]
            path = tree / "hw" / f"{block}.py"
            original = path.read_text()
            t0 = time.perf_counter()
            if _pytest(tree, tests, timeout=1800) != "pass":
                raise RuntimeError(f"{block}: its tests fail before any mutation: {tests}")
            timeout = max(60.0, 5 * (time.perf_counter() - t0))
            every = mutants(block, original)
            chosen = sorted(random.Random(f"{seed}:{block}").sample(every, min(per_block, len(every))),
                            key=lambda m: m.index)
            killed, survivors = 0, []
            for k, m in enumerate(chosen):
                path.write_text(apply(original, m))
                outcome = _pytest(tree, tests, timeout)
                path.write_text(original)
                if outcome == "pass":
                    survivors.append(asdict(m))
                else:
                    killed += 1
                progress(f"{block} [{k + 1}/{len(chosen)}] line {m.line} {m.kind}: {m.change}: "
                         f"{'SURVIVED' if outcome == 'pass' else outcome}")
            rep["blocks"][block] = {"sites": len(every), "tried": len(chosen), "killed": killed,
                                    "survived": survivors,
                                    "score": killed / len(chosen) if chosen else None}
    tried = sum(b["tried"] for b in rep["blocks"].values())
    rep["score"] = sum(b["killed"] for b in rep["blocks"].values()) / tried if tried else None
    rep["seconds"] = round(time.perf_counter() - start, 1)
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.mutate", description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", default=",".join(BLOCK_TESTS),
                    help=f"comma-separated, of: {', '.join(BLOCK_TESTS)} (default all)")
    ap.add_argument("--per-block", type=int, default=20, help="mutants sampled per block (default 20)")
    ap.add_argument("--seed", type=int, default=1, help="the sample's seed")
    ap.add_argument("--out", default="build/reports/mutation.json")
    args = ap.parse_args(argv)
    blocks = [b for b in args.blocks.split(",") if b]
    unknown = sorted(set(blocks) - set(BLOCK_TESTS))
    if unknown or not blocks:
        ap.error(f"--blocks: unknown {unknown}; known: {', '.join(BLOCK_TESTS)}")
    if args.per_block < 1:
        ap.error(f"--per-block {args.per_block}: must be >= 1")
    rep = run(blocks, args.per_block, args.seed, progress=lambda s: print(s, flush=True))
    write_json(args.out, rep)
    for b, r in rep["blocks"].items():
        print(f"{b}: {r['killed']}/{r['tried']} killed ({r['sites']} sites)")
    print(f"score {rep['score']:.2f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

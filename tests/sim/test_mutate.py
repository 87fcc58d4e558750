"""The mutation driver (sim/mutate.py): the sites it finds and the one change each mutant makes."""
from __future__ import annotations

import ast

from sim import mutate

SOURCE = '''"""A block. 3 < 4 in a docstring is not code."""
class Block:
    def __init__(self):
        super().__init__({"a": In(8), "b": Out(bits(5))})

    def elaborate(self, platform):
        m.d.comb += self.y.eq(Mux(self.a < 3, self.a + 1, ~self.a & self.b))
'''


def test_sites_skip_widths_and_docstrings():
    mutants = mutate.mutants("x", SOURCE)
    kinds = sorted(m.kind for m in mutants)
    # a < 3, its 3; a + 1, its 1; ~a; the &: the widths 8 and 5 and the docstring are not sites
    assert kinds == ["binop", "binop", "compare", "constant", "constant", "invert"]
    assert all(m.line == 7 for m in mutants)


def test_each_mutant_changes_one_site():
    original = ast.dump(ast.parse(SOURCE))
    seen = set()
    for m in mutate.mutants("x", SOURCE):
        out = mutate.apply(SOURCE, m)
        assert ast.dump(ast.parse(out)) != original
        seen.add(out)
        before, after = m.change.split("  ->  ")
        assert after in out or after.strip("()") in out
    assert len(seen) == 6
    flipped = mutate.apply(SOURCE, next(m for m in mutate.mutants("x", SOURCE) if m.kind == "compare"))
    assert "self.a <= 3" in flipped and "self.a < 3" not in flipped


def test_every_block_has_tests_that_exist():
    for block, tests in mutate.BLOCK_TESTS.items():
        assert (mutate.ROOT / "hw" / f"{block}.py").is_file(), block
        assert all((mutate.ROOT / t).is_file() for t in tests), tests

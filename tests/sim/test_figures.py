"""The make sim figures' table (sim/figures.py), and the docs' generated blocks in its format."""
import copy
import json
import re
from pathlib import Path

import pytest

from sim import figures

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "hw" / "README.md"]


def _phases(scale: int) -> dict:
    return {cmd: {c: scale * (k + 1) * (2 if cmd == "learn" else 1) for k, c in
                  enumerate(("cyc_integrate", "cyc_outgoing", "cyc_winners", "cyc_stdp", "stdp_ops",
                             "prunes"))} for cmd in ("infer", "learn")}


def _run(config: str) -> dict:
    return {"config": config, "simulator": "verilator", "images": 2,
            "lanes_per_layer": {"conv1": 4, "conv2": 4}, "layers": ["conv1", "conv2"],
            "trace_events_compared": 123742, "mismatches": 0,
            "cycles": {"inference": {"dense": {"per_image": 70115.0}, "pruned": {"per_image": 33117.5}},
                       "learning": {"dense": {"per_image_all_layers": 103146.0},
                                    "pruned": {"per_image_all_layers": 54374.0}}},
            "speedup_inference": 70115 / 33117.5, "speedup_learning": 103146 / 54374,
            "connectivity_reduction": {"total": 0.92687}, "lane_utilization_dense": 0.9921,
            "phases": {"dense": {"conv1": _phases(1000), "conv2": _phases(2000)},
                       "pruned": {"conv1": _phases(500), "conv2": _phases(100)}}}


def _report() -> dict:
    runs = [_run("tiny"), _run("mnist")]
    return dict(runs[-1], runs=runs, config_files=["configs/tiny.yaml", "configs/mnist.yaml"],
                seconds=759.4)


def test_a_row_by_hand():
    assert figures.row(_run("mnist")) == [
        "mnist", "verilator", "2", "conv1 4, conv2 4", "123,742", "0", "70,115 / 33,118", "2.12x",
        "103,146 / 54,374", "1.90x", "92.69%", "99.2%"]
    assert figures.phase_rows(_run("mnist"))[3] == [
        "mnist", "conv2", "learning", "4,000 / 200", "8,000 / 400", "12,000 / 600",
        "16,000 / 800", "20,000 / 1,000", "24,000 / 1,200"]


def test_table_names_its_command_and_has_a_row_per_config():
    lines = figures.table(_report()).splitlines()
    assert lines[0].startswith("`make sim` (`python -m sim.main --config configs/tiny.yaml "
                               "--config configs/mnist.yaml --images 2`), 759 s")
    assert lines[2:4] == figures.header()
    assert [ln.split(" | ")[0] for ln in lines[4:6]] == ["| tiny", "| mnist"]
    assert lines[6] == "" and figures.header(figures.PHASE_COLUMNS)[0] in lines


def test_docs_are_refused_a_partial_or_failed_run():
    rep = _report()
    one = copy.deepcopy(rep)
    del one["runs"][0]["cycles"]["inference"]["pruned"], one["runs"][0]["speedup_inference"]
    with pytest.raises(figures.IncompleteReport, match="config tiny has no inference cycles"):
        figures.check_complete(one)
    bad = copy.deepcopy(rep)
    bad["runs"][1]["mismatches"] = 1
    with pytest.raises(figures.IncompleteReport, match="config mnist: 1 mismatch"):
        figures.check_complete(bad)
    figures.check_complete(rep)


def test_update_replaces_only_the_block(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{figures.BEGIN}\nold figures\n{figures.END}\nafter\n")
    (tmp_path / "sim.json").write_text(json.dumps(_report()))
    assert figures.main(["--report", str(tmp_path / "sim.json"), "--update", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith(f"before\n{figures.BEGIN}\n") and text.endswith(f"{figures.END}\nafter\n")
    assert figures.block_of(text) == figures.table(_report()) and "old figures" not in text
    (tmp_path / "plain.md").write_text("no block\n")
    assert figures.main(["--report", str(tmp_path / "sim.json"), "--update",
                         str(tmp_path / "plain.md")]) == 2


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


NUMBER = r"[\d,]+"
PAIR = rf"{NUMBER} / {NUMBER}"
FORMATS = {"images": NUMBER, "lanes per layer": r"(\w+ \d+)(, \w+ \d+)*",
           "trace events compared": NUMBER, "mismatches": "0", "speed-up": r"\d+\.\d\dx",
           "connectivity reduction": r"\d+\.\d\d%", "dense lane utilisation": r"\d+\.\d%"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_hold_the_generated_block_in_its_format(doc):
    """The block in the docs is the generator's: its caption, its headers, and rows whose cells
    have the generator's formats (checked without running make sim)."""
    block = figures.block_of(doc.read_text()).splitlines()
    assert re.fullmatch(r"`make sim` \(`python -m sim\.main( --config \S+)+ --images \d+`\), \d+ s; "
                        r"`build/reports/sim\.json`, .*:", block[0])
    i = block.index(figures.header()[0])
    assert block[i + 1] == figures.header()[1]
    rows = []
    for line in block[i + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(figures.COLUMNS, _cells(line))))
        assert len(_cells(line)) == len(figures.COLUMNS), line
    assert rows, "no row in the block"
    for r in rows:
        for col, cell in r.items():
            assert re.fullmatch(FORMATS.get(col, PAIR if "dense / pruned" in col else r"\S+"), cell), (col, cell)
    j = block.index(figures.header(figures.PHASE_COLUMNS)[0])
    phases = [_cells(ln) for ln in block[j + 2:] if ln.startswith("|")]
    assert len(phases) == 2 * sum(r["lanes per layer"].count(",") + 1 for r in rows)
    assert all(re.fullmatch(PAIR, c) for p in phases for c in p[3:])

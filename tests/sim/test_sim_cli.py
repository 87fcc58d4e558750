"""make sim runs exactly what it is asked: each config once, one chosen case, the simulator
checked before any training (a clear line, no traceback), the lanes built per core reported."""
import json
import subprocess

import pytest

from sim import main as sim_main


def _no_training(*a, **k):
    raise AssertionError("training started")


@pytest.mark.parametrize("sim, says", [("questa", "simulator 'questa' is not supported: use one "
                                                  "of verilator, icarus"),
                                       ("icarus", "apt-get install iverilog")])
def test_missing_simulator_refused_before_training(monkeypatch, capsys, tmp_path, sim, says):
    monkeypatch.setattr(sim_main, "trained", _no_training)
    if sim == "icarus":                              # Icarus not on PATH
        monkeypatch.setenv("PATH", str(tmp_path))
    code = sim_main.main(["--config", "configs/tiny.yaml", "--sim", sim,
                          "--out", str(tmp_path / "sim.json")])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_unknown_layer_refused_before_training(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sim_main, "trained", _no_training)
    code = sim_main.main(["--config", "configs/tiny.yaml", "--layer", "conv9",
                          "--out", str(tmp_path / "sim.json")])
    err = capsys.readouterr().err
    assert code == 2 and "--layer conv9" in err and "conv1, conv2" in err


def test_each_config_runs_once(monkeypatch, tmp_path):
    ran = []

    def fake(cfg, tag, images, lanes, sim, quick, **kw):
        ran.append(tag)
        return {"config": tag, "simulator": sim, "images": images, "lanes_per_layer": {},
                "mismatches": 0, "trace_events_compared": 0, "layers": [],
                "cycles": {"inference": {}, "learning": {}}}
    monkeypatch.setattr(sim_main, "co_simulate", fake)
    sim_main.main(["--config", "configs/tiny.yaml", "--config", "configs/tiny.yaml",
                   "--out", str(tmp_path / "sim.json")])
    assert ran == ["tiny"]


def _make_sim(*args) -> str:
    """The commands ``make sim`` would run, as one line (continuations joined)."""
    out = subprocess.run(["make", "-n", "sim", *args], capture_output=True, text=True,
                         check=True).stdout
    return " ".join(t for t in out.split() if t != "\\")


def test_make_sim_runs_the_config_asked_once():
    tiny = _make_sim("CONFIG=configs/tiny.yaml")
    assert tiny.count("--config") == 1 and "--config configs/tiny.yaml" in tiny
    both = _make_sim()
    assert "--config configs/tiny.yaml --config configs/mnist.yaml" in both
    one = _make_sim("CONFIG=configs/tiny.yaml", "LAYER=conv2", "VARIANT=pruned", "IMAGE=1")
    assert "--image 1 --layer conv2 --variant pruned" in one


@pytest.mark.parametrize("value, quick", [("1", True), ("yes", True), ("TRUE", True), ("on", True),
                                          ("0", False), ("no", False), ("off", False),
                                          ("False", False), ("", False)])
def test_quick_takes_the_usual_words(value, quick):
    out = subprocess.run(["make", "-n", "train", f"QUICK={value}"], capture_output=True,
                         text=True, check=True).stdout
    assert ("--quick" in out) == quick


def test_quick_refuses_other_words():
    r = subprocess.run(["make", "-n", "train", "QUICK=maybe"], capture_output=True, text=True)
    assert r.returncode != 0 and "QUICK=maybe is not understood" in r.stderr
    assert "1, yes, true or on" in r.stderr and "0, no, false, off" in r.stderr


def test_make_help_lists_targets_and_variables():
    out = subprocess.run(["make", "help"], capture_output=True, text=True, check=True).stdout
    for word in ("sim", "test", "train", "report", "bitstream", "CONFIG=", "QUICK=", "WAVES=1",
                 "pytest -q"):
        assert word in out, word


def test_one_case_runs_that_case_only(monkeypatch, tmp_path, capsys):
    """make sim LAYER=conv2 VARIANT=pruned IMAGE=1: the pruned network's conv2 on test image 1,
    its core built with one lane a map up to --lanes (the tiny conv2 has 6 maps)."""
    monkeypatch.setattr(sim_main, "CHECKPOINTS", tmp_path / "ckpt")
    out = tmp_path / "sim.json"
    code = sim_main.main(["--config", "configs/tiny.yaml", "--quick", "--layer", "conv2",
                          "--variant", "pruned", "--image", "1", "--lanes", "10",
                          "--out", str(out)])
    rep = json.loads(out.read_text())
    assert code == 0 and rep["mismatches"] == 0 and rep["trace_events_compared"] > 0
    assert rep["lanes_per_layer"] == {"conv2": 6} and rep["image_indices"] == [1]
    assert list(rep["steps"]) == ["pruned"] and list(rep["steps"]["pruned"]) == ["conv2"]
    assert {s["image"] for s in rep["steps"]["pruned"]["conv2"]} == {1}
    assert "speedup_inference" not in rep          # one variant: no speed-up to give
    assert "lanes per core: conv2 6" in capsys.readouterr().out


def test_report_refuses_an_unknown_simulator_before_training(capsys, tmp_path):
    from report import pipeline
    code = pipeline.main(["--config", "configs/tiny.yaml", "--quick", "--sim", "questa",
                          "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "simulator 'questa' is not supported" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())              # nothing trained, nothing written


@pytest.mark.parametrize("module, command", [
    ("report.train", "python -m report.train"), ("report.bench_model", "python -m report.bench_model"),
    ("report.quantize", "python -m report.quantize"), ("sim.main", "python -m sim.main"),
    ("report.lane_schemes", "python -m report.lane_schemes"),
    ("report.schedule", "python -m report.schedule"), ("sim.regress", "python -m sim.regress"),
    ("sim.mutate", "python -m sim.mutate"),
    ("sim.bench", "python -m sim.bench"), ("sim.toolchain", "python -m sim.toolchain"),
    ("sim.figures", "python -m sim.figures"),
    ("report.pipeline", "python -m report"), ("report.policies", "python -m report.policies"),
    ("boards.resources", "python -m boards.resources"),
    ("boards.bitstream", "python -m boards.bitstream"), ("boards.host", "python -m boards.host"),
    ("boards.link_cost", "python -m boards.link_cost")])
def test_help_names_the_command(module, command, capsys):
    import importlib
    with pytest.raises(SystemExit) as exc:
        importlib.import_module(module).main(["-h"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith(f"usage: {command} ")
    assert "__main__" not in out

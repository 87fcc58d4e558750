"""No synthesis done twice: the resource report (boards/resources.py, run by make resources and
before every make bitstream) is reused while the design, the tool and the options are
unchanged, and each config's report is written under the config's own name."""
import json
from pathlib import Path

from boards import resources as R
from boards import synth_cache, tools

TINY = str(Path("configs/tiny.yaml").resolve())


def test_second_run_reuses_the_synthesis(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)              # the default report path is relative: build/reports
    argv = ["--config", TINY, "--lanes", "4", "--families", "ecp5", "--no-flat",
            "--work", str(tmp_path / "work"), "--workers", "0"]   # in this process: tools.run patched
    runs = []
    real_run = tools.run
    monkeypatch.setattr(tools, "run", lambda *a: runs.append(a[2:]) or real_run(*a))
    assert R.main(argv) == 0
    out = tmp_path / "build" / "reports" / "resources-tiny.json"
    first = json.loads(out.read_text())
    assert len(runs) == 2 and first["cache"]["hit"] is False      # conv1 and conv2 on the ECP5

    def no_synthesis(*a):
        raise AssertionError("synthesis ran again for an unchanged design")
    monkeypatch.setattr(tools, "run", no_synthesis)
    assert R.main(argv) == 0
    again = json.loads(out.read_text())
    assert again["cache"] == {"hit": True, "key": first["cache"]["key"],
                              "synthesis_seconds": first["seconds"]}
    assert again["seconds"] < first["seconds"]
    for key in ("layers", "network", "pruning_overhead", "tool", "lanes"):
        assert again[key] == first[key], key
    # another lane count is another design: synthesized, not taken from the cache
    monkeypatch.setattr(tools, "run", lambda *a: runs.append(a[2:]) or real_run(*a))
    assert R.main([*argv[:3], "3", *argv[4:], "--out", str(tmp_path / "p3.json")]) == 0
    assert len(runs) == 4 and json.loads((tmp_path / "p3.json").read_text())["cache"]["hit"] is False
    assert json.loads(out.read_text()) == again       # the tiny P = 4 report was left alone


def test_key_follows_the_design_the_tool_and_the_options(tmp_path):
    il = tmp_path / "core.il"
    il.write_text("module \\core_conv1\nend\n")
    base = synth_cache.key({"banner": "Yosys 0.70", "lanes": 4}, [il])
    assert base == synth_cache.key({"lanes": 4, "banner": "Yosys 0.70"}, [il])
    assert base != synth_cache.key({"banner": "Yosys 0.71", "lanes": 4}, [il])
    assert base != synth_cache.key({"banner": "Yosys 0.70", "lanes": 5}, [il])
    il.write_text("module \\core_conv1\n  wire $1\nend\n")
    assert base != synth_cache.key({"banner": "Yosys 0.70", "lanes": 4}, [il])
    assert synth_cache.load(tmp_path, base) is None
    (tmp_path / synth_cache.FOLDER).mkdir()
    (tmp_path / synth_cache.FOLDER / f"{base}.json").write_text("{truncated")
    assert synth_cache.load(tmp_path, base) is None        # an interrupted write: synthesize


def test_report_path_is_per_config():
    assert R.report_path("configs/tiny.yaml") == Path("build/reports/resources-tiny.json")
    assert R.report_path("/x/mnist.yaml") != R.report_path("configs/tiny.yaml")

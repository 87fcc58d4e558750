"""cluster/: sweeps on a local Dask cluster give the serial run's results, survive a worker that
dies mid-task, and a worker whose checkout differs from the client's is refused."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TINY
from cluster import CodeMismatch, Runner
from cluster.digest import checkout_digest, code_files

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
BOUND = 60           # seconds any wait on the cluster may take here


def cached_square(i: int, folder: str, seconds: float) -> int:
    """A synthetic sweep point: marks its start (with the process id), works ``seconds``, writes
    its result atomically to the cache, then returns it; a cached result is returned as is."""
    folder = Path(folder)
    done = folder / f"point-{i}.json"
    if done.is_file():
        return json.loads(done.read_text())["value"]
    (folder / f"started-{i}-{os.getpid()}").touch()
    end = time.monotonic() + seconds
    while time.monotonic() < end:          # CPU-bound, as the real points are
        pass
    tmp = folder / f".point-{i}-{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"value": i * i + 1}))
    tmp.replace(done)
    return i * i + 1


def _sweep(runner: Runner, folder: Path, points: int, seconds: float) -> dict:
    return runner.gather({i: runner.submit(cached_square, i, str(folder), seconds)
                          for i in range(points)}, desc="test sweep")


def _wait_for(cond, what: str):
    end = time.monotonic() + BOUND
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not within {BOUND} s: {what}")
        time.sleep(0.1)


def test_a_worker_killed_mid_task_is_replaced_and_the_sweep_completes_the_same(tmp_path):
    serial, dist = tmp_path / "serial", tmp_path / "dist"
    serial.mkdir(), dist.mkdir()
    with Runner(workers=0, progress=False) as run:
        expected = _sweep(run, serial, 6, 0.0)
    with Runner(workers=2, progress=False, dashboard_address=":0", say=lambda s: None) as run:
        futures = {i: run.submit(cached_square, i, str(dist), 1.5) for i in range(6)}
        _wait_for(lambda: list(dist.glob("started-*")), "a point started")
        pid = int(next(dist.glob("started-*")).name.split("-")[2])    # a worker mid-task
        assert pid in run.client.run(os.getpid).values()
        os.kill(pid, signal.SIGKILL)
        got = run.gather(futures)
    assert got == expected
    # The killed worker had started a point that another worker then ran again.
    starts = {}
    for marker in dist.glob("started-*"):
        starts.setdefault(marker.name.split("-")[1], set()).add(int(marker.name.split("-")[2]))
    assert any(pid in pids and len(pids) == 2 for pids in starts.values()), starts
    # A rerun reuses every finished point: nothing starts again.
    before = sorted(p.name for p in dist.glob("started-*"))
    with Runner(workers=2, progress=False, dashboard_address=":0", say=lambda s: None) as run:
        assert _sweep(run, dist, 6, 1.5) == expected
    assert sorted(p.name for p in dist.glob("started-*")) == before


def _changed_checkout(dest: Path) -> Path:
    """A copy of this checkout's code with one model file edited."""
    for rel in code_files(ROOT):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    with open(dest / "model" / "rng.py", "a") as f:
        f.write("\n# edited on this worker only\n")
    return dest


def _worker(address: str, checkout: Path) -> subprocess.Popen:
    """A ``dask worker`` process importing the project from ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                             "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                             "--host", "127.0.0.1"], cwd=checkout, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_worker_with_another_checkout_is_refused(tmp_path):
    from distributed import Client, LocalCluster
    other = _changed_checkout(tmp_path / "other")
    assert checkout_digest(other)["code"] != checkout_digest()["code"]
    quiet = dict(progress=False, say=lambda s: None)
    scheduler = dict(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=":0")
    # Joining a running sweep: the worker refuses itself and the client hears why.
    with LocalCluster(**scheduler) as lc, Runner(scheduler=lc.scheduler_address, **quiet) as run:
        proc = _worker(lc.scheduler_address, other)
        try:
            _wait_for(lambda: run.refused, "the refusal reported to the client")
            assert "model/rng.py (content differs)" in run.refused[0]
            proc.wait(timeout=BOUND)        # the worker and its nanny closed
            _wait_for(lambda: not run.client.scheduler_info()["workers"], "no worker left")
        finally:
            proc.kill()
    # Already connected when the client comes: the client stops with the reason.
    with LocalCluster(**scheduler) as lc:
        proc = _worker(lc.scheduler_address, other)
        try:
            with Client(lc.scheduler_address, timeout="30s") as watch:
                _wait_for(lambda: watch.scheduler_info()["workers"], "the worker connected")
            with pytest.raises(CodeMismatch, match=r"model/rng\.py \(content differs\)"):
                with Runner(scheduler=lc.scheduler_address, **quiet):
                    pass
            proc.wait(timeout=BOUND)
        finally:
            proc.kill()


def test_the_digest_names_what_differs():
    mine = checkout_digest()
    assert mine["versions"]["dask"] and "cluster/digest.py" in mine["files"]
    theirs = {**mine, "files": {k: v for k, v in mine["files"].items() if k != "model/rng.py"},
              "versions": {**mine["versions"], "numpy": "0.0"}}
    from cluster.digest import differences
    assert differences(mine, theirs) == [
        "file model/rng.py (missing on the worker)",
        f"version of numpy (client {mine['versions']['numpy']}, worker 0.0)"]
    assert differences(mine, mine) == []


def test_bad_cluster_arguments_are_named():
    with pytest.raises(ValueError, match="--workers -1: must be >= 0"):
        Runner(workers=-1)
    with pytest.raises(ValueError, match="give one or the other"):
        Runner(workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="expected an address such as tcp://host:8786"):
        Runner(scheduler="127.0.0.1")


def _without_times(obj):
    """A report without its wall times (the one thing a distributed run may change)."""
    if isinstance(obj, dict):
        return {k: _without_times(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [_without_times(v) for v in obj]
    return obj


def _report_command(name: str):
    """(build, options) of ``make report`` or ``make compare`` on a small sweep (quick mode)."""
    from report import pipeline, policies
    if name == "report":
        return pipeline.run, pipeline.Options.quick_mode(
            test_images=2, sweep_images=1, thresholds=(0.2, 0.3), cosim_images=0, progress=False)
    return policies.compare, policies.Options.quick_mode(test_images=2, bits=(2, 8), progress=False)


@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_report_on_two_workers_is_the_serial_report(command, tmp_path, monkeypatch):
    """make report's variants and sweep points, make compare's policies, as tasks on a two-worker
    LocalCluster: the same JSON as in this process, each run in its own folder (checkpoints and
    caches apart, so both compute everything)."""
    from model import config as C
    from model.cli import write_json
    build, opts = _report_command(command)
    reports = {}
    for name, workers in (("serial", 0), ("cluster", 2)):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)        # build/ckpt and the caches are relative
        with Runner(workers=workers, progress=False, dashboard_address=":0", say=lambda s: None) as run:
            rep = build(C.load(TINY), "tiny", opts, Path("build/reports"), run)
        write_json(tmp_path / f"{name}.json", rep)
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert not reports["serial"]["cache_hits"]
    if command == "report":
        assert reports["serial"]["trained"] == ["dense", "pruned"] and len(reports["serial"]["sweep"]) == 3
    else:
        assert len(reports["serial"]["rows"]) == 6
    assert _without_times(reports["cluster"]) == _without_times(reports["serial"])

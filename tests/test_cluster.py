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
        _wait_for(lambda: any(run.client.processing().values()), "a task running")
        busy = next(w for w, keys in run.client.processing().items() if keys)
        pid = run.client.run(os.getpid, workers=[busy])[busy]
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
            assert not run.client.scheduler_info()["workers"]
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


def test_bad_cluster_arguments_are_named():
    with pytest.raises(ValueError, match="--workers -1: must be >= 0"):
        Runner(workers=-1)
    with pytest.raises(ValueError, match="give one or the other"):
        Runner(workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="expected an address such as tcp://host:8786"):
        Runner(scheduler="127.0.0.1")

"""Independent tasks of the reports and board flows, run in this process or on a Dask cluster.

A command adds ``add_arguments`` to its parser and runs its tasks through ``Runner.from_args``:

* ``--workers 0`` (or ``JOBS=0``): every task in this process, at ``submit``, in order (as the
  serial commands always did; for debugging);
* default: a ``distributed.LocalCluster`` of ``--workers`` processes (default: the machine's
  cores), one thread each (the model's loops hold the GIL);
* ``--scheduler tcp://host:8786`` (or ``DASK_SCHEDULER_ADDRESS``): the cluster of that scheduler.

Tasks are futures; ``Runner.gather`` feeds a progress bar with their completion. Every worker is
checked first (``cluster.digest.CheckoutCheck``): one with other code or library versions is
refused. A task whose worker dies is run again elsewhere by the scheduler (up to
``distributed.scheduler.allowed-failures`` times); the tasks themselves write their results to
the commands' caches before returning, so a rerun of the command reuses every finished task.
"""
from __future__ import annotations

import argparse
import os
import uuid
from typing import Any, Callable

from tqdm import tqdm

from cluster.digest import REFUSED_TOPIC, CheckoutCheck, checkout_digest

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
WORKERS_ENV = "JOBS"
CONNECT_TIMEOUT = "30s"          # reaching a scheduler given by address
NO_WORKERS_TIMEOUT = "15 minutes"  # a task no worker can take (every worker gone) fails then


def machine_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--scheduler``, defaulting to ``$JOBS`` and ``$DASK_SCHEDULER_ADDRESS``."""
    ap.add_argument("--workers", type=int, default=os.environ.get(WORKERS_ENV) or None,
                    metavar="N", help=f"worker processes of the local Dask cluster (default: ${WORKERS_ENV} "
                    f"or the machine's {machine_cores()} cores); 0 runs every task in this process")
    ap.add_argument("--scheduler", default=os.environ.get(SCHEDULER_ENV) or None, metavar="ADDRESS",
                    help=f"a running Dask scheduler, e.g. tcp://host:8786 (default: ${SCHEDULER_ENV}); "
                    "its workers must run this checkout (README, 'Sweeps on Dask')")


def check_arguments(workers: int | None, scheduler: str | None) -> None:
    """Bad ``--workers`` / ``--scheduler`` values, named before anything runs."""
    if workers is not None and workers < 0:
        raise ValueError(f"--workers {workers}: must be >= 0 (0: every task in this process)")
    if scheduler is not None:
        if workers is not None:
            raise ValueError(f"--workers {workers} with --scheduler {scheduler}: the scheduler's "
                             "cluster has its own workers; give one or the other")
        if "://" not in scheduler:
            raise ValueError(f"--scheduler {scheduler!r}: expected an address such as "
                             "tcp://host:8786")


def one_thread(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the BLAS and OpenMP pools at one thread: the order of their
    reductions, and so a float's last bits (numpy's SVD and eigh), depends on the thread count,
    which differs between this process, a worker and another machine."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):
        return fn(*args, **kwargs)


class Done:
    """A task run in this process: its result, as a future would give it."""

    def __init__(self, value: Any):
        self.value = value

    def result(self):
        return self.value


class Runner:
    """Runs tasks serially (``workers=0``) or on a Dask cluster; a context manager."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 progress: bool = True, dashboard_address: str | None = ":8787",
                 say: Callable[[str], None] = print):
        check_arguments(workers, scheduler)
        self.workers, self.scheduler, self.progress = workers, scheduler, progress
        self.dashboard_address, self.say = dashboard_address, say
        self.client = self.cluster = None
        self.refused: list[str] = []

    @classmethod
    def from_args(cls, args, progress: bool = True, **kw) -> "Runner":
        return cls(args.workers, args.scheduler, progress, **kw)

    @property
    def serial(self) -> bool:
        return self.workers == 0 and self.scheduler is None

    @property
    def task_progress(self) -> bool:
        """Whether a task draws its own progress bars: only in this process (workers' bars
        would interleave on one terminal)."""
        return self.progress and self.serial

    def __enter__(self) -> "Runner":
        if self.serial:
            return self
        import dask
        from distributed import Client, LocalCluster
        try:
            with dask.config.set({"distributed.scheduler.no-workers-timeout": NO_WORKERS_TIMEOUT}):
                if self.scheduler:
                    self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT)
                else:
                    self.cluster = LocalCluster(n_workers=self.workers or machine_cores(),
                                                threads_per_worker=1, processes=True,
                                                dashboard_address=self.dashboard_address)
                    self.client = Client(self.cluster)
            self.client.subscribe_topic(REFUSED_TOPIC, self._refused)
            # Raises CodeMismatch if a worker already connected differs; later ones refuse
            # themselves and are reported through REFUSED_TOPIC.
            self.client.register_plugin(CheckoutCheck(checkout_digest(), os.getcwd()))
        except BaseException:
            self.close()
            raise
        where = self.scheduler or f"a local cluster of {len(self.client.scheduler_info()['workers'])} workers"
        self.say(f"dask: {where}; dashboard {self.client.dashboard_link}")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def _refused(self, event) -> None:
        _, msg = event
        self.refused.append(msg["message"])
        self.say(f"dask: {msg['message']}")

    def submit(self, fn: Callable, *args, key: str | None = None, **kwargs):
        """``fn(*args, **kwargs)`` as a task; arguments may be earlier tasks (their results are
        passed). Serial: run now. ``key`` names the task on the dashboard."""
        if self.serial:
            args = [a.result() if isinstance(a, Done) else a for a in args]
            kwargs = {k: v.result() if isinstance(v, Done) else v for k, v in kwargs.items()}
            return Done(one_thread(fn, *args, **kwargs))
        name = key or getattr(fn, "__name__", "task")
        return self.client.submit(one_thread, fn, *args, key=f"{name}-{uuid.uuid4().hex[:8]}",
                                  pure=False, **kwargs)

    def completed(self, tasks: dict, desc: str = "tasks"):
        """``(key, result)`` of each task as it completes (serial: in order); the progress bar
        advances with them, and the first task that fails raises its exception here."""
        keys = {id(t): k for k, t in tasks.items()}
        bar = tqdm(total=len(tasks), desc=desc, disable=None if self.progress else True)
        with bar:
            if self.serial:
                order = iter(tasks.values())
            else:
                from distributed import as_completed
                order = as_completed(list(tasks.values()))
            for task in order:
                result = task.result()          # a failed task raises here
                bar.update(1)
                yield keys[id(task)], result

    def gather(self, tasks: dict, desc: str = "tasks") -> dict:
        """Each task's result, same keys (``completed``'s progress bar and errors)."""
        done = dict(self.completed(tasks, desc))
        return {k: done[k] for k in tasks}

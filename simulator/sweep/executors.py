"""Executors: where runs are computed. Each yields finished runs in completion order.

- serial: in this process, one after the other (tests, debugging, profiling).
- processes: a local ``ProcessPoolExecutor`` (all cores unless ``workers``). Workers start from
  a fork server that has already imported the simulator, so a worker's setup is paid once.
- dask: a Dask distributed cluster: ``address`` of a running scheduler, or a ``LocalCluster``
  with ``workers`` single-threaded worker processes.

Only a bounded number of runs is in flight at a time (a few per worker), so stopping early
(``max_runs``, Ctrl-C, a kill) wastes little and memory stays flat for any sweep size. Results
do not depend on the executor: a run's seed and scenario are fixed in its task.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

from simulator.sweep.spec import DaskOptions
from simulator.sweep.worker import RunRecord, RunTask, run_one, worker_setup

IN_FLIGHT_PER_WORKER = 4


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_serial(tasks: Iterable[RunTask]) -> Iterator[RunRecord]:
    for task in tasks:
        yield run_one(task)


def run_processes(tasks: Iterable[RunTask], workers: int | None = None) -> Iterator[RunRecord]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    workers = workers or available_cores()
    # fork server (not fork): this process may hold threads (progress bar, Dask), and forking
    # a threaded process can deadlock; preloading makes each worker start already set up.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["simulator.sweep.worker"])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=worker_setup)
    pending: set = set()
    queue = iter(tasks)
    try:
        for task in queue:
            pending.add(pool.submit(run_one, task))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                task = next(queue, None)
                if task is not None:
                    pending.add(pool.submit(run_one, task))
    finally:
        pool.shutdown(wait=not pending, cancel_futures=True)


def run_dask(
    tasks: Iterable[RunTask], workers: int | None = None, options: DaskOptions | None = None
) -> Iterator[RunRecord]:
    from dask.distributed import Client, LocalCluster, as_completed

    options = options or DaskOptions()
    cluster = None
    if options.address:
        client = Client(options.address)
    else:
        cluster = LocalCluster(
            n_workers=workers or available_cores(),
            threads_per_worker=1,
            processes=options.processes,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    try:
        slots = max(1, sum(client.nthreads().values())) * IN_FLIGHT_PER_WORKER
        queue = iter(tasks)
        first = [
            client.submit(run_one, task, pure=False)
            for _, task in zip(range(slots), queue, strict=False)
        ]
        futures = as_completed(first)
        for future in futures:
            record = future.result()
            future.release()
            yield record
            task = next(queue, None)
            if task is not None:
                futures.add(client.submit(run_one, task, pure=False))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def execute(
    tasks: list[RunTask],
    executor: str,
    workers: int | None = None,
    dask_options: DaskOptions | None = None,
) -> Iterator[RunRecord]:
    """Finished runs of ``tasks`` in completion order, computed by ``executor``."""
    if executor == "serial":
        return run_serial(tasks)
    if executor == "processes":
        return run_processes(tasks, workers)
    if executor == "dask":
        return run_dask(tasks, workers, dask_options)
    raise ValueError(f"unknown executor {executor!r} (serial, processes, dask)")

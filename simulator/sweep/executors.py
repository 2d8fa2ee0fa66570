"""Executors: where runs are computed. Each yields finished runs in completion order.

- serial: in this process, one after the other (tests, debugging, profiling).
- processes: a local ``ProcessPoolExecutor`` (all cores unless ``workers``), started when the
  executor is made. Workers are forked from this process when it runs no other thread (they
  start at once, with the simulator imported), else from a fork server that has imported it.
- dask: a Dask distributed cluster: ``address`` of a running scheduler, or a ``LocalCluster``
  with ``workers`` single-threaded worker processes.

Runs go to the processes and Dask workers in chunks of ``chunk`` consecutive runs (the
runner makes a chunk of a point's replications, so that a worker that finds a run seed-free
answers the others from it: simulator.sweep.worker). Only a bounded number of chunks is in
flight at a time (a few per worker), and tasks are taken from the (lazy) task iterable only as
slots free up, so stopping early (``max_runs``, Ctrl-C, a kill) wastes little and memory stays
flat for any sweep size. Results do not depend on the executor: a run's seed and scenario are
fixed in its task.

Failures of the machinery itself (a worker process killed, the Dask scheduler unreachable or
lost) raise ``ExecutorFailed`` with one line; a run whose simulation fails is not one of them
(it is recorded with its error). ``run_dask`` connects when called, not when first iterated,
and waits at most ``DaskOptions.connect_timeout`` seconds for a scheduler.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
from collections.abc import Iterable, Iterator

from simulator.sweep.spec import DaskOptions
from simulator.sweep.worker import RunRecord, RunTask, run_chunk, run_one, worker_setup

IN_FLIGHT_PER_WORKER = 4
PRELOAD = ["simulator.sweep.worker", "simulator.sweep.lean"]
"""What the fork server imports before it forks the workers (the whole simulator)."""


class ExecutorFailed(Exception):
    """The executor itself failed (not a run): one line saying what happened."""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_chunk_to_files(tasks: list[RunTask]) -> list[RunRecord]:
    """``run_chunk``, each record with its run file's content made here, in the worker (the
    parent then only writes bytes: it would otherwise encode every run itself, one at a
    time), and without its series frame, which the file holds."""
    from simulator.sweep.store import run_file

    return [
        dataclasses.replace(record, series=record.series.iloc[:0], file=run_file(record))
        for record in run_chunk(tasks)
    ]


def chunks(tasks: Iterable[RunTask], size: int) -> Iterator[list[RunTask]]:
    """Consecutive tasks, ``size`` at a time (the last chunk may be shorter)."""
    queue = iter(tasks)
    while chunk := list(itertools.islice(queue, max(1, size))):
        yield chunk


def run_serial(tasks: Iterable[RunTask]) -> Iterator[RunRecord]:
    for task in tasks:
        yield run_one(task)


def process_worker_setup() -> None:
    """A pool process's start: keep freed memory for reuse (simulator.allocator; a forked
    worker of the ``llm-market`` command already does), then ``worker_setup``."""
    from simulator.allocator import keep_freed_memory

    keep_freed_memory()
    worker_setup()


def _process_context():
    """fork where it is safe (no other Python thread: the workers start at once with what
    this process has imported), else a fork server that has imported the simulator (forking
    a threaded process can deadlock)."""
    import multiprocessing
    import threading

    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


class ProcessRuns:
    """Finished runs from a local process pool, an iterator. The pool starts, and the first
    chunks are handed out, when it is made: before the caller starts a progress bar's thread,
    so the workers can be forked (``_process_context``). ``close()`` shuts the pool down."""

    def __init__(
        self,
        tasks: Iterable[RunTask],
        workers: int | None = None,
        chunk: int = 1,
        files: bool = False,
    ):
        from concurrent.futures import ProcessPoolExecutor

        workers = workers or available_cores()
        self.runner = run_chunk_to_files if files else run_chunk
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=_process_context(), initializer=process_worker_setup
        )
        self.queue = chunks(tasks, chunk)
        self.pending: set = set()
        for part in self.queue:
            self.pending.add(self.pool.submit(self.runner, part))
            if len(self.pending) >= workers * IN_FLIGHT_PER_WORKER:
                break
        self._results = self._run()

    def _run(self) -> Iterator[RunRecord]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        try:
            while self.pending:
                done, self.pending = wait(self.pending, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        records = future.result()
                    except BrokenProcessPool as exc:
                        raise ExecutorFailed(
                            f"a worker process died (killed, or out of memory?): {_reason(exc)}"
                        ) from None
                    yield from records
                    part = next(self.queue, None)
                    if part is not None:
                        self.pending.add(self.pool.submit(self.runner, part))
        finally:
            self._shutdown()

    def __iter__(self) -> ProcessRuns:
        return self

    def __next__(self) -> RunRecord:
        return next(self._results)

    def _shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=not self.pending, cancel_futures=True)
            self.pool = None

    def close(self) -> None:
        self._results.close()
        self._shutdown()


def run_processes(
    tasks: Iterable[RunTask], workers: int | None = None, chunk: int = 1, files: bool = False
) -> ProcessRuns:
    """Finished runs from local worker processes (started now)."""
    return ProcessRuns(tasks, workers, chunk, files)


def _probe(address: str, timeout: float) -> None:
    """For a tcp:// address, one plain TCP connect first: a refused or unreachable port fails
    at once (OSError) instead of after Dask's retries for the whole timeout."""
    import socket

    from distributed.comm import parse_address, parse_host_port

    protocol, location = parse_address(address)
    if protocol != "tcp":
        return
    host, port = parse_host_port(location)
    with socket.create_connection((host, port), timeout=timeout):
        pass


def _bounded(connect, seconds: float):
    """``connect()`` in a daemon thread, given up after ``seconds`` (TimeoutError): Dask's
    Client waits forever for the handshake of a peer that accepts and never answers."""
    import threading

    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["client"] = connect()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="dask-connect", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["client"]


def _dask_client(workers: int | None, options: DaskOptions):
    """A client of the scheduler at ``options.address`` (or of a new LocalCluster)."""
    from dask.distributed import Client, LocalCluster

    if options.address:
        address = options.address
        try:
            _probe(address, options.connect_timeout)
            return _bounded(
                lambda: Client(address, timeout=options.connect_timeout),
                options.connect_timeout,
            ), None
        except OSError as exc:  # refused, unreachable, timed out
            if isinstance(exc, TimeoutError):
                why = f"no answer within {options.connect_timeout:g} s"
            else:
                why = (exc.strerror or str(exc) or type(exc).__name__).lower()
            raise ExecutorFailed(
                f"dask.address: cannot reach the Dask scheduler at {address} ({why})"
            ) from None
        except Exception as exc:  # noqa: BLE001 - malformed address, unknown protocol, TLS...
            raise ExecutorFailed(
                f"dask.address: cannot connect to the Dask scheduler at {address!r} "
                f"({_reason(exc)})"
            ) from None
    cluster = LocalCluster(
        n_workers=workers or available_cores(),
        threads_per_worker=1,
        processes=options.processes,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


class DaskRuns:
    """Finished runs from a Dask cluster, an iterator; ``close()`` releases the client (and
    the LocalCluster) whether or not iteration started."""

    def __init__(
        self,
        tasks: Iterable[RunTask],
        workers: int | None,
        options: DaskOptions,
        chunk: int = 1,
        files: bool = False,
    ):
        self.client, self.cluster = _dask_client(workers, options)
        self.runner = run_chunk_to_files if files else run_chunk
        self._results = self._run(chunks(tasks, chunk))

    def _run(self, queue: Iterator[list[RunTask]]) -> Iterator[RunRecord]:
        from dask.distributed import as_completed

        client = self.client
        try:
            slots = max(1, sum(client.nthreads().values())) * IN_FLIGHT_PER_WORKER
            first = [
                client.submit(self.runner, part, pure=False)
                for _, part in zip(range(slots), queue, strict=False)
            ]
            futures = as_completed(first)
            for future in futures:
                try:
                    records = future.result()
                except Exception as exc:  # noqa: BLE001 - run_one never raises: the cluster did
                    raise ExecutorFailed(f"the Dask cluster failed: {_reason(exc)}") from None
                future.release()
                yield from records
                part = next(queue, None)
                if part is not None:
                    futures.add(client.submit(self.runner, part, pure=False))
        finally:
            self._shutdown()

    def __iter__(self) -> DaskRuns:
        return self

    def __next__(self) -> RunRecord:
        return next(self._results)

    def _shutdown(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def close(self) -> None:
        self._results.close()
        self._shutdown()


def run_dask(
    tasks: Iterable[RunTask],
    workers: int | None = None,
    options: DaskOptions | None = None,
    chunk: int = 1,
    files: bool = False,
) -> DaskRuns:
    """Finished runs from Dask; connects now (ExecutorFailed if the scheduler is unreachable)."""
    return DaskRuns(tasks, workers, options or DaskOptions(), chunk, files)


def execute(
    tasks: Iterable[RunTask],
    executor: str,
    workers: int | None = None,
    dask_options: DaskOptions | None = None,
    chunk: int = 1,
    files: bool = False,
) -> Iterator[RunRecord]:
    """Finished runs of ``tasks`` in completion order, computed by ``executor``. Processes and
    Dask take them ``chunk`` consecutive runs at a time and, with ``files``, hand back each
    run's file content (``RunRecord.file``) instead of its series."""
    if executor == "serial":
        return run_serial(tasks)
    if executor == "processes":
        return run_processes(tasks, workers, chunk, files)
    if executor == "dask":
        return run_dask(tasks, workers, dask_options, chunk, files)
    raise ValueError(f"unknown executor {executor!r} (serial, processes, dask)")

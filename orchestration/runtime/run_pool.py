"""Warm run workers that execute one run after another instead of one process per run.

Dagster's code server starts each run in a new process (`multiprocessing.Process`), which the
code server makes a fork of its warm forkserver (`orchestration.runtime.code_server`). A forked
process still paid, every run, for what a run uses first (Polars' thread pool and the rules'
first evaluation, DuckDB's first lake write, the copy-on-write of the pages it touches), for what
it opens (the lake, its PostgreSQL connections) and for its own exit. `WorkerPool` stands in for
the multiprocessing context Dagster's `StartRun` uses: its `Process` hands the run to an idle
worker (forking a new one only when none is idle), which executes it with Dagster's own
`_run_in_subprocess`, exactly as a new process would, and then waits for the next run, its lake
connection and connection pools kept (`serve_runs`). Measured on a 300k-row `oliai import`: the
run workers' CPU per 10k batch 0.34 s -> 0.19 s.

What Dagster does with a run's process still holds for a worker:
- a run ends (its `RunInSubprocessComplete`) before the worker is offered another one, and one
  worker executes one run at a time;
- terminating a run (the UI's "Terminate") interrupts the worker's main thread as Dagster's
  termination thread does in a run process; a worker whose run was interrupted exits instead of
  taking another run;
- a worker that dies during a run (killed, out of memory) is seen by Dagster's orphaned-run check
  with its exit code, and the run is reported failed as before; the pool forks a new worker for
  the next run;
- a worker exits after `RUNS_PER_WORKER` runs, so memory a library keeps between runs is bounded,
  and after `IDLE_SECONDS` without a run, so a quiet stack holds no worker's memory.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

from dagster._grpc.impl import RunInSubprocessComplete

RUNS_PER_WORKER = 200
# How long a worker waits for its next run before it exits.
IDLE_SECONDS = 300.0
# How often a relay looks at the run's termination flag between the worker's messages.
TERMINATION_POLL_S = 0.05

_CANCEL = "cancel"


@dataclass
class _Worker:
    process: Any  # a multiprocessing process of the forkserver context
    connection: Connection
    runs_left: int = RUNS_PER_WORKER
    idle_since: float = 0.0

    def retire(self) -> None:
        self.connection.close()  # its next receive ends it (the forkserver reaps it)


@dataclass
class PooledRun:
    """A run on a pooled worker, seen by Dagster's code server as the run's process."""

    pool: WorkerPool
    serialized_args: str
    recon_job: Any
    events: queue.Queue[Any]
    termination: threading.Event
    worker: _Worker | None = None
    complete: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.worker = self.pool.take()
        try:
            self.worker.connection.send((self.serialized_args, self.recon_job))
        except OSError:  # it died while idle
            self.worker = self.pool.fork()
            self.worker.connection.send((self.serialized_args, self.recon_job))
        threading.Thread(target=self._relay, args=(self.worker,), daemon=True).start()

    def _relay(self, worker: _Worker) -> None:
        """Pass the worker's messages on to the code server's queue; pass a termination on to
        the worker; give the worker back to the pool once the run is complete."""
        cancelled = False
        try:
            while True:
                if self.termination.is_set() and not cancelled:
                    worker.connection.send(_CANCEL)
                    cancelled = True
                if not worker.connection.poll(TERMINATION_POLL_S):
                    continue
                message = worker.connection.recv()
                if isinstance(message, bool):  # the worker's answer after a run: reusable?
                    break
                self.events.put(message)
                if isinstance(message, RunInSubprocessComplete):
                    self.complete.set()
        except (EOFError, OSError):  # the worker died
            worker.process.join()
            return
        self.pool.give_back(worker, reusable=message)

    def is_alive(self) -> bool:
        assert self.worker is not None
        return not self.complete.is_set() and self.worker.process.is_alive()

    @property
    def exitcode(self) -> int | None:
        assert self.worker is not None
        return 0 if self.complete.is_set() else self.worker.process.exitcode


class WorkerPool:
    """The multiprocessing context Dagster's code server starts runs with (`Queue`, `Event`,
    `Process`), backed by warm workers forked from `context` (the forkserver)."""

    def __init__(
        self, context: BaseContext, max_idle: int, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self._context = context
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._retire_idle_workers, daemon=True).start()

    # The code server's queue and flag for a run live in its own process: the worker's side of
    # them is the relay (`PooledRun`).
    def Queue(self) -> queue.Queue[Any]:
        return queue.Queue()

    def Event(self) -> threading.Event:
        return threading.Event()

    def Process(self, target: Callable[..., None], args: list[Any]) -> PooledRun:
        # `target` is Dagster's `start_run_in_subprocess`: `serve_runs` does what it does, on the
        # same arguments, in a worker that outlives the run.
        serialized_args, recon_job, events, termination = args
        return PooledRun(self, serialized_args, recon_job, events, termination)

    def take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.fork()

    def fork(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=serve_runs, args=(theirs,), daemon=True)  # type: ignore[attr-defined]
        process.start()
        theirs.close()
        return _Worker(process, ours)

    def give_back(self, worker: _Worker, reusable: bool) -> None:
        worker.runs_left -= 1
        with self._lock:
            if reusable and worker.runs_left > 0 and len(self._idle) < self._max_idle:
                worker.idle_since = time.monotonic()
                self._idle.append(worker)
                return
        worker.retire()

    def _retire_idle_workers(self) -> None:
        """A quiet stack gives its workers' memory back (~0.2 GiB each). Retired here, under
        the lock `take` holds, so no run is handed to a worker on its way out."""
        while True:
            time.sleep(self._idle_seconds / 4)
            with self._lock:
                now = time.monotonic()
                retiring = [w for w in self._idle if now - w.idle_since > self._idle_seconds]
                self._idle = [w for w in self._idle if w not in retiring]
            for worker in retiring:
                worker.retire()


def serve_runs(connection: Connection) -> None:
    """A pooled worker's life: run what the code server sends, one at a time, until it closes
    the connection or a run leaves the process unfit for another."""
    import multiprocessing

    from dagster._grpc.impl import _run_in_subprocess
    from dagster._utils.interrupts import capture_interrupts

    from core.warehouse.writer import kept_connections
    from orchestration.runtime.pooled_storage import check_shared_pools, shared_pools

    runs: queue.Queue[tuple[str, Any] | None] = queue.Queue()
    termination = multiprocessing.Event()  # Dagster's termination thread wants this kind
    # `_run_in_subprocess` sets `termination` itself when a run ends; this one tells a
    # terminated run apart.
    cancelled = threading.Event()

    def listen() -> None:
        try:
            while True:
                message = connection.recv()
                if message == _CANCEL:
                    cancelled.set()
                    termination.set()
                else:
                    runs.put(message)
        except (EOFError, OSError):
            runs.put(None)

    threading.Thread(target=listen, daemon=True).start()
    try:
        # What each run would open anew, kept for the next: its lake and instance connections.
        with kept_connections(), shared_pools():
            while (request := runs.get()) is not None:
                # A termination that reached this worker after its last run ended is stale:
                # the listener handled it before queueing this request.
                cancelled.clear()
                termination.clear()
                serialized_args, recon_job = request
                check_shared_pools()
                with capture_interrupts():
                    _run_in_subprocess(
                        serialized_args,
                        recon_job,
                        termination,
                        subprocess_status_handler=connection.send,
                        run_event_handler=lambda _event: None,
                    )
                reusable = not cancelled.is_set()
                connection.send(reusable)
                if not reusable:
                    return
    except KeyboardInterrupt:  # the stack stopped with Ctrl-C, which reaches every worker
        return

"""The `oliai` code location's gRPC server, with warm run workers.

Dagster's code server starts every run in a freshly *spawned* Python process, which imports
Dagster and this code location again before it does any work: ~1.3 s of each import's latency on
a 2-core machine, more than the work itself for 10,000 contacts. This is Dagster's own server
with one change: run processes are forked from a forkserver that imported all of that once, so a
run's first event comes ~0.25 s after the daemon launches it instead of ~1.5 s; and a worker,
once its run is complete, waits for the next one (`orchestration.runtime.run_pool`). Everything
else (run tracking, termination from the UI, sensors, the run's origin for re-execution) is
Dagster's unchanged code.

`oliai up` starts it (`oliai code-server SOCKET`) and points the webserver and the daemon at it;
the repo's `workspace.yaml` still loads the module directly for `dagster dev` and `dagster
definitions`.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import threading
from pathlib import Path
from typing import Any

from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import FuturesAwareThreadPoolExecutor
from dagster._grpc.server import DagsterApiServer, DagsterGrpcServer
from dagster._utils.interrupts import setup_interrupt_handlers
from dagster._utils.log import configure_loggers

from core.contracts import LOCATION_NAME
from orchestration.runtime.processes import CodeServerAddress
from orchestration.runtime.run_pool import WorkerPool

DEFINITIONS_MODULE = "orchestration.definitions"
# What a run process needs before its first event (see the module). None of it starts a thread
# that forking would break.
WARM_MODULES = ["orchestration.runtime.run_worker_warmup"]
REPO_ROOT = Path(__file__).resolve().parents[2]
POLARS_THREADS_VARIABLE = "POLARS_MAX_THREADS"


class WarmRunServer(DagsterApiServer):
    """Dagster's code server; run processes fork from a forkserver with `WARM_MODULES` loaded,
    each with `run_threads` threads in Polars' pool (the forkserver's environment, read when it
    imports Polars; DuckDB's is the `Warehouse` resource's)."""

    def __init__(self, run_threads: int, idle_workers: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        os.environ[POLARS_THREADS_VARIABLE] = str(run_threads)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(WARM_MODULES)
        # Start (and preload) it now, while the stack starts, not on the first import.
        multiprocessing.forkserver.ensure_running()
        # Dagster's attribute is typed as the spawn context; it only calls its Process, Queue
        # and Event, which the pool stands in for.
        self._mp_ctx = WorkerPool(context, max_idle=idle_workers)  # type: ignore[assignment]


def serve(address: CodeServerAddress, run_threads: int, idle_workers: int) -> None:
    setup_interrupt_handlers()
    configure_loggers()
    logger = logging.getLogger("dagster.code_server")
    termination = threading.Event()
    executor = FuturesAwareThreadPoolExecutor()
    origin = LoadableTargetOrigin(
        executable_path=sys.executable,
        module_name=DEFINITIONS_MODULE,
        attribute="defs",
        working_directory=str(REPO_ROOT),
    )
    servicer = WarmRunServer(
        run_threads=run_threads,
        idle_workers=idle_workers,
        server_termination_event=termination,
        logger=logger,
        server_threadpool_executor=executor,
        loadable_target_origin=origin,
        location_name=LOCATION_NAME,
    )
    server = DagsterGrpcServer(
        server_termination_event=termination,
        dagster_api_servicer=servicer,
        logger=logger,
        threadpool_executor=executor,
        socket=str(address.socket) if address.socket else None,
        host=address.host or "localhost",
        port=address.port,
    )
    where = address.socket or f"{address.host}:{address.port}"
    logger.info("Serving code location %r with warm run workers on %s", LOCATION_NAME, where)
    try:
        server.serve()
    except KeyboardInterrupt:
        logger.info("Code server interrupted")

"""The Dagster daemon `oliai serve daemon` runs: Dagster's own controller and every daemon the
instance needs, with one change: the run queue's daemon wakes when PostgreSQL says the queue
changed, instead of looking every half second.

A trigger on Dagster's `runs` table (`install_queue_trigger`, created with the instance) notifies
channel `oliai_run_queue` when a run is queued or ends, the two events that can make a queued run
launchable (an organization's one run slot frees when its run ends). The daemon LISTENs for it
between dequeues; without a notification it still dequeues every `FALLBACK_INTERVAL_S`, so a
lost notification (or a server without the trigger) costs time, never a run. Dagster's interval
daemon waits in 0.5 s steps whatever the interval, so a queued run waited 0.25 to 0.5 s for
nothing: a third of a small import's latency, and of each batch of `oliai import`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from threading import Event

import psycopg
from dagster import DagsterInstance
from dagster._core.workspace.context import IWorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.controller import create_daemons_from_instance, daemon_controller_from_instance
from dagster._daemon.daemon import DaemonIterator, DagsterDaemon, SpanMarker
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster._utils.error import serializable_error_info_from_exc_info
from dagster._utils.interrupts import capture_interrupts, setup_interrupt_handlers

CHANNEL = "oliai_run_queue"
FALLBACK_INTERVAL_S = 2.0
# The daemon loop must yield this often: its controller checks for shutdown between yields.
YIELD_EVERY_S = 0.5
# Statuses that change what the queue may launch.
WAKING_STATUSES = ("QUEUED", "SUCCESS", "FAILURE", "CANCELED")


def install_queue_trigger(con: psycopg.Connection, schema: str) -> None:
    """The trigger that notifies `CHANNEL` (idempotent; needs Dagster's tables in `schema`)."""
    statuses = ", ".join(f"'{status}'" for status in WAKING_STATUSES)
    with con.transaction():
        con.execute(
            f"""CREATE OR REPLACE FUNCTION {schema}.oliai_run_queue_changed() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"""
        )
        con.execute(f"DROP TRIGGER IF EXISTS oliai_run_queue_changed ON {schema}.runs")
        con.execute(
            f"""CREATE TRIGGER oliai_run_queue_changed
                AFTER INSERT OR UPDATE OF status ON {schema}.runs
                FOR EACH ROW WHEN (NEW.status IN ({statuses}))
                EXECUTE FUNCTION {schema}.oliai_run_queue_changed()"""
        )


class QueueWakeups:
    """A connection LISTENing on `CHANNEL`, opened again after it is lost (a restarted server):
    until then a wait only sleeps, and the daemon dequeues on its fallback interval."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._con: psycopg.Connection | None = None

    def _listening(self) -> psycopg.Connection | None:
        if self._con is None or self._con.closed:
            try:
                self._con = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                self._con.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error:
                self._con = None
        return self._con

    def wait(self, timeout_s: float) -> bool:
        """Whether the queue changed within `timeout_s` (every pending notification consumed)."""
        con = self._listening()
        if con is None:
            time.sleep(timeout_s)
            return False
        woken = False
        try:
            for _ in con.notifies(timeout=timeout_s, stop_after=1):
                woken = True
            while woken and any(True for _ in con.notifies(timeout=0)):
                pass  # a burst of changes is one wake-up
        except psycopg.Error:
            con.close()  # lost: the next wait opens another
        return woken

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


class PromptQueuedRunDaemon(QueuedRunCoordinatorDaemon):
    """Dagster's run queue daemon, dequeuing when woken (and every `FALLBACK_INTERVAL_S`)."""

    def __init__(self, postgres_url: str) -> None:
        super().__init__(interval_seconds=FALLBACK_INTERVAL_S)
        self._postgres_url = postgres_url

    def core_loop(
        self, workspace_process_context: IWorkspaceProcessContext, shutdown_event: Event
    ) -> DaemonIterator:
        wakeups = QueueWakeups(self._postgres_url)
        try:
            while not shutdown_event.is_set():
                yield SpanMarker.START_SPAN
                try:
                    yield from self.run_iteration(workspace_process_context)
                except Exception:
                    error = serializable_error_info_from_exc_info(sys.exc_info())
                    self._logger.error("Caught error:\n%s", error)
                    yield error
                yield SpanMarker.END_SPAN
                deadline = time.monotonic() + self.interval_seconds
                while (left := deadline - time.monotonic()) > 0 and not shutdown_event.is_set():
                    if wakeups.wait(min(left, YIELD_EVERY_S)):
                        break
                    yield None
                yield None
        finally:
            wakeups.close()


def run_daemon(workspace: Path, postgres_url: str | None) -> None:
    """`dagster-daemon run -w WORKSPACE`, with the prompt run queue when on PostgreSQL."""

    def daemons(instance: DagsterInstance) -> list[DagsterDaemon]:
        created = create_daemons_from_instance(instance)
        if postgres_url is None:
            return list(created)
        return [
            PromptQueuedRunDaemon(postgres_url)
            if isinstance(daemon, QueuedRunCoordinatorDaemon)
            else daemon
            for daemon in created
        ]

    setup_interrupt_handlers()
    try:
        with (
            capture_interrupts(),
            DagsterInstance.get() as instance,
            daemon_controller_from_instance(
                instance,
                workspace_load_target=WorkspaceFileTarget(paths=[str(workspace)]),
                gen_daemons=daemons,
            ) as controller,
        ):
            controller.check_daemon_loop()
    except KeyboardInterrupt:
        return  # a clean stop, as dagster-daemon's

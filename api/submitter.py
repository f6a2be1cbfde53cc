"""Hands accepted imports to Dagster in the background (the outbox pattern).

The 202 only waits for the landing file and the control-store row; GraphQL submission takes
~200 ms, so it happens here. Anything accepted but not yet submitted — because Dagster was down
or the API was killed — is picked up again on the next pass or the next start.

Every API process (uvicorn worker, replica) runs a submitter over the same outbox, so each import
is claimed in the control store before it is submitted: only the claim's holder submits it.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from api.dagster_gateway import DagsterGateway
from core.control_store import ControlStore

logger = logging.getLogger("oliai.submitter")

IDLE_POLL_S = 5.0
MAX_BACKOFF_S = 30.0
# How long a claim keeps other processes off an import: longer than one submission can take (a
# run-storage read, then the GraphQL launch, whose client times out after 30 s), so it does not
# expire while its holder is still submitting. A process that dies holding it delays that import
# by at most this; then another process takes it and finds any run the dead one had launched.
SUBMIT_LEASE = timedelta(seconds=60)


class RunSubmitter:
    def __init__(self, store: ControlStore, gateway: DagsterGateway) -> None:
        self._store = store
        self._gateway = gateway
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="run-submitter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def notify(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        backoff = 0.0
        while not self._stopped.is_set():
            self._wake.wait(timeout=backoff or IDLE_POLL_S)
            self._wake.clear()
            if self._stopped.is_set():
                return
            try:
                failures = self.submit_pending()
            except Exception:
                logger.exception("reading the submission outbox failed")
                failures = 1
            backoff = min(MAX_BACKOFF_S, max(1.0, backoff * 2)) if failures else 0.0

    def submit_pending(self) -> int:
        """One pass over the accepted, unsubmitted imports; returns how many failed.

        A failure is recorded on the import and retried on a later pass with backoff, without
        holding up the imports behind it.
        """
        failures = 0
        for record in self._store.imports.unsubmitted_imports():
            if self._stopped.is_set():
                break
            if not self._store.imports.claim_submission(record.id, SUBMIT_LEASE):
                continue  # another process is submitting it, or already has
            try:
                # A run may exist already if we died between launching it and recording it.
                existing = self._gateway.latest_run(record.id)
                run_id = existing.run_id if existing else self._gateway.submit(record)
            except Exception as exc:
                failures += 1
                self._gateway.forget_reachability()
                self._store.imports.record_submit_failure(record.id, repr(exc))
                logger.warning("submitting %s failed: %r", record.id, exc)
                continue
            self._store.imports.record_submission(record.id, run_id)
        return failures + self._submit_reverts()

    def _submit_reverts(self) -> int:
        """The same pass over the requested, unsubmitted reverts."""
        failures = 0
        reverts = self._store.reverts
        for record in reverts.unsubmitted():
            if self._stopped.is_set():
                break
            if not reverts.claim_submission(record.import_id, SUBMIT_LEASE):
                continue
            try:
                existing = self._gateway.latest_revert_runs([record.import_id])
                run = existing.get(record.import_id)
                run_id = run.run_id if run else self._gateway.submit_revert(record)
            except Exception as exc:
                failures += 1
                self._gateway.forget_reachability()
                reverts.record_submit_failure(record.import_id, repr(exc))
                logger.warning("submitting the revert of %s failed: %r", record.import_id, exc)
                continue
            reverts.record_submission(record.import_id, run_id)
        return failures

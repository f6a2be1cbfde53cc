"""Everything the API asks of Dagster: submit a run (GraphQL), read an import's newest run
(the instance's run storage), and whether the webserver answers at all."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from dagster import DagsterInstance
from dagster_graphql import DagsterGraphQLClient

from core.contracts import IMPORT_JOB, LOCATION_NAME, REVERT_JOB, acceptance_sequence, tags
from core.control_store.imports import ImportRecord
from core.control_store.reverts import RevertRecord
from core.import_runs import newest_runs

REACHABILITY_TTL_S = 2.0


@dataclass(frozen=True)
class RunView:
    run_id: str
    status: str
    tags: Mapping[str, str]
    end_time: datetime | None


class DagsterGateway:
    def __init__(self, dagster_url: str, dagster_home: str) -> None:
        parts = urlsplit(dagster_url)
        self._base_url = dagster_url.rstrip("/")
        self._client = DagsterGraphQLClient(
            parts.hostname or "127.0.0.1",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            timeout=30,
        )
        self._instance = DagsterInstance.from_config(dagster_home)
        self._reachable_until = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._instance.dispose()

    def reachable(self) -> bool:
        """Whether the webserver answered recently (cached briefly: this is on the POST path)."""
        if time.monotonic() < self._reachable_until:
            return True
        try:
            httpx.get(f"{self._base_url}/server_info", timeout=2.0).raise_for_status()
        except httpx.HTTPError:
            return False
        with self._lock:
            self._reachable_until = time.monotonic() + REACHABILITY_TTL_S
        return True

    def forget_reachability(self) -> None:
        with self._lock:
            self._reachable_until = 0.0

    def submit(self, record: ImportRecord) -> str:
        """Launch (queue) the import's run; returns the run id."""
        return self._client.submit_job_execution(
            IMPORT_JOB,
            repository_location_name=LOCATION_NAME,
            repository_name="__repository__",
            run_config={
                "import_id": record.id,
                "org_id": record.org_id,
                "landing_path": record.landing_path,
                "audience_id": record.audience_id,
                "sequence": acceptance_sequence(record.created_at),
            },
            tags={
                tags.IMPORT_ID: record.id,
                tags.ORG_ID: record.org_id,
                tags.LAUNCHED_BY: tags.API_LAUNCHER,
            },
        )

    def submit_revert(self, record: RevertRecord) -> str:
        """Launch (queue) the revert's run, behind the organization's earlier runs."""
        return self._client.submit_job_execution(
            REVERT_JOB,
            repository_location_name=LOCATION_NAME,
            repository_name="__repository__",
            run_config={
                "ops": {
                    "revert_batch": {
                        "config": {"import_id": record.import_id, "org_id": record.org_id}
                    }
                }
            },
            tags={
                tags.REVERT_OF: record.import_id,
                tags.ORG_ID: record.org_id,
                tags.LAUNCHED_BY: tags.API_LAUNCHER,
            },
        )

    def latest_revert_runs(self, import_ids: Sequence[str]) -> dict[str, RunView]:
        """Each import's newest revert run, if it has one."""
        return self.latest_runs(import_ids, tags.REVERT_OF)

    def latest_runs(
        self, import_ids: Sequence[str], tag: str = tags.IMPORT_ID
    ) -> dict[str, RunView]:
        """Each import's newest run (re-executions keep the tags, so they count too), found in
        one run-storage query for a page of imports; imports without a run are left out."""
        return {
            import_id: RunView(
                run_id=run.run_id,
                status=run.status.value,
                tags=run.tags,
                end_time=datetime.fromtimestamp(run.ended_at, UTC) if run.ended_at else None,
            )
            for import_id, run in newest_runs(self._instance, import_ids, tag).items()
        }

    def latest_run(self, import_id: str) -> RunView | None:
        return self.latest_runs([import_id]).get(import_id)

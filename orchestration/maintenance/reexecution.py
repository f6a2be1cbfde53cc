"""Re-running imports in bulk (`oliai reexecute`): which imports, whether each can run again, and
one re-execution launched as the Dagster UI launches it.

Dagster's re-execution copies the parent run's tags and run config, so the API's status and
history follow the new run and the webhook sensor sends a new event: nothing else to update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from core.contracts import IMPORT_JOB, tags
from core.import_runs import ImportRun, newest_runs

FAILED = (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
LAUNCH_TIMEOUT_S = 30.0

# The mutation the UI's "Re-execute → All steps" sends. InvalidStepError and InvalidOutputError
# do not implement the Error interface, so their fields are asked for by name.
REEXECUTE_MUTATION = """
mutation Reexecute($parentRunId: String!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parentRunId, strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
  }
}
"""


@dataclass(frozen=True)
class Skip:
    reason: str


class LaunchFailed(Exception):
    """Dagster did not launch the re-execution; the message says why."""


def failed_imports(instance: DagsterInstance, org_id: str | None = None) -> list[ImportRun]:
    """The imports (of `org_id`, or all) whose newest run ended FAILURE or CANCELED, oldest
    import first: re-runs that touch the same contacts then queue in their original order."""
    filters = RunsFilter(
        job_name=IMPORT_JOB,
        statuses=list(FAILED),
        tags={tags.ORG_ID: org_id} if org_id is not None else {},
    )
    # A failed run makes its import a candidate; a later run (a re-execution) may have fixed it.
    candidates = {
        record.dagster_run.tags[tags.IMPORT_ID]
        for record in instance.get_run_records(filters)
        if tags.IMPORT_ID in record.dagster_run.tags
    }
    runs = newest_runs(instance, sorted(candidates)).values()
    return sorted(
        # A run that recorded counts committed its write: the import is done, whatever the run.
        (
            run
            for run in runs
            if run.status in FAILED and tags.counts_from_tags(run.run_id, run.tags) is None
        ),
        key=lambda run: (run.first_created, run.import_id),
    )


def reexecutable(run: ImportRun | None) -> ImportRun | Skip:
    """The run to re-execute for an import whose newest run is `run`, or why not now."""
    if run is None:
        return Skip("no run: still waiting to be submitted, or unknown")
    if run.ended_at is None:
        # A second run next to an unfinished one would process the import twice at once.
        return Skip(f"its newest run {run.run_id} is {run.status.value}, not finished")
    if run.landing_path is None or not run.landing_path.is_file():
        return Skip(
            f"pruned: its request body is gone from the landing zone ({run.landing_path}); "
            "`oliai prune` removed it, or the data directory moved"
        )
    return run


def launch_reexecution(client: httpx.Client, dagster_url: str, parent_run_id: str) -> str:
    """Re-executes `parent_run_id` (all steps) through the webserver's GraphQL; returns the new
    run's id. Raises LaunchFailed with a readable reason."""
    try:
        response = client.post(
            f"{dagster_url}/graphql",
            json={"query": REEXECUTE_MUTATION, "variables": {"parentRunId": parent_run_id}},
            timeout=LAUNCH_TIMEOUT_S,
        )
    except httpx.TimeoutException as exc:
        # The request went out: Dagster may have launched the run without answering in time.
        raise LaunchFailed(
            f"no answer from the Dagster webserver at {dagster_url} in {LAUNCH_TIMEOUT_S:.0f} s "
            "(a run may have started: look at the import's newest run before retrying)"
        ) from exc
    except httpx.HTTPError as exc:
        raise LaunchFailed(f"cannot reach the Dagster webserver at {dagster_url}: {exc}") from exc
    try:
        body: Any = response.json()
    except ValueError:
        raise LaunchFailed(
            f"the Dagster webserver at {dagster_url} answered HTTP {response.status_code}, "
            "not GraphQL: is that the webserver's URL (OLIAI_DAGSTER_URL)?"
        ) from None
    answer = (body.get("data") or {}).get("launchRunReexecution")
    if not answer:
        messages = "; ".join(str(error.get("message")) for error in body.get("errors") or [])
        raise LaunchFailed(f"GraphQL error (HTTP {response.status_code}): {messages or body}")
    if answer["__typename"] == "LaunchRunSuccess":
        return str(answer["run"]["runId"])
    raise LaunchFailed(f"{answer['__typename']}: {_error_detail(answer)}")


def _error_detail(answer: Mapping[str, Any]) -> str:
    if answer.get("message"):
        return str(answer["message"]).strip()
    if answer.get("errors"):
        return "; ".join(str(error["message"]) for error in answer["errors"])
    if answer.get("invalidStepKey"):
        return f"step {answer['invalidStepKey']} is not in the job"
    if answer.get("invalidOutputName"):
        return f"output {answer['invalidOutputName']} of step {answer['stepKey']} does not exist"
    return "no detail given"

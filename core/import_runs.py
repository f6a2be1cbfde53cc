"""An import's newest Dagster run: the one the API reports, a re-execution copies, and retention
waits for. Runs are found by the tag `oliai/import_id` (its revert's runs by `oliai/revert_of`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunRecord, RunsFilter

from core.contracts import tags

# Import ids per run-storage query: each is a bound parameter, and SQLite builds before 3.32
# allow only 999 of them.
LOOKUP_BATCH = 500


@dataclass(frozen=True)
class ImportRun:
    import_id: str
    run_id: str
    status: DagsterRunStatus
    landing_path: Path | None
    # When the import's first run was created: its place in line among the imports.
    first_created: float
    # When this run ended; None while it is queued or running.
    ended_at: float | None
    tags: Mapping[str, str]


def newest_runs(
    instance: DagsterInstance, import_ids: Sequence[str], tag: str = tags.IMPORT_ID
) -> dict[str, ImportRun]:
    """Each import's newest run tagged `tag` with its id, as the API sees it; imports without
    one are left out."""
    newest: dict[str, ImportRun] = {}
    for start in range(0, len(import_ids), LOOKUP_BATCH):
        batch = list(import_ids[start : start + LOOKUP_BATCH])
        records = instance.get_run_records(RunsFilter(tags={tag: batch}))
        newest.update(_newest_per_import(records, tag))
    return newest


def _newest_per_import(records: Iterable[RunRecord], tag: str) -> dict[str, ImportRun]:
    newest: dict[str, tuple[DagsterRun, RunRecord]] = {}
    first_created: dict[str, float] = {}
    # Newest first: the first record seen per import is its newest run, the last its first.
    for record in records:
        run = record.dagster_run
        import_id = run.tags[tag]
        newest.setdefault(import_id, (run, record))
        first_created[import_id] = record.create_timestamp.timestamp()
    return {
        import_id: ImportRun(
            import_id=import_id,
            run_id=run.run_id,
            status=run.status,
            landing_path=_landing_path(run.run_config),
            first_created=first_created[import_id],
            ended_at=_ended_at(run, record),
            tags=run.tags,
        )
        for import_id, (run, record) in newest.items()
    }


def _ended_at(run: DagsterRun, record: RunRecord) -> float | None:
    if not run.is_finished:
        return None
    return record.end_time if record.end_time is not None else record.update_timestamp.timestamp()


def _landing_path(run_config: Mapping[str, Any]) -> Path | None:
    # A run stores its config as submitted, the input of the job's config mapping
    # ({import_id, org_id, landing_path, ...}), and a re-execution copies it.
    value = run_config.get("landing_path")
    return Path(value) if isinstance(value, str) else None

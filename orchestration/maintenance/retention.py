"""Retention: which imports' landing bodies and staged rows may go, and deleting them.

Row errors (`errors.parquet`) stay, because the API's errors endpoint reads them for ever; the
Dagster run history and the warehouse are not touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dagster import DagsterInstance

from core import staging
from core.import_runs import newest_runs


@dataclass(frozen=True)
class PrunableImport:
    import_id: str
    org_id: str | None  # None: no landing file left, only staged rows
    paths: tuple[Path, ...]
    size_bytes: int


def prunable_imports(
    instance: DagsterInstance,
    landing_dir: Path,
    staging_dir: Path,
    older_than: timedelta,
    now: datetime,
) -> list[PrunableImport]:
    """The imports with files to delete whose newest run finished before `now - older_than`
    (`now` timezone-aware). An import without a run may still be waiting in the API's outbox,
    and one whose newest run is queued or running still needs its files: both are kept."""
    orgs, files = _candidates(landing_dir, staging_dir)
    cutoff = (now - older_than).timestamp()
    ended = {
        import_id: run.ended_at for import_id, run in newest_runs(instance, sorted(files)).items()
    }
    return [
        PrunableImport(
            import_id=import_id,
            org_id=orgs.get(import_id),
            paths=tuple(files[import_id]),
            size_bytes=sum(_size(path) for path in files[import_id]),
        )
        for import_id, end in sorted(ended.items())
        if end is not None and end < cutoff
    ]


def prune_imports(imports: Iterable[PrunableImport]) -> int:
    """Deletes the imports' files; returns the bytes freed. Files already gone are skipped.

    An organization's landing directory stays, even empty: removing it could race the API
    creating it for a new import."""
    freed = 0
    for item in imports:
        for path in item.paths:
            size = _size(path)
            path.unlink(missing_ok=True)
            freed += size
    return freed


def _candidates(
    landing_dir: Path, staging_dir: Path
) -> tuple[dict[str, str], dict[str, list[Path]]]:
    """Each import's org (from its landing file) and its deletable files."""
    orgs: dict[str, str] = {}
    files: dict[str, list[Path]] = {}
    if landing_dir.is_dir():
        for org_dir in landing_dir.iterdir():
            if not org_dir.is_dir():
                continue
            for path in org_dir.glob("*.json"):
                if path.name.startswith("."):  # an atomic write's temp file
                    continue
                orgs[path.stem] = org_dir.name
                files.setdefault(path.stem, []).append(path)
    if staging_dir.is_dir():
        for import_dir in staging_dir.iterdir():
            valid = staging.valid_contacts_path(staging_dir, import_dir.name)
            if valid.is_file():
                files.setdefault(import_dir.name, []).append(valid)
    return orgs, files


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0

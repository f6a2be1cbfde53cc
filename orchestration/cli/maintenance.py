"""`oliai prune` and `oliai reexecute`: maintenance of imports already accepted."""

from __future__ import annotations

from typing import Annotated

import typer

from core.settings import MIB
from orchestration.cli.common import DataDir, load_settings, opened_instance, org_option

PRUNE_LISTED = 100  # a dry run lists this many imports, then a count


def prune(
    older_than_days: Annotated[
        int,
        typer.Option(
            "--older-than-days",
            min=1,
            help="Prune imports whose newest run ended more than this many days ago.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Delete the landing bodies and staged rows of imports whose newest run ended long ago.

    Row errors, Dagster's run history and the warehouse stay. A pruned import cannot be re-executed.
    Imports never submitted, queued or running keep their files.
    """
    from datetime import UTC, datetime, timedelta

    from orchestration.maintenance.retention import prunable_imports, prune_imports

    settings = load_settings(data_dir)
    with opened_instance(settings) as instance:
        imports = prunable_imports(
            instance,
            settings.landing_dir,
            settings.staging_dir,
            older_than=timedelta(days=older_than_days),
            now=datetime.now(UTC),
        )
    count = f"{len(imports)} import{'' if len(imports) == 1 else 's'}"
    if dry_run:
        for item in imports[:PRUNE_LISTED]:
            files = ", ".join(path.name for path in item.paths)
            typer.echo(
                f"{item.import_id}  {item.org_id or '-'}  {item.size_bytes:,} bytes  ({files})"
            )
        if len(imports) > PRUNE_LISTED:
            typer.echo(f"... and {len(imports) - PRUNE_LISTED} more")
        size = sum(item.size_bytes for item in imports)
        summary = f"Would prune {count}, freeing {size / MIB:.1f} MiB"
    else:
        freed = prune_imports(imports)
        summary = f"Pruned {count}, freed {freed / MIB:.1f} MiB"
    typer.echo(f"{summary} (landing bodies and staged rows; row errors kept).")


def reexecute(
    import_ids: Annotated[
        list[str] | None, typer.Argument(help="Imports to re-run (imp_…).", show_default=False)
    ] = None,
    failed: Annotated[
        bool,
        typer.Option("--failed", help="Every import whose newest run ended FAILURE or CANCELED."),
    ] = False,
    org: Annotated[str | None, org_option("With --failed: only this organization's.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be re-executed; launch nothing.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Re-execute imports' newest runs (all steps), as the Dagster UI's Re-execute does.

    Imports without a run, with an unfinished run or whose request body was pruned are skipped.
    Reaches the Dagster webserver at OLIAI_DAGSTER_URL (default http://OLIAI_HOST:OLIAI_DAGSTER_PORT).
    Exit 1 if a launch failed or a named import could not be re-executed.
    """
    import httpx

    from orchestration.maintenance.reexecution import (
        ImportRun,
        LaunchFailed,
        Skip,
        failed_imports,
        launch_reexecution,
        newest_runs,
        reexecutable,
    )

    if bool(import_ids) == failed:
        raise typer.BadParameter("name import ids or pass --failed (one of the two, not both).")
    if org is not None and not failed:
        raise typer.BadParameter("--org narrows --failed; leave it out when naming imports.")
    settings = load_settings(data_dir)
    selected: list[tuple[str, ImportRun | None]]
    with opened_instance(settings) as instance:
        if failed:
            selected = [(run.import_id, run) for run in failed_imports(instance, org)]
        else:
            named = list(dict.fromkeys(import_ids or []))  # once each, in the order given
            runs = newest_runs(instance, named)
            selected = [(import_id, runs.get(import_id)) for import_id in named]

    launched = skipped = launch_failures = 0
    with httpx.Client() as client:
        for import_id, newest in selected:
            run = reexecutable(newest)
            if isinstance(run, Skip):
                typer.echo(f"{import_id}  skipped: {run.reason}")
                skipped += 1
                continue
            if dry_run:
                typer.echo(f"{import_id}  {run.run_id} → would re-execute")
                launched += 1
                continue
            try:
                new_run_id = launch_reexecution(client, settings.resolved_dagster_url, run.run_id)
            except LaunchFailed as exc:
                typer.echo(f"{import_id}  {run.run_id}  launch failed: {exc}")
                launch_failures += 1
                continue
            typer.echo(f"{import_id}  {run.run_id} → {new_run_id}")
            launched += 1
    summary = f"re-executed {launched}, skipped {skipped}"
    if launch_failures:
        summary += f", launch failed {launch_failures}"
    typer.echo(f"Dry run: would have {summary}." if dry_run else f"{summary.capitalize()}.")
    # --failed expects skips (pruned imports); a named import was asked for by name.
    if launch_failures or (skipped and not failed):
        raise typer.Exit(1)

"""`oliai import`: a large contact file through the API in resumable batches."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from client.batch.options import DEFAULT_IN_FLIGHT, MAX_IN_FLIGHT
from core.contracts.import_options import ApplyOptions, ImportMode
from orchestration.cli.common import AsJson


class WaitModeChoice(StrEnum):
    poll = "poll"
    webhook = "webhook"


def import_file(
    file: Annotated[
        Path, typer.Argument(help="A .csv/.tsv, .ndjson/.jsonl, .json (array) or .xlsx file.")
    ],
    api_key: Annotated[
        str, typer.Option("--api-key", envvar="OLIAI_API_KEY", help="The organization's API key.")
    ],
    api_url: Annotated[
        str, typer.Option("--api-url", envvar="OLIAI_API_URL", help="The API's base URL.")
    ] = "http://127.0.0.1:8000",
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=10_000, help="Contacts per request.")
    ] = 5_000,
    in_flight: Annotated[
        int,
        typer.Option(
            "--in-flight",
            min=1,
            max=MAX_IN_FLIGHT,
            help="Batches sent ahead of the one awaited (1: each waits for the one before).",
        ),
    ] = DEFAULT_IN_FLIGHT,
    audience_id: Annotated[
        str | None, typer.Option("--audience-id", help="Add every contact to this audience.")
    ] = None,
    default_country: Annotated[
        str | None,
        typer.Option(
            "--default-country",
            help="ISO 3166-1 alpha-2 country (e.g. IN) in which numbers written without + are "
            "read; without it they are row errors (missing_plus).",
        ),
    ] = None,
    mode: Annotated[
        ImportMode,
        typer.Option(
            "--mode",
            help="upsert: create and update. createOnly: leave existing contacts untouched. "
            "updateOnly: create none. Rows left untouched count as skipped.",
        ),
    ] = ImportMode.UPSERT,
    webhook_url: Annotated[
        str | None,
        typer.Option(
            "--webhook-url",
            help="Sent with every batch. With --wait-mode webhook: the URL at which the API "
            "reaches this command's receiver (default http://LISTEN/oliai/import-completed).",
        ),
    ] = None,
    wait_mode: Annotated[
        WaitModeChoice,
        typer.Option(
            "--wait-mode",
            help="poll: poll each batch's status with backoff. webhook: wait for the signed "
            "import.completed on a local receiver (polling every 10 s as the fallback).",
        ),
    ] = WaitModeChoice.poll,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            "--webhook-secret",
            envvar="OLIAI_WEBHOOK_SECRET",
            help="whsec_... secret that verifies webhooks (`oliai webhooks secret --org ORG`).",
        ),
    ] = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT of the webhook receiver (0: any port).")
    ] = "127.0.0.1:0",
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Validate, normalize and report what each batch would create, update, skip "
            "or fail against the contacts stored now; create nothing.",
        ),
    ] = False,
    continue_on_error: Annotated[
        bool, typer.Option("--continue-on-error", help="Go on after a batch ends FAILED.")
    ] = False,
    batch_timeout: Annotated[
        float, typer.Option("--batch-timeout", help="Seconds to wait for one batch to finish.")
    ] = 3600.0,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="A CSV's encoding (e.g. utf-8, utf-16, cp1252, cp1250). Default: a BOM's, else "
            "UTF-8 if the file is valid UTF-8, else the Windows code page detected "
            "(Windows-1252 on a tie).",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Import a large file in batches, applied in order; resumable (re-run the same command).

    Exit codes: 0 done, 1 done with failed rows, 2 bad input, 3 a batch FAILED, 4 API error, 130
    interrupted (docs/batch-import.md).
    """
    from client.batch.console import import_command
    from client.batch.options import BatchImportOptions, WaitMode

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        typer.echo(f"--listen must be HOST:PORT, not {listen!r}.", err=True)
        raise typer.Exit(2)
    options = BatchImportOptions(
        path=file,
        batch_size=batch_size,
        in_flight=in_flight,
        audience_id=audience_id,
        apply=ApplyOptions.of(default_country, mode.value),
        webhook_url=webhook_url,
        wait_mode=WaitMode(wait_mode.value),
        webhook_secret=webhook_secret,
        listen_host=host,
        listen_port=int(port),
        continue_on_error=continue_on_error,
        batch_timeout_s=batch_timeout,
        encoding=encoding,
    )
    raise typer.Exit(
        import_command(options, api_url=api_url, api_key=api_key, dry_run=dry_run, as_json=as_json)
    )

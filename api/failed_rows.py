"""An import's failed rows in their original shape: every key of each row as it was sent, in
its order, with the row's errors beside it, ready to fix and send again."""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec
import polars as pl

from client.schemas import FailedRow, RowProblem
from client.spreadsheet_safety import spreadsheet_safe

ERRORS_COLUMN = "errors"


def failed_rows(contacts: list[dict[str, Any]], errors: pl.DataFrame) -> list[FailedRow]:
    """The rows of `contacts` that have errors (ERRORS_SCHEMA), in row order."""
    problems: dict[int, list[RowProblem]] = {}
    for row_index, field, code, message in errors.select(
        "row_index", "field", "code", "message"
    ).iter_rows():
        problems.setdefault(row_index, []).append(RowProblem(field, code, message))
    return [
        FailedRow(row_index=index, row=contacts[index], errors=found)
        for index, found in sorted(problems.items())
    ]


def errors_text(problems: list[RowProblem]) -> str:
    """`field code: message`, one per error, `; ` between them."""
    return "; ".join(f"{p.field} {p.code}: {p.message}" for p in problems)


def _cell(value: Any) -> str:
    """A value as the row sent it: strings as they are, null as an empty cell, anything else as
    its JSON text (numbers exactly, nested values whole)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return msgspec.json.encode(value).decode()


def failed_rows_csv(rows: list[FailedRow]) -> str:
    """One column per key the failed rows have, in the order they first appear, then `errors`
    (renamed `errors_`… if a row has a key of that name). A row lacking a key has it empty."""
    columns = list(dict.fromkeys(key for row in rows for key in row.row))
    errors_column = ERRORS_COLUMN
    while errors_column in columns:
        errors_column += "_"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, errors_column])
    for row in rows:
        cells = [_cell(row.row.get(column)) for column in columns]
        writer.writerow([*cells, spreadsheet_safe(errors_text(row.errors))])
    return out.getvalue()

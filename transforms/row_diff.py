"""What a batch would do to an organization's contacts, row by row: the dry run's diff.

The actions and totals are `plan_upsert`'s, the very plan an import writes. The changes replay the
batch's rows in request order over the stored contacts with the same rules (a name or language
wins unless the stored one is newer in acceptance order; metadata merges key by key through
`merge_metadata`), so each row is judged against what the rows before it left: a number repeated
in the request is an `update` against the earlier rows' values, as the import counts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import polars as pl

from transforms.json_text import from_json, to_json
from transforms.schema import EXISTING_SCHEMA
from transforms.upsert import UNSEQUENCED, UpsertPlan, merge_metadata, plan_upsert


class RowAction(StrEnum):
    """What a row would do (`client.schemas.RowAction` spells the same values on the wire)."""

    CREATE = "create"  # the first row of a number the organization does not have
    UPDATE = "update"  # a row over an existing contact, or over an earlier row of the request
    SKIP = "skip"  # left out by the import's mode
    FAIL = "fail"  # a row error


class ChangedField(StrEnum):
    NAME = "name"
    LANGUAGE = "language"
    METADATA = "metadata"  # one key of it (`FieldChange.key`)


@dataclass(frozen=True)
class FieldChange:
    """One value a row would change. Values are JSON text; `old` None: there was none."""

    field: ChangedField
    key: str | None  # the metadata key; None for name and language
    old: str | None
    new: str


@dataclass(frozen=True)
class RowDiff:
    row_index: int
    action: RowAction
    phone_number: str | None  # None for a failed row
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class BatchDiff:
    """Every row of the request by `row_index`; the plan's counts are the import's."""

    rows: list[RowDiff]
    plan: UpsertPlan


@dataclass(frozen=True)
class _Contact:
    """A contact's values (metadata as JSON text) and their sequences, as EXISTING_SCHEMA."""

    name: str | None = None
    language: str | None = None
    metadata: str = "{}"
    metadata_seq: str | None = None
    metadata_base_seq: int | None = None
    name_seq: int | None = None
    language_seq: int | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> _Contact:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


def _not_newer(stored_seq: int | None, sequence: int) -> bool:
    """The rule of `plan_upsert`: a write wins over values of the same or an older sequence."""
    return (UNSEQUENCED if stored_seq is None else stored_seq) <= sequence


def _applied(contact: _Contact, row: dict[str, Any], sequence: int) -> _Contact:
    """`contact` after one valid row, by `plan_upsert`'s rules (for a number repeated in the
    batch, whose plan row is where all its rows together leave it)."""
    if _not_newer(contact.name_seq, sequence):
        contact = replace(contact, name=row["name"], name_seq=sequence)
    if row["language"] is not None and _not_newer(contact.language_seq, sequence):
        contact = replace(contact, language=row["language"], language_seq=sequence)
    if row["metadata"] != "{}":
        metadata, seqs, base = merge_metadata(
            contact.metadata,
            contact.metadata_seq,
            contact.metadata_base_seq,
            [row["metadata"]],
            sequence,
        )
        contact = replace(contact, metadata=metadata, metadata_seq=seqs, metadata_base_seq=base)
    return contact


def _text(value: str | None) -> str | None:
    return None if value is None else to_json(value)


def _changes(before: _Contact, after: _Contact) -> Iterator[FieldChange]:
    if after.name != before.name:
        yield FieldChange(ChangedField.NAME, None, _text(before.name), to_json(after.name))
    if after.language != before.language:
        yield FieldChange(
            ChangedField.LANGUAGE, None, _text(before.language), to_json(after.language)
        )
    if after.metadata == before.metadata:
        return
    old: dict[str, Any] = from_json(before.metadata)
    for key, value in from_json(after.metadata).items():
        new = to_json(value)
        was = to_json(old[key]) if key in old else None
        if new != was:  # compared as JSON text: Python has 1 == 1.0 == True
            yield FieldChange(ChangedField.METADATA, key, was, new)


def _failed(row_indexes: Iterable[int]) -> list[RowDiff]:
    return [RowDiff(index, RowAction.FAIL, None) for index in sorted(set(row_indexes))]


def diff_batch(
    valid: pl.DataFrame,
    errors: pl.DataFrame,
    existing: pl.DataFrame,
    import_id: str,
    sequence: int,
    *,
    may_create: bool = True,
    may_update: bool = True,
) -> BatchDiff:
    """The diff of a normalized batch (`valid`, `errors`: `NormalizedContacts`) over `existing`
    (EXISTING_SCHEMA, the organization's rows for the batch's phones), judged as import
    `import_id` at `sequence` in acceptance order with the mode's `may_create`/`may_update`.

    A number's only row changes its stored contact into the plan's row; the rows of a number
    repeated in the batch are replayed one by one (the plan only has where they all end)."""
    plan = plan_upsert(
        valid, existing, import_id, sequence, may_create=may_create, may_update=may_update
    )
    planned = {row["phone_number"]: row for row in plan.rows.iter_rows(named=True)}
    stored = {
        row["phone_number"]: _Contact.of(row)
        for row in existing.cast(EXISTING_SCHEMA)
        .with_columns(pl.col("metadata").fill_null("{}"))
        .iter_rows(named=True)
    }
    repeated = set(valid.filter(pl.col("phone_number").is_duplicated())["phone_number"])
    replayed: dict[str, _Contact] = {}
    rows = _failed(errors["row_index"])
    for row in valid.sort("row_index").iter_rows(named=True):
        phone = row["phone_number"]
        if phone not in planned:
            rows.append(RowDiff(row["row_index"], RowAction.SKIP, phone))
            continue
        creates = planned[phone]["is_new"] and phone not in replayed
        before = replayed.get(phone) or stored.get(phone) or _Contact()
        if phone in repeated:
            after = replayed[phone] = _applied(before, row, sequence)
        else:
            after = _Contact.of(planned[phone])
        action = RowAction.CREATE if creates else RowAction.UPDATE
        rows.append(RowDiff(row["row_index"], action, phone, tuple(_changes(before, after))))
    rows.sort(key=lambda diff: diff.row_index)
    return BatchDiff(rows, plan)

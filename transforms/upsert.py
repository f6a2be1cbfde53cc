"""Dedupe a batch by phone and merge it into what the organization already has.

Order-proof: every stored value remembers the acceptance sequence of the import that wrote it,
and a write wins only over values of the same or an older sequence. So an import processed late
(re-executed after a crash, or run again from the Dagster UI) never overwrites what an import
accepted after it wrote, and the result is that of applying every import in acceptance order.
"""

from dataclasses import dataclass

import polars as pl

from transforms.json_text import from_json, to_json
from transforms.schema import EXISTING_SCHEMA, PLAN_SCHEMA

# Values written before sequences existed are older than every import since.
UNSEQUENCED = 0


@dataclass(frozen=True)
class UpsertPlan:
    """`rows`: one row per distinct phone of the batch (PLAN_SCHEMA), in order of first appearance.

    `is_new` marks phones counted as created. Such a phone may still have a warehouse row, created
    by an earlier run of this same import or by an import accepted after this one, so write
    `rows` as an upsert.
    """

    rows: pl.DataFrame
    created: int
    updated: int
    # Valid rows left out by the import's mode (their phones are not in `rows`).
    skipped: int = 0


def merge_metadata(
    stored: str | None,
    stored_seqs: str | None,
    stored_base_seq: int | None,
    pieces: list[str],
    sequence: int,
) -> tuple[str, str, int | None]:
    """The batch's objects applied in request order over the stored object, key by key (nested
    values replaced whole), each key only where the stored one is not newer than `sequence`.
    Returns the object and its keys' sequences: `{}` and the one sequence if all keys share it,
    else every key's (as JSON text) and None."""
    merged: dict[str, object] = from_json(stored) if stored else {}
    explicit: dict[str, int] = from_json(stored_seqs) if stored_seqs else {}
    base = UNSEQUENCED if stored_base_seq is None else stored_base_seq
    seqs = {key: explicit.get(key, base) for key in merged}
    for text in pieces:
        for key, value in from_json(text).items():
            if seqs.get(key, UNSEQUENCED) <= sequence:
                merged[key] = value
                seqs[key] = sequence
    shared = set(seqs.values())
    if len(shared) == 1:
        return to_json(merged), "{}", shared.pop()
    return to_json(merged), to_json(seqs), None


def _not_newer(seq: str, sequence: int) -> pl.Expr:
    return pl.col(seq).fill_null(UNSEQUENCED) <= sequence


def plan_upsert(
    valid: pl.DataFrame,
    existing: pl.DataFrame,
    import_id: str,
    sequence: int = UNSEQUENCED,
    *,
    may_create: bool = True,
    may_update: bool = True,
) -> UpsertPlan:
    """Apply the valid rows in request order, as if one by one, on top of `existing`.

    `existing` (EXISTING_SCHEMA) holds the organization's current rows for the batch's phones.
    `sequence` is the import's place in acceptance order. A phone counts as created iff it has no
    row there, or one created by `import_id` (re-processing an import counts the same as its first
    run), or one created by an import accepted after this one.

    Without `may_create`, the rows of phones that are new in that sense are skipped; without
    `may_update`, those of the other phones (contacts that existed before this import). Skipped
    rows change nothing and are counted apart: created + updated + skipped = valid rows.
    """
    existing = existing.cast(EXISTING_SCHEMA).select(
        "phone_number",
        pl.col("name").alias("existing_name"),
        pl.col("language").alias("existing_language"),
        pl.col("metadata").alias("existing_metadata"),
        pl.col("name_seq").alias("existing_name_seq"),
        pl.col("language_seq").alias("existing_language_seq"),
        pl.col("metadata_seq").alias("existing_metadata_seq"),
        pl.col("metadata_base_seq").alias("existing_metadata_base_seq"),
        pl.col("created_seq").alias("existing_created_seq"),
        "created_import_id",
        pl.lit(True).alias("exists"),
    )
    if existing["phone_number"].is_duplicated().any():
        raise ValueError("existing has more than one row for a phone number")
    exists = pl.col("exists").fill_null(False)
    batch = (
        valid.sort("row_index")
        .group_by("phone_number", maintain_order=True)
        .agg(
            pl.len().alias("row_count"),
            pl.col("name").last(),
            pl.col("language").drop_nulls().last(),
            # A function of the phone: every row of it has the same (phonenumbers' metadata).
            pl.col("phone_type", "phone_region").last(),
            # The objects to apply, oldest first; empty ones change nothing.
            pl.col("metadata").filter(pl.col("metadata") != "{}").alias("pieces"),
        )
        .join(existing, on="phone_number", how="left", maintain_order="left")
        .with_columns(
            creates=exists
            & pl.col("created_import_id").ne_missing(import_id)
            & (pl.col("existing_created_seq").fill_null(UNSEQUENCED) > sequence),
            name_wins=~exists | _not_newer("existing_name_seq", sequence),
            language_wins=pl.col("language").is_not_null()
            & _not_newer("existing_language_seq", sequence),
        )
        .with_columns(
            # A late import that becomes a contact's creator still counts it updated: the creator
            # accepted after it already counted it created, once per organization.
            is_new=~exists | pl.col("created_import_id").eq_missing(import_id)
        )
    )
    # New in acceptance order: no contact, or one this import (or a later one) created.
    new_in_order = pl.col("is_new") | pl.col("creates")
    skips = (new_in_order & pl.lit(not may_create)) | (~new_in_order & pl.lit(not may_update))
    skipped = int(batch.filter(skips)["row_count"].sum())
    batch = batch.filter(~skips)
    # One object over nothing stored is taken as it is, its keys all of this import's sequence
    # (metadata_base_seq); only two or more objects for a phone need a JSON merge in Python.
    stored_empty = pl.col("existing_metadata").fill_null("{}") == "{}"
    batch = batch.with_columns(
        taken_whole=(pl.col("pieces").list.len() == 1) & stored_empty,
        merges=(pl.col("pieces").list.len() > 1)
        | ((pl.col("pieces").list.len() == 1) & ~stored_empty),
    )
    needs_merge = batch.filter("merges")
    merged = [
        merge_metadata(stored, seqs, base, pieces, sequence)
        for stored, seqs, base, pieces in needs_merge.select(
            "existing_metadata", "existing_metadata_seq", "existing_metadata_base_seq", "pieces"
        ).iter_rows()
    ]
    merged_frame = pl.DataFrame(
        {
            "phone_number": needs_merge["phone_number"],
            "merged": [metadata for metadata, _, _ in merged],
            "merged_seq": [seqs for _, seqs, _ in merged],
            "merged_base_seq": [base for _, _, base in merged],
        },
        schema={
            "phone_number": pl.String,
            "merged": pl.String,
            "merged_seq": pl.String,
            "merged_base_seq": pl.Int64,
        },
    )
    rows = batch.join(merged_frame, on="phone_number", how="left", maintain_order="left").select(
        "phone_number",
        pl.when("name_wins").then("name").otherwise("existing_name").alias("name"),
        pl.when("language_wins").then("language").otherwise("existing_language").alias("language"),
        pl.when("taken_whole")
        .then(pl.col("pieces").list.first())
        .otherwise(pl.coalesce("merged", "existing_metadata", pl.lit("{}")))
        .alias("metadata"),
        # The batch's, over whatever is stored (a row written before they existed has none).
        "phone_type",
        "phone_region",
        "is_new",
        "creates",
        pl.when("name_wins").then(sequence).otherwise("existing_name_seq").alias("name_seq"),
        pl.when("language_wins")
        .then(sequence)
        .otherwise("existing_language_seq")
        .alias("language_seq"),
        pl.when("taken_whole")
        .then(pl.lit("{}"))
        .otherwise(pl.coalesce("merged_seq", "existing_metadata_seq", pl.lit("{}")))
        .alias("metadata_seq"),
        pl.when("taken_whole")
        .then(sequence)
        .when("merges")
        .then("merged_base_seq")
        .otherwise("existing_metadata_base_seq")
        .alias("metadata_base_seq"),
        pl.when(~exists | pl.col("creates"))
        .then(sequence)
        .otherwise("existing_created_seq")
        .alias("created_seq"),
    )
    created = int(rows["is_new"].sum())
    return UpsertPlan(
        rows=rows.cast(PLAN_SCHEMA),
        created=created,
        updated=valid.height - created - skipped,
        skipped=skipped,
    )

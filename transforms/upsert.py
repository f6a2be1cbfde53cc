"""Dedupe a batch by phone and merge it into what the organization already has."""

from dataclasses import dataclass

import polars as pl

from transforms.json_text import from_json, to_json
from transforms.schema import EXISTING_SCHEMA, PLAN_SCHEMA


@dataclass(frozen=True)
class UpsertPlan:
    """`rows`: one row per distinct phone of the batch (PLAN_SCHEMA), in order of first appearance.

    `is_new` marks phones counted as created. Such a phone may still have a warehouse row, created
    by an earlier run of this same import, so write `rows` as an upsert.
    """

    rows: pl.DataFrame
    created: int
    updated: int


def _merge_objects(texts: list[str]) -> str:
    """Top-level keys in place, newest value wins, nested values replaced whole."""
    merged: dict[str, object] = {}
    for text in texts:
        merged.update(from_json(text))
    return to_json(merged)


def plan_upsert(valid: pl.DataFrame, existing: pl.DataFrame, import_id: str) -> UpsertPlan:
    """Apply the valid rows in request order, as if one by one, on top of `existing`.

    `existing` (EXISTING_SCHEMA) holds the organization's current rows for the batch's phones. A
    phone is pre-existing iff it has a row there not created by `import_id`, so re-processing an
    import counts the same as its first run.
    """
    existing = existing.cast(EXISTING_SCHEMA).select(
        "phone_number",
        pl.col("language").alias("existing_language"),
        pl.col("metadata").alias("existing_metadata"),
        "created_import_id",
        pl.lit(True).alias("exists"),
    )
    if existing["phone_number"].is_duplicated().any():
        raise ValueError("existing has more than one row for a phone number")
    batch = (
        valid.sort("row_index")
        .group_by("phone_number", maintain_order=True)
        .agg(
            pl.col("name").last(),
            pl.col("language").drop_nulls().last(),
            pl.col("metadata"),
        )
        .join(existing, on="phone_number", how="left", maintain_order="left")
        .with_columns(
            is_new=~(
                pl.col("exists").fill_null(False)
                & pl.col("created_import_id").ne_missing(import_id)
            ),
            # The objects to apply, oldest first; empty ones change nothing.
            pieces=pl.concat_list(
                pl.col("existing_metadata").fill_null("{}"), "metadata"
            ).list.filter(pl.element() != "{}"),
        )
    )
    # Only phones with two or more non-empty objects need a JSON merge in Python.
    needs_merge = batch.filter(pl.col("pieces").list.len() > 1)
    merged = needs_merge.select(
        "phone_number",
        merged=pl.Series(
            [_merge_objects(pieces) for pieces in needs_merge["pieces"].to_list()], dtype=pl.String
        ),
    )
    rows = batch.join(merged, on="phone_number", how="left", maintain_order="left").select(
        "phone_number",
        "name",
        pl.coalesce("language", "existing_language").alias("language"),
        pl.coalesce("merged", pl.col("pieces").list.first(), pl.lit("{}")).alias("metadata"),
        "is_new",
    )
    created = int(rows["is_new"].sum())
    return UpsertPlan(rows=rows.cast(PLAN_SCHEMA), created=created, updated=valid.height - created)

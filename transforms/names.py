"""The `name` rule: bidi controls removed, trimmed of whitespace and invisible characters,
whitespace collapsed, NFC, 1 to 256 characters."""

import polars as pl

from transforms.errors import RowErrorCode
from transforms.schema import CHECK_SCHEMA

MAX_NAME_CHARS = 256

# Polars regexes are Unicode-aware: \s covers tabs, newlines, NBSP, ideographic space and the rest
# of Unicode White_Space.
_WHITESPACE_RUN = r"\s+"
# Bidi embeddings, overrides and isolates reorder how the rest displays ("Trojan Source"
# spoofing) and carry no letter: removed everywhere.
_BIDI_CONTROLS = "[\u202a-\u202e\u2066-\u2069]"
# Invisible format characters (U+200B, U+FEFF, U+2060, soft hyphens, marks: Unicode Cf) are trimmed
# at the edges like whitespace; inside a name they stay (ZWJ/ZWNJ shape Indic scripts and emoji).
_EDGES = r"^[\s\p{Cf}]+|[\s\p{Cf}]+$"


def normalize_name(raw: pl.Expr) -> pl.Expr:
    """Whitespace first, NFC last: the result is NFC, and normalizing it again changes nothing."""
    return (
        raw.str.replace_all(_BIDI_CONTROLS, "")
        .str.replace_all(_WHITESPACE_RUN, " ")
        .str.replace_all(_EDGES, "")
        .str.normalize("NFC")
    )


def check_names(raw: pl.Series) -> pl.DataFrame:
    """Normalized names or an error for each string in `raw` (nulls pass through)."""
    name = pl.col("name")
    length = name.str.len_chars()
    code = (
        pl.when(name == "")
        .then(pl.lit(RowErrorCode.EMPTY))
        .when(length > MAX_NAME_CHARS)
        .then(pl.lit(RowErrorCode.TOO_LONG))
    )
    message = (
        pl.when(name == "")
        .then(pl.lit("name is empty or only whitespace"))
        .when(length > MAX_NAME_CHARS)
        .then(
            pl.format(
                "name is {} characters long after normalization; at most {} are allowed",
                length,
                pl.lit(MAX_NAME_CHARS),
            )
        )
    )
    return (
        raw.to_frame("raw")
        .select(normalize_name(pl.col("raw")).alias("name"))
        .select(
            pl.when(code.is_null()).then(name).alias("value"),
            code.alias("code"),
            message.alias("message"),
        )
        .cast(CHECK_SCHEMA)
    )

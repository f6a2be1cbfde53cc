"""The `language` rule: an optional, well-formed BCP 47 tag (RFC 5646), canonically cased. Tags
in POSIX locale form (`en_US`, as operating systems and many exports write them) are read with
hyphens: an underscore has no other meaning in a tag."""

import polars as pl

from transforms.errors import RowErrorCode
from transforms.schema import CHECK_SCHEMA

# RFC 5646 §2.1 ABNF, written for lowercase input (callers lowercase first).
_LANGTAG = (
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"  # language, with up to 3 extlang subtags
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*"  # extensions: a singleton other than x
    r"(?:-x(?:-[a-z0-9]{1,8})+)?"  # private use
)
_PRIVATE_USE = r"x(?:-[a-z0-9]{1,8})+"
_GRANDFATHERED = (
    "en-gb-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn"
    "|i-tao|i-tay|i-tsu|sgn-be-fr|sgn-be-nl|sgn-ch-de"
    "|art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
LANGUAGE_TAG = rf"^(?:{_LANGTAG}|{_PRIVATE_USE}|{_GRANDFATHERED})$"
# Checked on the input as sent: lowercasing maps a few non-ASCII letters (the Kelvin sign) to ASCII.
_TAG_ALPHABET = r"^[A-Za-z0-9-]+$"

INVALID_TAG_MESSAGE = "language must be a BCP 47 language tag such as hi-IN, en or zh-Hant-TW"


def canonical_case(tag: pl.Expr) -> pl.Expr:
    """RFC 5646 §2.1.1 casing of a well-formed tag.

    Lowercase, except subtags after the first and before any singleton: two letters are
    uppercase (region), four are titlecase (script).
    """
    subtag = pl.element()
    size = subtag.str.len_chars()
    # Position 0 and everything from the first singleton (extension, private use, i-) on.
    lowercase_only = (pl.int_range(pl.len()) == 0) | ((size == 1).cum_sum() > 0)
    return (
        tag.str.to_lowercase()
        .str.split("-")
        .list.eval(
            pl.when(lowercase_only)
            .then(subtag)
            .when(size == 2)
            .then(subtag.str.to_uppercase())
            .when(size == 4)
            .then(subtag.str.slice(0, 1).str.to_uppercase() + subtag.str.slice(1))
            .otherwise(subtag)
        )
        .list.join("-")
    )


def check_languages(raw: pl.Series) -> pl.DataFrame:
    """Canonical tags or an error for each string in `raw`; nulls and blank strings mean none;
    `_` reads as `-`.

    Runs on distinct values: a batch uses a handful of languages.
    """
    tag = pl.col("raw").str.strip_chars().str.replace_all("_", "-", literal=True)
    well_formed = tag.str.contains(_TAG_ALPHABET) & tag.str.to_lowercase().str.contains(
        LANGUAGE_TAG
    )
    invalid = (tag != "") & ~well_formed
    by_raw = (
        raw.unique()
        .drop_nulls()
        .to_frame("raw")
        .select(
            "raw",
            pl.when(well_formed).then(canonical_case(tag)).alias("value"),
            pl.when(invalid).then(pl.lit(RowErrorCode.INVALID_TAG)).alias("code"),
            pl.when(invalid).then(pl.lit(INVALID_TAG_MESSAGE)).alias("message"),
        )
    )
    return (
        raw.to_frame("raw")
        .join(by_raw, on="raw", how="left", maintain_order="left")
        .drop("raw")
        .cast(CHECK_SCHEMA)
    )

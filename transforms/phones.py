"""The `phoneNumber` rule: a leading +, digits and separators, a valid number, stored as E.164
with its type and region."""

from typing import NamedTuple

import phonenumbers
import polars as pl
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumberDesc,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
)
from phonenumbers.re_util import re_compile

from transforms.errors import RowErrorCode
from transforms.phone_plans import (
    CALLING_CODE,
    MAX_NATIONAL_LENGTH,
    MIN_NATIONAL_LENGTH,
    SPECIAL_TYPES,
    BatchRules,
    batch_rules,
)
from transforms.schema import PHONE_CHECK_SCHEMA

# What `defaultCountry` may name: every region phonenumbers has a numbering plan for.
SUPPORTED_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)

# Separators tolerated around digits: any Unicode whitespace (NBSP, the narrow NBSP of French
# formatting), dots, parentheses, the ASCII hyphen and the Unicode dashes word processors insert.
_SEPARATORS = r"[\s.()\-\u2010-\u2015\u2212]*"
# An optional + (its absence gets its own code), then ASCII digits with separators around them.
PHONE_SHAPE = rf"^\+?{_SEPARATORS}[0-9](?:{_SEPARATORS}[0-9])*$"

PHONE_MESSAGES: dict[RowErrorCode, str] = {
    RowErrorCode.EMPTY: "phoneNumber is empty or only whitespace",
    RowErrorCode.INVALID_FORMAT: (
        "phoneNumber must be + and digits, with only spaces, dashes, dots or parentheses"
        " between them (no letters or extensions)"
    ),
    RowErrorCode.MISSING_PLUS: (
        "phoneNumber must start with + and the country calling code, e.g. +919876543210, "
        "or the import must name a defaultCountry"
    ),
    RowErrorCode.INVALID_COUNTRY_CODE: "phoneNumber does not start with a known country code",
    RowErrorCode.TOO_SHORT: "phoneNumber has too few digits for its country",
    RowErrorCode.TOO_LONG: "phoneNumber has too many digits for its country",
    RowErrorCode.INVALID_NUMBER: (
        "phoneNumber is not a valid number in its country's numbering plan"
    ),
}

_PARSE_ERRORS: dict[int, RowErrorCode] = {
    NumberParseException.INVALID_COUNTRY_CODE: RowErrorCode.INVALID_COUNTRY_CODE,
    # Our shape check already passed, so phonenumbers only says "not a number" to under 3 digits.
    NumberParseException.NOT_A_NUMBER: RowErrorCode.TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: RowErrorCode.TOO_SHORT,
    NumberParseException.TOO_SHORT_AFTER_IDD: RowErrorCode.TOO_SHORT,
    NumberParseException.TOO_LONG: RowErrorCode.TOO_LONG,
}

# Why a parsed number is not valid.
_INVALID: dict[int, RowErrorCode] = {
    ValidationResult.IS_POSSIBLE: RowErrorCode.INVALID_NUMBER,
    ValidationResult.INVALID_COUNTRY_CODE: RowErrorCode.INVALID_COUNTRY_CODE,
    ValidationResult.TOO_SHORT: RowErrorCode.TOO_SHORT,
    # Dialable only inside its area: the area code is missing.
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: RowErrorCode.TOO_SHORT,
    ValidationResult.TOO_LONG: RowErrorCode.TOO_LONG,
    ValidationResult.INVALID_LENGTH: RowErrorCode.INVALID_NUMBER,
}


# `number_type` as stored: `mobile`, `fixed_line_or_mobile`, `toll_free`, ... `unknown`.
PHONE_TYPES: dict[int, str] = {
    kind: str(PhoneNumberType.to_string(kind)).lower() for kind in PhoneNumberType.values()
}


class ParsedPhone(NamedTuple):
    """A valid number's E.164, type and region (`region_code_for_number`), or why it is not."""

    e164: str | None
    code: RowErrorCode | None
    phone_type: str | None = None
    phone_region: str | None = None


def parse_phone(digits: str, country: str | None = None) -> ParsedPhone:
    """E.164, type and region of `+` and digits, or why it is not a valid number. ~25 µs: call
    sparingly.

    With `country` (ISO 3166-1 alpha-2), digits without `+` are read as someone in that country
    dials them: its national prefix (`0` in India), its international prefix (`00`, `011`) or
    the calling code written without `+`, all as phonenumbers reads them."""
    try:
        number = phonenumbers.parse(digits, country)
    except NumberParseException as error:
        return ParsedPhone(None, _PARSE_ERRORS[error.error_type])
    if phonenumbers.is_valid_number(number):
        return ParsedPhone(
            phonenumbers.format_number(number, PhoneNumberFormat.E164),
            None,
            PHONE_TYPES[phonenumbers.number_type(number)],
            phonenumbers.region_code_for_number(number),
        )
    # Only invalid numbers pay for the reason.
    return ParsedPhone(None, _INVALID[phonenumbers.is_possible_number_with_reason(number)])


def warm_phonenumbers() -> None:
    """Compile, once, every regular expression of phonenumbers' metadata that `parse_phone` may
    use, for every region and non-geographic entity, and keep them (phonenumbers'
    `enable_pattern_cache`): ~0.1 s and ~3 MiB. Without it a process compiles a region's
    patterns on its first number from there (1-4 ms a region: a cold run worker spent ~20-30 ms
    of CPU on the rules of 50 contacts from 25 countries, ~14 ms after this), and Python's own
    regex cache (512 patterns) drops them again when many regions pass. Called where run workers
    are forked from, so that each starts with them."""
    phonenumbers.enable_pattern_cache()
    entries = [PhoneMetadata.metadata_for_region(r) for r in phonenumbers.SUPPORTED_REGIONS] + [
        PhoneMetadata.metadata_for_nongeo_region(c)
        for c in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    ]
    for metadata in entries:
        assert metadata is not None  # every supported region and entity has metadata
        # What parsing and validating compile: each number type's pattern, the international and
        # national prefixes, the leading digits of a calling code several regions share.
        patterns = [
            desc.national_number_pattern
            for desc in vars(metadata).values()
            if isinstance(desc, PhoneNumberDesc)
        ] + [
            metadata.international_prefix,
            metadata.national_prefix_for_parsing,
            metadata.leading_digits,
        ]
        for pattern in patterns:
            if pattern is not None:
                re_compile(pattern)
    # And parsing's own "no international prefix" pattern, which a `+` key of no calling code
    # compiles as phonenumbers reads it again without the `+`.
    parse_phone("+0123456789")


# `phonenumbers.parse` refuses a longer string, and calls fewer digits "not a number".
_MAX_KEY_CHARS = 250
_MIN_KEY_DIGITS = 3
# Below this many keys the loop is about as fast: the vectorized path costs 3-5 ms whatever the
# batch (some 40 Polars calls), phonenumbers 25-250 µs a key (its regexes are recompiled when
# numbers span more regions than Python's regex cache holds).
_MIN_VECTORIZED_KEYS = 100
# `_test_number_length` results under which `parse` keeps a stripped national prefix.
_STRIP_KEPT = [ValidationResult.IS_POSSIBLE, ValidationResult.TOO_LONG]

_PARSED_SCHEMA = pl.Schema(
    {
        "key": pl.String,
        "e164": pl.String,
        "parse_code": pl.String,
        "phone_type": pl.String,
        "phone_region": pl.String,
    }
)


def _early_code() -> pl.Expr:
    """What `parse` raises before reading the code's metadata; null if it raises none of these."""
    return (
        pl.when(pl.col("key").str.len_bytes() > _MAX_KEY_CHARS)
        .then(pl.lit(RowErrorCode.TOO_LONG))
        .when(pl.col("key").str.len_bytes() < 1 + _MIN_KEY_DIGITS)
        .then(pl.lit(RowErrorCode.TOO_SHORT))
        .when(pl.col("cc").is_null())
        .then(pl.lit(RowErrorCode.INVALID_COUNTRY_CODE))
        .when(pl.col("length") < MIN_NATIONAL_LENGTH)
        .then(pl.lit(RowErrorCode.TOO_SHORT))
    )


def _split(keys: pl.Series) -> pl.DataFrame:
    """id, key, cc (calling code), national (number), its length, and early_code."""
    code_length = pl.col("cc").str.len_bytes().fill_null(0)
    return (
        keys.to_frame("key")
        .with_row_index("id")
        .with_columns(cc=pl.col("key").str.extract(CALLING_CODE, 1))
        .with_columns(national=pl.col("key").str.slice(1 + code_length))
        .with_columns(length=pl.col("national").str.len_bytes())
        .with_columns(early_code=_early_code())
    )


def _row(national: str = "national", length: str = "length") -> pl.Expr:
    """What the compiled regexes match: `<tag>#<length>#<national>`."""
    width = pl.col(length).cast(pl.String).str.zfill(2)
    return pl.concat_str("tag", pl.lit("#"), width, pl.lit("#"), national)


def _region_rows(numbers: pl.DataFrame, regions: pl.DataFrame) -> pl.DataFrame:
    """A row per number and region of its calling code."""
    return (
        numbers.select("id", "key", "cc", "national", "length")
        .join(regions, on="cc")
        .with_columns(row=_row())
    )


def _strip_national_prefix(main: pl.DataFrame, rules: BatchRules) -> pl.DataFrame:
    """The main region's rows with `national` as `parse` leaves it, `left` marking the numbers
    left to `parse_phone`: those a transform rule would rewrite (or that nothing would be left of).
    """
    matched = pl.col("row").str.contains(rules.national_prefix)
    main = main.with_columns(left=pl.lit(False))
    unmatched = main.filter(matched.not_())
    # Captures are slower than a match: only the few numbers that start with a prefix pay.
    header = pl.col("row").str.len_bytes() - pl.col("length")
    prefix = pl.col("row").str.extract(rules.national_prefix, 1).str.len_bytes() - header
    prefixed = main.filter(matched).with_columns(prefix=prefix)
    if prefixed.is_empty():
        return unmatched
    plain = (pl.col("prefix") > 0) & pl.col("plain_prefix")
    # An empty match keeps the number unless a transform rule's last group took part in it.
    transformed = pl.col("plain_prefix").not_() & (
        (pl.col("prefix") > 0) | pl.col("empty_prefix_kept").not_()
    )
    return pl.concat(
        [
            unmatched,
            prefixed.filter(plain.not_()).with_columns(left=transformed).drop("prefix"),
            _strip_plainly(prefixed.filter(plain), rules)
            .with_columns(left=pl.col("prefix") == pl.col("length"))
            .drop("prefix"),
        ]
    )


def _strip_plainly(main: pl.DataFrame, rules: BatchRules) -> pl.DataFrame:
    """`_maybe_strip_national_prefix_carrier_code` without a transform rule removes the match
    unless the number was viable (its general pattern matches) and what is left is not; `parse`
    keeps what is left if that length is possible or too long (for the general description).

    A rest longer than 17 digits is not looked up: kept or not, `parse` finds it too long.
    """
    results = rules.length_results.rename({"length": "rest_length", "result": "rest_result"})
    viable = pl.col("row").str.contains(rules.viable)
    viable_rest = pl.col("rest_row").str.contains(rules.viable)
    take = (viable_rest | viable.not_()) & pl.col("rest_result").is_in(_STRIP_KEPT).fill_null(False)
    return (
        main.with_columns(
            rest=pl.col("national").str.slice(pl.col("prefix")),
            rest_length=pl.col("length") - pl.col("prefix"),
        )
        .with_columns(rest_row=_row("rest", "rest_length"))
        .join(results, on=["cc", "rest_length"], how="left")
        .with_columns(
            national=pl.when(take).then("rest").otherwise("national"),
            length=pl.when(take).then("rest_length").otherwise("length"),
        )
        .with_columns(row=_row())
        .select(main.columns)
    )


def _lead(rules: BatchRules) -> pl.Expr:
    """The row's region has leading digits and the number starts with them."""
    return pl.col("has_leading") & pl.col("row").str.contains(rules.leading)


def _number_types(valid: pl.DataFrame, rules: BatchRules) -> pl.DataFrame:
    """id and phone_type (`_number_type_helper`) of valid numbers, given their picked region's
    rows: the first description in its order that matches, fixed line and mobile both being
    `fixed_line_or_mobile`.

    Most numbers are fixed lines or mobiles, so one regex of the other descriptions sets aside
    the few that need each of them tried in order; of the rest, a number that is no fixed line is
    a mobile (it is valid), and only fixed lines are tried as mobiles.
    """
    matches = {name: pl.col("row").str.contains(rules.type_descs[name]) for name in SPECIAL_TYPES}
    special = pl.col("row").str.contains(rules.special_types)
    fixed_line = pl.col("row").str.contains(rules.type_descs["fixed_line"])
    mobile = pl.col("row").str.contains(rules.type_descs["mobile"])
    common = valid.filter(special.not_()).with_columns(fixed=fixed_line)
    return pl.concat(
        [
            # Each is null unless it matches, so the first non-null is the first match in order.
            valid.filter(special).select(
                "id",
                phone_type=pl.coalesce(
                    *(pl.when(match).then(pl.lit(name)) for name, match in matches.items())
                ),
            ),
            common.filter("fixed").select(
                "id",
                phone_type=pl.when(mobile)
                .then(pl.lit("fixed_line_or_mobile"))
                .otherwise(pl.lit("fixed_line")),
            ),
            common.filter(pl.col("fixed").not_()).select("id", phone_type=pl.lit("mobile")),
        ]
    )


def _valid(rules: BatchRules) -> pl.Expr:
    """The number is valid for the row's region (`_number_type_helper` finds a type). Rows
    sorted by region (`rank`) make it faster: the lazy DFA needs one region's states at a time."""
    return pl.col("row").str.contains(rules.general) & pl.col("row").str.contains(rules.types)


_PICKED_COLUMNS = ["id", "valid", "region", "row"]
# `region_code_for_number` picks the first region, in order, whose leading digits match or,
# having none, that validates the number.
_PICKED = pl.when("has_leading").then("lead").otherwise("valid")


def _validity(main: pl.DataFrame, rules: BatchRules) -> pl.DataFrame:
    """id, valid (`is_valid_number`), and the picked region's region and row, of the numbers
    whose main region's rows `main` holds.

    Other regions sharing a code are tried only for the numbers the main one does not pick, and
    only up to the first whose leading digits match (picked if no region before it was).
    """
    main = main.sort("rank").with_columns(lead=_lead(rules), valid=_valid(rules))
    picked = main.filter(_PICKED).select(_PICKED_COLUMNS)
    others = _region_rows(main.filter(_PICKED.not_()), rules.other_regions)
    if others.is_empty():
        return picked
    first_lead = pl.when("lead").then("pos").min().over("id")
    candidates = others.with_columns(lead=_lead(rules)).filter(
        pl.when("has_leading")
        .then(pl.col("pos") == first_lead)
        .otherwise((pl.col("pos") < first_lead).fill_null(True))
    )
    chosen = (
        candidates.sort("rank")
        .with_columns(valid=_valid(rules))
        .filter(_PICKED)
        .group_by("id")
        .agg(pl.col(_PICKED_COLUMNS[1:]).sort_by("pos").first())
    )
    return pl.concat([picked, chosen])


def decide_phones(keys: pl.Series) -> pl.DataFrame:
    """`parse_phone` of the distinct `+digits` keys it can decide exactly: key, e164, parse_code,
    phone_type, phone_region.

    Left for `parse_phone`: a key whose national prefix a transform rule would rewrite, and a key
    of a calling code whose metadata uses a regex construct not ported (none in phonenumbers 9.0).
    """
    split = _split(keys)
    rules = batch_rules(frozenset(split["cc"].drop_nulls().unique().to_list()))
    main = _region_rows(split.filter(pl.col("early_code").is_null()), rules.main_regions)
    main = _strip_national_prefix(main, rules).filter(pl.col("left").not_())
    too_long = main.filter(pl.col("length") > MAX_NATIONAL_LENGTH)
    main = main.filter(pl.col("length") <= MAX_NATIONAL_LENGTH)
    # An invalid number's code says why: its length (`is_possible_number_with_reason`).
    validity = _validity(main, rules)
    # Only valid numbers have a type: the type regexes run over their picked region's rows.
    valid = validity.filter("valid")
    typed = valid.select("id", "region").join(_number_types(valid, rules), on="id")
    judged = (
        main.select("id", "key", "cc", "national", "length")
        .join(validity.select("id", "valid"), on="id", how="left")
        .join(typed, on="id", how="left")
        .join(rules.length_results, on=["cc", "length"], how="left")
        .select(
            "key",
            e164=pl.when("valid").then(pl.concat_str(pl.lit("+"), "cc", "national")),
            parse_code=pl.when(pl.col("valid").not_().fill_null(True)).then(
                pl.col("result").replace_strict(_INVALID, return_dtype=pl.String)
            ),
            phone_type="phone_type",
            phone_region="region",
        )
    )
    return pl.concat(
        [
            split.filter(pl.col("early_code").is_not_null()).select(
                "key", e164=pl.lit(None, pl.String), parse_code="early_code"
            ),
            too_long.select(
                "key", e164=pl.lit(None, pl.String), parse_code=pl.lit(RowErrorCode.TOO_LONG)
            ),
            judged,
        ],
        how="diagonal_relaxed",
    ).cast(_PARSED_SCHEMA)


def parse_phones(keys: pl.Series) -> pl.DataFrame:
    """`_PARSED_SCHEMA` of distinct `+digits` keys: `decide_phones` where it is exact,
    `parse_phone` for the rest (and for all of a small batch)."""
    if keys.len() >= _MIN_VECTORIZED_KEYS:
        decided = decide_phones(keys)
        keys = keys.filter(keys.is_in(decided["key"]).not_())
    else:
        decided = pl.DataFrame(schema=_PARSED_SCHEMA)
    return pl.concat([decided, parse_one_by_one(keys)])


def parse_one_by_one(keys: pl.Series, country: str | None = None) -> pl.DataFrame:
    """`_PARSED_SCHEMA` of distinct keys, by `parse_phone` in a loop: the `+digits` keys
    `decide_phones` leaves, or digit strings written without `+`, read for `country` (not
    vectorized: a national number's reading depends on the country's prefixes and on whether it
    starts with the calling code)."""
    rest = keys.to_list()
    results = [parse_phone(key, country) for key in rest]
    return pl.DataFrame(
        [(key, *parsed) for key, parsed in zip(rest, results, strict=True)],
        schema=_PARSED_SCHEMA,
        orient="row",
    )


def check_phones(raw: pl.Series, default_country: str | None = None) -> pl.DataFrame:
    """E.164 numbers with their phone_type and phone_region, or an error, for each string in
    `raw` (nulls pass through). A number without `+` is `missing_plus`, or with
    `default_country` read as dialled in that country.

    Shapes are checked on distinct raw values and each distinct `+digits` key is parsed once (by
    `decide_phones` where it is exact, else phonenumbers), so a number repeated or written two
    ways is parsed once.
    """
    trimmed = pl.col("raw").str.strip_chars()
    international = trimmed.str.starts_with("+")
    digits = trimmed.str.replace_all("[^0-9]", "")
    shapes = (
        raw.unique()
        .drop_nulls()
        .to_frame("raw")
        .with_columns(
            # A national number's key has no +: the two kinds of keys never meet.
            key=pl.when(international).then(pl.lit("+") + digits).otherwise(digits),
            shape_code=pl.when(trimmed == "")
            .then(pl.lit(RowErrorCode.EMPTY))
            .when(~trimmed.str.contains(PHONE_SHAPE))
            .then(pl.lit(RowErrorCode.INVALID_FORMAT))
            .when(~international & pl.lit(default_country is None))
            .then(pl.lit(RowErrorCode.MISSING_PLUS)),
        )
    )
    keys = shapes.filter(pl.col("shape_code").is_null())["key"].unique()
    parsed = parse_phones(keys.filter(keys.str.starts_with("+")))
    if default_country is not None:
        national = parse_one_by_one(keys.filter(~keys.str.starts_with("+")), default_country)
        parsed = pl.concat([parsed, national])
    # A malformed raw value may share its key with a well-formed one: it gets no number.
    shaped = pl.col("shape_code").is_null()
    by_raw = shapes.join(parsed, on="key", how="left").select(
        "raw",
        pl.when(shaped).then("e164").alias("value"),
        pl.coalesce("shape_code", "parse_code").alias("code"),
        pl.when(shaped).then("phone_type").alias("phone_type"),
        pl.when(shaped).then("phone_region").alias("phone_region"),
    )
    return (
        raw.to_frame("raw")
        .join(by_raw, on="raw", how="left", maintain_order="left")
        .select(
            "value",
            "code",
            pl.col("code").replace_strict(PHONE_MESSAGES, default=None).alias("message"),
            "phone_type",
            "phone_region",
        )
        .cast(PHONE_CHECK_SCHEMA)
    )

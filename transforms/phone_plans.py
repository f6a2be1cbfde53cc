"""phonenumbers' own metadata compiled into a few regexes that Polars runs over a batch of keys.

For a key of "+" and ASCII digits, `phonenumbers.parse(key, None)` then `is_valid_number` do:
take the first 1, 2 or 3 digits that are a known calling code; strip a national prefix if the
code's main region has a `national_prefix_for_parsing` that matches; pick the region among those
sharing the code (the first whose leading digits match or, for a region without leading digits,
that validates the number); validate against that region's general description and those of the
number types (a possible length and a pattern each). Each region's rules become regex fragments
over `<tag>#<length>#<national number>`: `tag` names the region's metadata and `length` is the
national number's, in two digits, so one regex holds each description's lengths beside its
pattern.

The fragments of a batch's calling codes are joined into one regex per rule kind: Polars keeps
only 32 compiled regexes per thread, so per-code patterns would be compiled again on every batch
(~0.5 ms each), and the world's in one would cost every process ~65 ms and ~40 MiB to compile.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberDesc
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# The national number lengths `parse` accepts (`_MIN_LENGTH_FOR_NSN`, `_MAX_LENGTH_FOR_NSN`).
MIN_NATIONAL_LENGTH = 2
MAX_NATIONAL_LENGTH = 17

# The descriptions `_number_type_helper` tries after the general one, in its order (mobile last,
# and only unless its pattern is the fixed-line one): a number matching any of them is valid,
# and the first it matches is its type (fixed line and mobile both: `fixed_line_or_mobile`).
TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
# Those tried before fixed line: rarer, and any of them takes precedence.
SPECIAL_TYPES = TYPE_DESCS[: TYPE_DESCS.index("fixed_line")]

# Metadata patterns use only digits, classes, groups, alternation, repeats and `$` (in national
# prefixes), which Python's re and Rust's regex read the same way on ASCII digits. A calling code
# with any other token (look-around, flags, `.`, negated classes...) is left to phonenumbers.
_PORTABLE = re.compile(r"(?:\(\?:|\\d|[0-9()\[\]{},|?*+$-])*")


def _portable(pattern: str) -> bool:
    return _PORTABLE.fullmatch(pattern) is not None and "{," not in pattern


@dataclass(frozen=True)
class RegionRules:
    """One region's validation rules as regex fragments over `<tag>#<length>#<number>`."""

    tag: str
    # `region_code_for_number` of the numbers this region validates (`001`: non-geographic).
    region: str
    # Prefix-matched; None for a region picked only by validating the number.
    leading: str | None
    # Full-matched; None if the region has no general pattern (nothing is valid there).
    general: str | None
    # Full-matched, by number type (`TYPE_DESCS`) for those that have a pattern. A region whose
    # mobile pattern is the fixed-line one has the fixed-line fragment as mobile too: a fixed
    # line there is `fixed_line_or_mobile`, as `_number_type_helper` says without trying mobile.
    types: dict[str, str]


@dataclass(frozen=True)
class NationalPrefix:
    """How `parse` strips the main region's `national_prefix_for_parsing`."""

    # Prefix-matched, group 1 the whole match.
    pattern: str
    # Full-matched: the general pattern, any length (`_match_national_number`).
    viable: str
    # No transform rule: `parse` removes the match itself (if the rest is viable and possible).
    plain: bool
    # An empty match leaves the number as it is: always without a transform rule; with one, if
    # the rule's last group stays out of it. Without `$` in the pattern, an empty match takes the
    # same path for every number as for the empty string, so matching "" tells.
    empty_kept: bool


@dataclass(frozen=True)
class CountryRules:
    """A calling code's regions, in the order `region_code_for_number` tries them."""

    code: str
    regions: tuple[RegionRules, ...]
    national_prefix: NationalPrefix | None
    # `is_possible_number_with_reason` of a national number, by its length (1 to 17).
    length_results: dict[int, int]


def _lengths(lengths: tuple[int, ...]) -> str:
    """The `<length>` part of a fragment (two digits): any length if the description lists none."""
    return "(?:" + "|".join(f"{length:02d}" for length in lengths) + ")" if lengths else "[0-9]+"


def _desc_fragment(tag: str, desc: PhoneNumberDesc | None) -> str | None:
    """`_is_number_matching_desc`: the length is a possible one and the pattern matches."""
    if desc is None or not desc.national_number_pattern:
        return None
    return f"{tag}#{_lengths(desc.possible_length)}#(?:{desc.national_number_pattern})"


def _region_rules(code: int, region: str, *, shared: bool) -> RegionRules | None:
    """`shared`: other regions have the code, so leading digits may pick this one. None if the
    region has no metadata or a pattern that is not portable."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None:
        return None
    tag = f"{code}/{region}"
    descs = {name: getattr(metadata, name) for name in TYPE_DESCS}
    if metadata.same_mobile_and_fixed_line_pattern:
        descs["mobile"] = metadata.fixed_line
    leading = metadata.leading_digits if shared else None
    patterns = [
        desc.national_number_pattern
        for desc in (metadata.general_desc, *descs.values())
        if desc is not None
    ]
    if not all(_portable(pattern) for pattern in [*patterns, leading] if pattern):
        return None
    return RegionRules(
        tag=tag,
        region=region,
        leading=f"{tag}#[0-9]+#(?:{leading})" if leading else None,
        general=_desc_fragment(tag, metadata.general_desc),
        types={
            name: fragment
            for name, desc in descs.items()
            if (fragment := _desc_fragment(tag, desc))
        },
    )


def _national_prefix(tag: str, metadata: PhoneMetadata) -> NationalPrefix | None:
    """The main region's prefix rule, None if it has none."""
    pattern = metadata.national_prefix_for_parsing
    if not pattern:
        return None
    general = metadata.general_desc and metadata.general_desc.national_number_pattern
    plain = not metadata.national_prefix_transform_rule
    empty = re.match(pattern, "")
    return NationalPrefix(
        pattern=f"{tag}#[0-9]+#(?:{pattern})",
        # No general pattern: nothing is viable (`-` starts no row).
        viable=f"{tag}#[0-9]+#(?:{general})" if general else "-",
        plain=plain,
        empty_kept=plain
        or ("$" not in pattern and (empty is None or empty.group(empty.re.groups) is None)),
    )


def _length_result(code: int, length: int) -> int:
    """Only the national number's length decides it, so any digits of that length will do."""
    number = PhoneNumber(country_code=code, national_number=int("1" * length))
    return int(phonenumbers.is_possible_number_with_reason(number))


@functools.cache
def country_rules(code: int) -> CountryRules | None:
    """The rules of a calling code, or None if one of its patterns is not portable."""
    regions = COUNTRY_CODE_TO_REGION_CODE[code]
    rules = [_region_rules(code, region, shared=len(regions) > 1) for region in regions]
    main = PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
    if main is None or None in rules:
        return None
    prefix = main.national_prefix_for_parsing
    if prefix and not _portable(prefix):
        return None
    return CountryRules(
        code=str(code),
        regions=tuple(rule for rule in rules if rule is not None),
        national_prefix=_national_prefix(f"{code}/{regions[0]}", main),
        length_results={
            length: _length_result(code, length) for length in range(1, MAX_NATIONAL_LENGTH + 1)
        },
    )


# Every calling code, shorter ones first.
_CODES = sorted(COUNTRY_CODE_TO_REGION_CODE, key=lambda code: (len(str(code)), code))
# Group 1 is the key's calling code: shorter codes come first, so the first 1, 2 or 3 digits that
# are a code win, as in `_extract_country_code` (a leftmost-first regex prefers the first
# alternative that matches, as Python's does).
CALLING_CODE = r"^\+(" + "|".join(str(code) for code in _CODES) + ")"


@dataclass(frozen=True)
class BatchRules:
    """The rules of a batch's calling codes (those portable), one regex per rule kind."""

    # The main region of each code (pos 0) and the others: cc, pos (the region's place among
    # those sharing cc), tag, region, has_leading, plain_prefix, empty_prefix_kept, and rank
    # (its place among all, to sort rows by).
    main_regions: pl.DataFrame
    other_regions: pl.DataFrame
    # cc, length, result (`is_possible_number_with_reason` of a national number that long).
    length_results: pl.DataFrame
    leading: str
    general: str
    # Any number type's description (`is_valid_number` given the general one).
    types: str
    # One per number type, in `TYPE_DESCS` order (`_number_type_helper` given a valid number).
    type_descs: dict[str, str]
    # Any of `SPECIAL_TYPES`.
    special_types: str
    national_prefix: str
    viable: str


def _any_of(fragments: list[str], *, full: bool, group: bool = False) -> str:
    """One regex trying every fragment; `(?-u)` makes \\d ASCII, all a key can hold anyway."""
    joined = "|".join(fragments) or "-"  # `-` starts no row
    return "(?-u)^" + ("(" if group else "(?:") + joined + ")" + ("$" if full else "")


def _regions_frame(plans: list[CountryRules]) -> pl.DataFrame:
    rows = []
    for plan in plans:
        prefix = plan.national_prefix
        for pos, region in enumerate(plan.regions):
            plain = prefix is None or prefix.plain
            kept = prefix is None or prefix.empty_kept
            rows.append(
                (plan.code, pos, region.tag, region.region, region.leading is not None, plain, kept)
            )
    schema = {
        "cc": pl.String,
        "pos": pl.UInt8,
        "tag": pl.String,
        "region": pl.String,
        "has_leading": pl.Boolean,
        "plain_prefix": pl.Boolean,
        "empty_prefix_kept": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema, orient="row").with_row_index("rank")


@functools.lru_cache(maxsize=256)
def batch_rules(codes: frozenset[str]) -> BatchRules:
    """The rules of these calling codes, joined: compiled for the codes a batch holds, not the
    world's ~250 (~65 ms and ~40 MiB of automata per process, against a few ms for a batch of a
    dozen countries). The same codes give the same regexes, which Polars keeps compiled."""
    plans = [plan for code in _CODES if str(code) in codes and (plan := country_rules(code))]
    regions = [region for plan in plans for region in plan.regions]
    prefixes = [plan.national_prefix for plan in plans if plan.national_prefix]
    frame = _regions_frame(plans)
    return BatchRules(
        main_regions=frame.filter(pl.col("pos") == 0),
        other_regions=frame.filter(pl.col("pos") > 0),
        length_results=pl.DataFrame(
            [
                (plan.code, length, result)
                for plan in plans
                for length, result in plan.length_results.items()
            ],
            schema={"cc": pl.String, "length": pl.UInt32, "result": pl.Int64},
            orient="row",
        ),
        leading=_any_of([region.leading for region in regions if region.leading], full=False),
        general=_any_of([region.general for region in regions if region.general], full=True),
        types=_any_of(
            list(
                dict.fromkeys(fragment for region in regions for fragment in region.types.values())
            ),
            full=True,
        ),
        type_descs={
            name: _any_of(
                [region.types[name] for region in regions if name in region.types], full=True
            )
            for name in TYPE_DESCS
        },
        special_types=_any_of(
            [
                region.types[name]
                for region in regions
                for name in SPECIAL_TYPES
                if name in region.types
            ],
            full=True,
        ),
        national_prefix=_any_of([prefix.pattern for prefix in prefixes], full=False, group=True),
        viable=_any_of([prefix.viable for prefix in prefixes], full=True),
    )

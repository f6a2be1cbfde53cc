"""Run tags: how an import's runs are found, and where a run leaves its final counts."""

from __future__ import annotations

from collections.abc import Mapping

IMPORT_ID = "oliai/import_id"
ORG_ID = "oliai/org_id"
COUNTS_PREFIX = "oliai/count_"
COUNT_FIELDS = ("total", "created", "updated", "failed", "errorCount")


def count_tags(counts: Mapping[str, int]) -> dict[str, str]:
    return {COUNTS_PREFIX + field: str(counts[field]) for field in COUNT_FIELDS}


def counts_from_tags(tags: Mapping[str, str]) -> dict[str, int] | None:
    """The counts a finished run recorded, or None if it recorded none (it failed first)."""
    try:
        return {field: int(tags[COUNTS_PREFIX + field]) for field in COUNT_FIELDS}
    except (KeyError, ValueError):
        return None

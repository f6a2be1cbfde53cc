"""The one grammar of organization ids, checked wherever an id enters (the `oliai` commands, the
control store creating an organization) and again by every path built from one (the landing
zone), so that an id can never name a directory outside its own.

1 to 63 characters of lowercase ASCII letters, digits, `-` and `_`, the first a letter or a
digit: no `/`, `.` or `\\` (so no `..`), no whitespace, no uppercase twin of another id.
"""

from __future__ import annotations

import re

ORG_ID_PATTERN = "[a-z0-9][a-z0-9_-]{0,62}"
ORG_ID_RULE = (
    f"1 to 63 characters of a-z, 0-9, '-' and '_', starting with a letter or a digit "
    f"({ORG_ID_PATTERN})"
)
_ORG_ID = re.compile(ORG_ID_PATTERN)


class InvalidOrgId(ValueError):
    """An organization id off the grammar; the message names the rule."""

    def __init__(self, org_id: str) -> None:
        super().__init__(f"{org_id!r} is not a valid organization id: {ORG_ID_RULE}.")
        self.org_id = org_id


def valid_org_id(org_id: str) -> str:
    """`org_id` itself if it follows the grammar; raises InvalidOrgId otherwise."""
    if not isinstance(org_id, str) or _ORG_ID.fullmatch(org_id) is None:
        raise InvalidOrgId(org_id)
    return org_id

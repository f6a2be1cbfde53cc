"""CSV cells a spreadsheet would run as a formula (CWE-1236) get a leading apostrophe.

Only cells that echo what a client sent (a row error's `value`) are at risk. A cell starting with
`=`, `@`, tab or CR is escaped; one starting with `+` or `-` too, unless it looks like a phone
number or a plain number (digits, spaces, brackets, dots, dashes), so `+91 98765 43210` stays as
it was sent. One rule, for Python values and Polars columns alike.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

RISKY_START = r"[=+\-@\t\r]"
NUMBER_LIKE = r"[+\-][0-9 ().\-]*"  # the whole cell
_RISKY_START = re.compile(RISKY_START)
_NUMBER_LIKE = re.compile(NUMBER_LIKE)


def spreadsheet_safe(value: str) -> str:
    if _RISKY_START.match(value) and not _NUMBER_LIKE.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_safe_column(name: str) -> pl.Expr:
    import polars as pl  # here: the client side (`oliai import`) needs only `spreadsheet_safe`

    column = pl.col(name)
    # Rust's `$` is the end of the text, as `fullmatch` is (Python's `$` also matches before a
    # final newline).
    risky = column.str.contains(f"^{RISKY_START}") & ~column.str.contains(f"^{NUMBER_LIKE}$")
    return pl.when(risky).then(pl.lit("'") + column).otherwise(column).alias(name)

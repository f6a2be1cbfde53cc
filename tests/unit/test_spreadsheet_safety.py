"""One formula-escaping rule for CSV cells, in Python and in Polars."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.spreadsheet_safety import spreadsheet_safe, spreadsheet_safe_column

CASES = {
    "=1+2": "'=1+2",
    '=HYPERLINK("http://x.test")': '\'=HYPERLINK("http://x.test")',
    "@SUM(A1)": "'@SUM(A1)",
    "\t=1": "'\t=1",
    "\r=1": "'\r=1",
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "+1 (415) 555-2671": "+1 (415) 555-2671",
    "+91 98765": "+91 98765",
    "-12.5": "-12.5",
    "-": "-",
    "Priya": "Priya",
    "": "",
    "a=1": "a=1",
    "+1\n": "'+1\n",
}


@pytest.mark.parametrize(("value", "expected"), CASES.items())
def test_cells_a_spreadsheet_would_run_get_an_apostrophe(value: str, expected: str) -> None:
    assert spreadsheet_safe(value) == expected


def test_the_polars_column_follows_the_same_rule() -> None:
    frame = pl.DataFrame({"value": [*CASES, None]})
    escaped = frame.select(spreadsheet_safe_column("value"))["value"].to_list()
    assert escaped == [*CASES.values(), None]


@given(st.text(alphabet=st.sampled_from("=+-@\t\r\n 0123456789().a|")) | st.text())
def test_python_and_polars_agree_on_any_text(value: str) -> None:
    column = pl.DataFrame({"value": [value]}).select(spreadsheet_safe_column("value"))
    assert column.item() == spreadsheet_safe(value)

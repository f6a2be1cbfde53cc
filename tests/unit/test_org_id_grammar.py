"""The organization id grammar (`core.contracts.org_ids`) and the path builder that relies on it:
a landing path is only ever built from an id that passes the grammar."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.contracts.org_ids import ORG_ID_PATTERN, InvalidOrgId, valid_org_id
from core.landing import land_request, landing_path

# Every org id the tests, the benchmarks and the demo use: they must stay valid.
USED = [
    "demo",
    "org_acme",
    "org_globex",
    "org_concurrency",
    "org_bench",
    "crash-api",
    "late-imports",
    "sql-cli",
    "webhooks-stack",
    "api-tenant-a-0a1b2c",
    "claims-failed-total-0a1b2c",
    "batch-dry-api-123456",
    "bench",
    "org",
    "x",
    "0",
    "a" * 63,
]
INVALID = [
    "../../escape",
    "..",
    ".",
    "",
    "A B",
    "Demo",
    "a" * 64,
    "-lead",
    "_lead",
    "org/x",
    "org\\x",
    "org\n",
    "org\x00",
    " org",
    "org.x",
    "orgé",
    "\uff4f\uff52\uff47",  # fullwidth "org"
]


@pytest.mark.parametrize("org_id", USED)
def test_the_ids_in_use_are_valid(org_id: str) -> None:
    assert valid_org_id(org_id) == org_id


@pytest.mark.parametrize("org_id", INVALID)
def test_an_id_off_the_grammar_is_refused_naming_the_rule(org_id: str) -> None:
    with pytest.raises(InvalidOrgId) as raised:
        valid_org_id(org_id)
    assert ORG_ID_PATTERN in str(raised.value)
    assert repr(org_id) in str(raised.value)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("org_id", INVALID)
def test_a_landing_path_for_an_invalid_id_raises(tmp_path: Path, org_id: str) -> None:
    landing = tmp_path / "data" / "landing"
    with pytest.raises(InvalidOrgId):
        landing_path(landing, org_id, "imp_0123456789abcdef01234567")
    with pytest.raises(InvalidOrgId):
        land_request(landing, org_id, "imp_0123456789abcdef01234567", b"{}")
    assert list(tmp_path.rglob("*")) == []


def test_a_landing_path_for_a_valid_id_stays_under_the_landing_dir(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = land_request(landing, "org_acme", "imp_0123456789abcdef01234567", b"{}")
    assert path == landing / "org_acme" / "imp_0123456789abcdef01234567.json"
    assert path.read_bytes() == b"{}"

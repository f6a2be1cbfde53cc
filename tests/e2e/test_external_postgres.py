"""`oliai up --postgres-url` puts everything shared on an external server, as a scaled deployment
does: Dagster's instance (schema `dagster`), the control store (`control`) and the lake's catalog
(`ducklake`); the same code as the private default, and the URL's password printed and written
nowhere (`dagster.yaml` names a variable).

The "external" server is the test session's own PostgreSQL (another process, another cluster),
reached only through the URL.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from core.settings import Settings
from core.warehouse.lake import LakeLocation
from core.warehouse.reader import query_warehouse
from tests.lake import fresh_database
from tests.stack import make_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_everything_shared_on_an_external_server(tmp_path: Path, postgres_admin_url: str) -> None:
    url = fresh_database(postgres_admin_url)
    parts = urlsplit(url)
    assert parts.password
    stack = make_stack(tmp_path / "data", extra_args=("--postgres-url", url))
    stack.start()
    try:
        response = stack.post_import({"contacts": [{"name": "Ann", "phoneNumber": "+14155550100"}]})
        assert response.status_code == 202, response.text
        status = stack.wait_for_terminal(response.json()["importId"])
        assert status["status"] == "COMPLETED"
        lake = LakeLocation(url, Settings(data_dir=stack.data_dir).resolved_lake_data_path)
        rows = query_warehouse(lake, "SELECT name FROM contacts").to_dicts()
        with psycopg.connect(url) as con:
            stored = con.execute(
                "SELECT (SELECT count(*) FROM dagster.runs), (SELECT count(*) FROM control.imports)"
            ).fetchone()
    finally:
        stack.stop()
    assert rows == [{"name": "Ann"}]
    assert stored == (1, 1)  # the import's run and its row, both on the external server
    banner = "".join(stack.output)
    assert f"PostgreSQL: external server {parts.hostname}:{parts.port}{parts.path}" in banner
    assert not (tmp_path / "data" / "postgres").exists()  # no private server was started
    written = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    leaks = [p for p in written if parts.password.encode() in p.read_bytes()]
    assert leaks == []
    assert parts.password not in banner

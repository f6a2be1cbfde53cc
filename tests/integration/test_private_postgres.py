"""The private PostgreSQL server under a data directory (`core/private_postgres.py`): made once,
loopback only with a password, its data and its port kept across restarts, stopped by PID."""

from __future__ import annotations

import os
import pwd
import socket
import stat
from pathlib import Path

import psycopg
import pytest

from core.private_postgres import PrivatePostgres, serving, stop

pytestmark = pytest.mark.integration


def test_a_server_is_made_once_and_keeps_its_data_and_port(tmp_path: Path) -> None:
    server = PrivatePostgres(tmp_path / "data" / "postgres")
    process, url = server.start()
    try:
        assert url.startswith("postgresql://oliai:")
        assert "@127.0.0.1:" in url
        assert server.running_url() == url
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE TABLE kept (n int)")
            con.execute("INSERT INTO kept VALUES (7)")
            settings = {
                name: con.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                for name in ("listen_addresses", "unix_socket_directories", "password_encryption")
            }
        assert settings == {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "password_encryption": "scram-sha-256",
        }
    finally:
        stop(process)
    assert process.returncode is not None
    assert server.running_url() is None

    process, again = server.start()
    try:
        assert again == url  # same password, same port
        with psycopg.connect(again) as con:
            assert con.execute("SELECT n FROM kept").fetchall() == [(7,)]
    finally:
        stop(process)
    assert stat.S_IMODE(server.password_file.stat().st_mode) == 0o600


def test_a_wrong_password_is_refused(tmp_path: Path) -> None:
    server = PrivatePostgres(tmp_path / "postgres")
    with serving(server.root) as url:
        wrong = url.replace(server.password_file.read_text().strip(), "not-the-password")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong, connect_timeout=5)


def test_a_taken_port_gives_a_new_one_that_is_kept(tmp_path: Path) -> None:
    server = PrivatePostgres(tmp_path / "postgres")
    with serving(server.root):
        first = int(server.port_file.read_text())
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        with serving(server.root) as url:
            second = int(server.port_file.read_text())
            assert f":{second}/" in url
    assert second != first
    with serving(server.root) as url:
        assert f":{second}/" in url


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: PostgreSQL refuses to run as root")
def test_as_root_the_cluster_belongs_to_the_system_user(tmp_path: Path) -> None:
    server = PrivatePostgres(tmp_path / "postgres")
    with serving(server.root):
        owner = server.cluster.stat().st_uid
    assert pwd.getpwuid(owner).pw_name == "embedded_postgres"
    assert server.password_file.stat().st_uid == 0

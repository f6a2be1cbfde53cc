"""How each long-running process of the stack is started: the same command line whether
`oliai up` supervises it on one machine or a host of a deployment runs it alone (`oliai serve`).

The processes share only the PostgreSQL server and the data paths: the webserver and the daemon
find the code server by address (a Unix socket, or host:port across hosts), the API finds the
webserver by URL (`OLIAI_DAGSTER_URL`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.contracts import LOCATION_NAME
from core.files import write_if_changed

API_APP_FACTORY = "api.asgi:create_asgi_app"  # uvicorn imports the server by name: no import here
# uvicorn's HTTP/1.1 protocol, answering unparsable requests with a problem document.
API_HTTP_PROTOCOL = "api.server_protocol:ProblemH11Protocol"


@dataclass(frozen=True)
class CodeServerAddress:
    """Where the code server listens: a Unix socket on this machine, or host:port."""

    socket: Path | None = None
    host: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> CodeServerAddress:
        """`HOST:PORT`, or the path of a Unix socket (anything else)."""
        host, _, port = text.rpartition(":")
        if host and port.isdigit():
            return cls(host=host.strip("[]"), port=int(port))
        return cls(socket=Path(text))

    @property
    def grpc_target(self) -> str:
        return f"unix:{self.socket}" if self.socket else f"{self.host}:{self.port}"

    def workspace_entry(self) -> dict[str, object]:
        if self.socket is not None:
            return {"socket": str(self.socket), "location_name": LOCATION_NAME}
        return {"host": self.host, "port": self.port, "location_name": LOCATION_NAME}


def write_workspace(dagster_home: Path, role: str, code_server: CodeServerAddress) -> Path:
    """A workspace that loads the location from the code server instead of spawning one; one file
    per role, written atomically (a shared data directory may hold several hosts' processes)."""
    path = dagster_home / f"workspace-{role}.yaml"
    text = yaml.safe_dump({"load_from": [{"grpc_server": code_server.workspace_entry()}]})
    write_if_changed(path, text)
    return path


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def webserver_command(workspace: Path, host: str, port: int) -> list[str]:
    return [_bin("dagster-webserver"), "-w", str(workspace), "-h", host, "-p", str(port)]


def api_command(host: str, port: int) -> list[str]:
    """One API process (a replica, when several run over the same PostgreSQL and data paths)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        API_APP_FACTORY,
        "--factory",
        "--http",
        API_HTTP_PROTOCOL,
        "--host",
        host,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def serve_command(role: str, *options: str) -> list[str]:
    """`oliai serve ROLE …`: how `oliai up` starts each of its children."""
    return [_bin("oliai"), "serve", role, *options]

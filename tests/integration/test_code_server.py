"""`oliai up` serves the code location from one code server whose run workers fork warm.

The webserver and the daemon load the location from that server (no code server of their own),
and its forkserver has imported the run's libraries before any import arrives.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
import yaml

from tests.integration.api_support import BULK, SEED_BODY
from tests.stack import Stack

pytestmark = pytest.mark.integration

# Shared libraries only a process that imported the code location has mapped.
CODE_LOCATION_LIBRARIES = ("polars", "duckdb")


def _cmdline(process: psutil.Process) -> str:
    return " ".join(process.cmdline())


def _children_by_name(stack: Stack) -> dict[str, psutil.Process]:
    """`oliai up`'s children, by the name its logs use."""
    assert stack.process is not None
    children = psutil.Process(stack.process.pid).children()
    names = ("code-server", "dagster-webserver", "dagster-daemon")
    return {name: p for p in children for name in names if name in _cmdline(p)}


def test_webserver_and_daemon_use_the_one_code_server(stack: Stack) -> None:
    children = _children_by_name(stack)
    assert set(children) == {"code-server", "dagster-webserver", "dagster-daemon"}
    for name in ("dagster-webserver", "dagster-daemon"):
        own_servers = [
            _cmdline(p)
            for p in children[name].children(recursive=True)
            if "api grpc" in _cmdline(p) or "code-server" in _cmdline(p)
        ]
        assert own_servers == [], f"the {name} started its own code server: {own_servers}"
    workspace = yaml.safe_load((stack.data_dir / "dagster" / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    assert location["grpc_server"]["location_name"] == "oliai"
    assert Path(location["grpc_server"]["socket"]).is_socket()


def test_the_forkserver_has_the_code_location_loaded_before_a_run(stack: Stack) -> None:
    (forkserver,) = [
        p for p in _children_by_name(stack)["code-server"].children() if "forkserver" in _cmdline(p)
    ]
    maps = Path(f"/proc/{forkserver.pid}/maps").read_text()
    missing = [library for library in CODE_LOCATION_LIBRARIES if library not in maps]
    assert missing == [], f"the forkserver has not imported {missing}"

    # And an import still runs to completion through it.
    key = stack.new_org_key("warm-workers")
    with stack.client(key) as client:
        response = client.post(BULK, json=SEED_BODY)
        assert response.status_code == 202, response.text
    status = stack.wait_for_terminal(response.json()["importId"], key)
    assert status["status"] == "COMPLETED", status

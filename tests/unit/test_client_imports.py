"""The client library is light: importing every module of `client` loads no server package."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_PACKAGES = ("dagster", "litestar", "sqlalchemy", "duckdb")

CODE = """
import importlib, json, pkgutil, sys
import client
names = sorted(
    module.name for module in pkgutil.walk_packages(client.__path__, "client.")
)
for name in names:
    importlib.import_module(name)
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"modules": names, "loaded": loaded}))
"""


def test_client_modules_load_no_server_package() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout)
    assert "client.imports_client" in report["modules"]
    assert "client.batch.runner" in report["modules"]
    assert "client.batch.console" in report["modules"]
    assert not set(SERVER_PACKAGES) & set(report["loaded"])

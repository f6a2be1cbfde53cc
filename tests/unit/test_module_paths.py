"""Module paths written as strings (the code server, the instance, the supervisor, workspace.yaml,
the `oliai` script) name objects that exist: a move that forgets one fails here, not at start-up."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import yaml

from orchestration.runtime import code_server, instance, processes

ROOT = Path(__file__).resolve().parents[2]


def resolve(module: str, attribute: str | None = None) -> object:
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def test_code_server_modules_import() -> None:
    definitions = resolve(code_server.DEFINITIONS_MODULE, "defs")
    assert type(definitions).__name__ == "Definitions"
    for module in code_server.WARM_MODULES:
        resolve(module)


def test_instance_classes_resolve(tmp_path: Path) -> None:
    database = instance.InstanceDatabase("postgresql://oliai@127.0.0.1:5432/oliai", None)
    config = instance.instance_config(database, tmp_path, max_concurrent_runs=4)
    for kind in ("run_storage", "event_log_storage", "schedule_storage", "compute_logs"):
        storage = config[kind]
        assert isinstance(storage, dict)
        assert isinstance(resolve(storage["module"], storage["class"]), type)
    coordinator = config["run_coordinator"]
    assert isinstance(coordinator, dict)
    cls = resolve(coordinator["module"], coordinator["class"])
    assert isinstance(cls, type)


def test_supervisor_api_factory_resolves() -> None:
    module, _, factory = processes.API_APP_FACTORY.partition(":")
    assert callable(resolve(module, factory))
    module, _, protocol = processes.API_HTTP_PROTOCOL.partition(":")
    assert isinstance(resolve(module, protocol), type)


def test_workspace_yaml_points_at_the_definitions() -> None:
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    module = entry["python_module"]
    assert module["module_name"] == code_server.DEFINITIONS_MODULE
    assert type(resolve(module["module_name"], module["attribute"])).__name__ == "Definitions"


def test_oliai_script_entry_point_resolves() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    module, _, attribute = project["scripts"]["oliai"].partition(":")
    assert type(resolve(module, attribute)).__name__ == "Typer"

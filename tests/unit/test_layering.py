"""Imports run one way (README, folders): a test fails on an import that runs up the layers.

From the bottom: `transforms` (pure rules) and `core.contracts` (names and the status mapping)
import no other project package; `client` adds only `core.contracts`; `core` adds `transforms`;
the code location (`orchestration` but its CLI) and the server (`api`) build on those and never
on each other; `orchestration.cli` wires everything and nothing but the run worker warm-up (which
re-imports the server's main script) imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("transforms", "core", "client", "orchestration", "api")

# Who may import whom, by the importing module's layer (first matching prefix wins).
ALLOWED: list[tuple[str, tuple[str, ...]]] = [
    ("transforms", ("transforms",)),
    ("core.contracts", ("core.contracts",)),
    ("client", ("client", "core.contracts")),
    ("core", ("core", "transforms")),
    ("orchestration.cli", PACKAGES),
    ("orchestration.runtime.run_worker_warmup", ("orchestration", "core", "transforms")),
    ("orchestration", ("orchestration", "core", "transforms", "client")),
    ("api", ("api", "core", "transforms", "client")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                yield node.lineno, name


def layer_rule(module: str) -> tuple[str, tuple[str, ...]]:
    for prefix, allowed in ALLOWED:
        if module == prefix or module.startswith(prefix + "."):
            return prefix, allowed
    raise AssertionError(f"{module} belongs to no layer: add it to ALLOWED")


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


SOURCES = sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def violations(module: str, path: Path) -> list[str]:
    _, allowed = layer_rule(module)
    return [
        f"line {line}: {name}"
        for line, name in project_imports(path, module)
        if not within(name, allowed)
        or (within(name, ("orchestration.cli",)) and not within(module, ("orchestration",)))
    ]


@pytest.mark.parametrize("path", SOURCES, ids=module_name)
def test_imports_run_down_the_layers(path: Path) -> None:
    module = module_name(path)
    assert not violations(module, path), f"{module} imports up the layers"


def test_only_the_cli_and_the_warm_up_import_the_cli() -> None:
    importers = {
        module_name(path)
        for path in SOURCES
        for _, name in project_imports(path, module_name(path))
        if within(name, ("orchestration.cli",))
    }
    assert {m for m in importers if not m.startswith("orchestration.cli")} == {
        "orchestration.runtime.run_worker_warmup"
    }


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("orchestration.assets", "from api.services import ImportService\n"),
        ("transforms.names", "import core.settings\n"),
        ("client.schemas", "from core.control_store import ControlStore\n"),
        ("core.landing", "from ..api import app\n"),
        ("api.services", "from orchestration.cli import main\n"),
    ],
)
def test_the_rules_catch_an_upward_import(tmp_path: Path, module: str, source: str) -> None:
    # The check itself can fail.
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    assert violations(module, probe)

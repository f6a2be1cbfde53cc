"""The landing zone: accepted request bodies, written atomically before the 202 is sent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from core.contracts.import_options import ApplyOptions
from core.contracts.org_ids import valid_org_id
from core.files import replace_atomically
from transforms.json_text import exact_number

_REQUEST = msgspec.json.Decoder(float_hook=exact_number)


def landing_path(landing_dir: Path, org_id: str, import_id: str) -> Path:
    """`<landing dir>/<org id>/<import id>.json`. Raises InvalidOrgId for an id off the grammar
    (`core.contracts.org_ids`), even one already in a store: no id may name another directory."""
    return landing_dir / valid_org_id(org_id) / f"{import_id}.json"


def write_durably(path: Path, data: bytes) -> None:
    """Whole or nothing for readers, and on disk before we return."""
    replace_atomically(path, lambda tmp: tmp.write_bytes(data), durable=True)


def land_request(landing_dir: Path, org_id: str, import_id: str, body: bytes) -> Path:
    path = landing_path(landing_dir, org_id, import_id)
    write_durably(path, body)
    return path


@dataclass(frozen=True)
class LandedRequest:
    """What a run reads back from the landed request (its shape was validated by the API)."""

    contacts: list[dict[str, Any]]
    options: ApplyOptions


def read_landed_request(path: Path) -> LandedRequest:
    """The contacts and options of a landed request. Requests landed before an option existed
    have its default.

    Decoded with msgspec: integers beyond 64 bits stay exact, where orjson would turn them into
    floats, and numbers a float cannot hold stay exact Decimals (`transforms.json_text`).
    """
    request = _REQUEST.decode(path.read_bytes())
    return LandedRequest(contacts=request["contacts"], options=ApplyOptions.from_wire(request))

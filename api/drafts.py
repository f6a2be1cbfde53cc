"""Drafts: a file the Contacts UI uploaded for a preview, kept until it is imported or expires.

Each draft is a directory `<data dir>/drafts/<id>/` holding the file under its (safe) name and
`draft.json` (owner organization and user, the file's name, when it was stored, the options the
form was sent with). The owner is checked on every use, and an unknown, expired or foreign draft
answers the same (`DraftNotFound`), so ids reveal nothing. Expired drafts are deleted whenever a
draft is stored; an imported one at once.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DRAFT_TTL_S = 3600.0
_ID = re.compile(r"^drf_[0-9a-f]{32}$")
_META = "draft.json"


class DraftNotFound(Exception):
    """No such draft for this user: never stored, expired, imported, or someone else's."""


@dataclass(frozen=True)
class Draft:
    id: str
    org_id: str
    user_id: str
    file_name: str
    created_at: float  # seconds since the epoch
    options: dict[str, Any] = field(default_factory=dict)  # the form's, as `import_options`
    directory: Path = Path()

    @property
    def path(self) -> Path:
        return self.directory / self.file_name


class DraftStore:
    def __init__(
        self, root: Path, ttl_s: float = DRAFT_TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = root
        self.ttl_s = ttl_s
        self._clock = clock

    def create(
        self,
        *,
        org_id: str,
        user_id: str,
        file_name: str,
        options: dict[str, Any],
        write: Callable[[Path], None],
    ) -> Draft:
        """A new draft whose file `write(path)` writes (it may raise: nothing is kept)."""
        self.sweep()
        draft_id = "drf_" + secrets.token_hex(16)
        directory = self.root / draft_id
        directory.mkdir(parents=True, mode=0o700)
        draft = Draft(draft_id, org_id, user_id, file_name, self._clock(), options, directory)
        try:
            write(draft.path)
            meta = {k: v for k, v in asdict(draft).items() if k != "directory"}
            (directory / _META).write_text(json.dumps(meta), encoding="utf-8")
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return draft

    def get(self, draft_id: str, *, org_id: str, user_id: str) -> Draft:
        """The user's draft; `DraftNotFound` if it is not theirs, not there or expired."""
        draft = self._load(draft_id)
        if draft is None or (draft.org_id, draft.user_id) != (org_id, user_id):
            raise DraftNotFound(draft_id)
        if self._expired(draft):
            self.delete(draft)
            raise DraftNotFound(draft_id)
        return draft

    def delete(self, draft: Draft) -> None:
        shutil.rmtree(draft.directory, ignore_errors=True)

    def sweep(self) -> int:
        """Delete every expired draft (and any left half-written); how many."""
        if not self.root.is_dir():
            return 0
        swept = 0
        for directory in self.root.iterdir():
            draft = self._load(directory.name)
            stale = draft is None and self._clock() - directory.stat().st_mtime > self.ttl_s
            if stale or (draft is not None and self._expired(draft)):
                shutil.rmtree(directory, ignore_errors=True)
                swept += 1
        return swept

    def _expired(self, draft: Draft) -> bool:
        return self._clock() - draft.created_at > self.ttl_s

    def _load(self, draft_id: str) -> Draft | None:
        if not _ID.match(draft_id):  # never a path built from anything else
            return None
        directory = self.root / draft_id
        try:
            meta = json.loads((directory / _META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Draft(**meta, directory=directory)

"""The preview's draft store: the owner checked on each use, expiry, deletion, safe ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.drafts import DraftNotFound, DraftStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def store_one(drafts: DraftStore, data: bytes = b"name,phone\n") -> str:
    draft = drafts.create(
        org_id="acme",
        user_id="u1",
        file_name="c.csv",
        options={"mode": "createOnly"},
        write=lambda path: path.write_bytes(data),
    )
    return draft.id


def test_a_draft_is_its_owners_only(tmp_path: Path) -> None:
    drafts = DraftStore(tmp_path / "drafts")
    draft_id = store_one(drafts)
    draft = drafts.get(draft_id, org_id="acme", user_id="u1")
    assert (draft.file_name, draft.options) == ("c.csv", {"mode": "createOnly"})
    assert draft.path.read_bytes() == b"name,phone\n"
    for org_id, user_id in (("acme", "u2"), ("other", "u1")):
        with pytest.raises(DraftNotFound):
            drafts.get(draft_id, org_id=org_id, user_id=user_id)
    drafts.delete(draft)
    with pytest.raises(DraftNotFound):
        drafts.get(draft_id, org_id="acme", user_id="u1")


@pytest.mark.parametrize("draft_id", ["../drafts", "drf_" + "0" * 32, "drf_x", ""])
def test_unknown_or_malformed_ids_are_not_found(tmp_path: Path, draft_id: str) -> None:
    drafts = DraftStore(tmp_path / "drafts")
    store_one(drafts)
    with pytest.raises(DraftNotFound):
        drafts.get(draft_id, org_id="acme", user_id="u1")


def test_drafts_expire_and_are_swept(tmp_path: Path) -> None:
    clock = Clock()
    drafts = DraftStore(tmp_path / "drafts", ttl_s=3600, clock=clock)
    old = store_one(drafts)
    clock.now += 3000
    young = store_one(drafts)
    clock.now += 601  # the first is 3601 s old, the second 601 s
    with pytest.raises(DraftNotFound):
        drafts.get(old, org_id="acme", user_id="u1")
    assert not (tmp_path / "drafts" / old).exists()  # deleted when found expired
    assert drafts.get(young, org_id="acme", user_id="u1").id == young
    clock.now += 3000
    store_one(drafts)  # storing sweeps the expired
    assert not (tmp_path / "drafts" / young).exists()
    assert len(list((tmp_path / "drafts").iterdir())) == 1


def test_a_failed_write_keeps_nothing(tmp_path: Path) -> None:
    drafts = DraftStore(tmp_path / "drafts")

    def fail(_path: Path) -> None:
        raise ValueError("too large")

    with pytest.raises(ValueError, match="too large"):
        drafts.create(org_id="acme", user_id="u1", file_name="c.csv", options={}, write=fail)
    assert list((tmp_path / "drafts").iterdir()) == []

"""An import's revert as the status endpoint and the history show it: from the control store's
request and the newest `revert_import` run (found by the tag `oliai/revert_of`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar, cast

import msgspec

from api.dagster_gateway import DagsterGateway, RunView
from client.schemas import ImportStatusView, RevertView
from core.contracts import tags
from core.contracts.status import ImportStatus, import_status
from core.contracts.timestamps import Timestamp, timestamp
from core.control_store import ControlStore
from core.control_store.reverts import RevertRecord

View = TypeVar("View", bound=ImportStatusView)
# A revert run's state: an import run's mapping, its SUCCESS read as REVERTED.
RevertState = Literal["PENDING", "PROCESSING", "REVERTED", "FAILED"]


def revert_views(
    store: ControlStore, gateway: DagsterGateway, import_ids: Sequence[str]
) -> dict[str, RevertView]:
    """The reverts of those imports that have one (two queries for a page of imports)."""
    records = store.reverts.get_many(import_ids)
    runs = gateway.latest_revert_runs(list(records)) if records else {}
    return {
        import_id: _revert_view(record, runs.get(import_id))
        for import_id, record in records.items()
    }


def _revert_view(record: RevertRecord, run: RunView | None) -> RevertView:
    state = import_status(run.status if run else None, total=0, failed=0)
    done = state is ImportStatus.COMPLETED
    counts = tags.revert_counts_from_tags(run.tags) if run and done else None
    return RevertView(
        status=cast("RevertState", ImportStatus.REVERTED.value if done else state.value),
        requested_at=Timestamp.of(record.created_at),
        reverted_at=timestamp(run.end_time) if run and done else None,
        reverted=counts["reverted"] if counts else None,
        kept=counts["kept"] if counts else None,
        memberships_removed=counts["membershipsRemoved"] if counts else None,
        run_id=run.run_id if run else None,
    )


def with_revert(view: View, revert: RevertView | None) -> View:
    """The view with its revert; its status is REVERTED once the revert ran."""
    if revert is None:
        return view
    status = ImportStatus.REVERTED.value if revert.status == ImportStatus.REVERTED else view.status
    return msgspec.structs.replace(view, status=status, revert=revert)

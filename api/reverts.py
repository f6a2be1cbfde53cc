"""Reverting an import (`POST /v1/imports/{id}/revert`): the checks, the durable request, and
the contacts the revert kept. The revert itself is a `revert_import` run (orchestration), queued
behind the organization's earlier imports."""

from __future__ import annotations

from api.dagster_gateway import DagsterGateway
from api.errors import (
    ImportNotApplied,
    ImportNotEnded,
    ImportNotFound,
    NotReverted,
    OrchestratorUnavailable,
    RevertExpired,
)
from api.services import ImportService
from api.submitter import RunSubmitter
from client.schemas import ImportStatusView, KeptContact, KeptContactList
from core.contracts.status import ENDED, ImportStatus
from core.contracts.tags import counts_from_tags
from core.control_store import ControlStore
from core.warehouse.reader import LakeReader
from core.warehouse.revert import RevertBlocker


class RevertService:
    def __init__(
        self,
        imports: ImportService,
        store: ControlStore,
        gateway: DagsterGateway,
        submitter: RunSubmitter,
        lake: LakeReader,
    ) -> None:
        self._imports = imports
        self._store = store
        self._gateway = gateway
        self._submitter = submitter
        self._lake = lake

    def request(self, org_id: str, import_id: str) -> ImportStatusView:
        """Record the revert (once: a repeated request changes nothing) and wake the submitter;
        the import's status, with its revert, as it is now."""
        record = self._store.imports.get_import(org_id, import_id)
        if record is None:
            raise ImportNotFound(import_id)
        if not self._store.reverts.get_many([import_id]):
            self._check_revertible(import_id)
            if not self._gateway.reachable():
                raise OrchestratorUnavailable
            self._store.reverts.request(import_id, org_id)
            self._submitter.notify()
        return self._imports.status(org_id, import_id)

    def _check_revertible(self, import_id: str) -> None:
        run = self._gateway.latest_run(import_id)
        if run is None or run.status not in ENDED:
            raise ImportNotEnded(import_id)
        if counts_from_tags(run.run_id, run.tags) is None:
            raise ImportNotApplied(import_id)
        blocker = self._lake.revert_blocker(import_id)
        if blocker is RevertBlocker.NOT_APPLIED:
            raise ImportNotApplied(import_id)
        if blocker is RevertBlocker.SNAPSHOT_EXPIRED:
            raise RevertExpired(import_id)

    def kept_page(self, org_id: str, import_id: str, page: int, limit: int) -> KeptContactList:
        """The contacts the revert left alone, by phone number, paged."""
        view = self._imports.status(org_id, import_id)  # 404 for another organization's
        if view.status != ImportStatus.REVERTED:
            raise NotReverted(import_id)
        kept, total = self._lake.kept_contacts(import_id, (page - 1) * limit, limit)
        return KeptContactList(
            import_id=import_id,
            data=[
                KeptContact(
                    phone_number=contact.phone_number,
                    later_import_id=contact.later_import_id,
                    reason=contact.reason.value,
                )
                for contact in kept
            ],
            page=page,
            limit=limit,
            total=total,
        )

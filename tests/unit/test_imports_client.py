"""The Python client and the batch runner against an in-memory fake of the API (httpx
MockTransport): retry rules, deterministic keys, and exactly-once resumption after a crash.
The same behaviours against the real stack are in tests/integration/test_batch_import.py."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.batch.options import BatchImportOptions, ExitCode, checkpoint_path, errors_path
from client.batch.runner import BatchImporter
from client.batch.source import fingerprint, idempotency_key, scan_file
from client.imports_client import (
    ApiError,
    AsyncImportsClient,
    ImportsClient,
    PollPolicy,
    RetryNotice,
    RetryPolicy,
    encode_bulk_body,
)

FAST_POLL = PollPolicy(initial_s=0.0, factor=1.0, max_s=0.0)


class Crash(Exception):
    """Stands for the process being killed at a precise point."""


@dataclass
class FakeApi:
    """Just enough of the imports API: keys, imports that finish at the first status read,
    phones with a leading + are valid, others fail with one row error."""

    imports: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)
    # Scripted answers for the next requests: (status, headers) or an exception to raise.
    script: list[tuple[int, dict[str, str]] | Exception] = field(default_factory=list)
    crash_after_accepting: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            status, headers = step
            problem = {
                "status": status,
                "type": f"/problems/x{status}",
                "title": "t",
                "detail": "d",
            }
            return httpx.Response(status, json=problem, headers=headers)
        path = request.url.path
        if path == "/v1/imports/api/bulk":
            return self._bulk(request)
        import_id = path.split("/")[3]
        if path.endswith("/status"):
            return httpx.Response(200, json=self.imports[import_id]["status"])
        if path.endswith("/errors"):
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(["row_index", "field", "code", "message", "value"])
            writer.writerows(self.imports[import_id]["errors"])
            return httpx.Response(200, text=text.getvalue())
        return httpx.Response(404)

    def _bulk(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key in self.by_key:
            existing = self.imports[self.by_key[key]]
            assert existing["body"] == request.content, "a retried key must send the same bytes"
            return httpx.Response(202, json=existing["accepted"])
        contacts = json.loads(request.content)["contacts"]
        import_id = f"imp_{len(self.imports) + 1:04d}"
        created = updated = 0
        errors = []
        for index, contact in enumerate(contacts):
            phone = contact.get("phoneNumber", "")
            if not phone.startswith("+"):
                errors.append([index, "phoneNumber", "missing_plus", "needs +", phone])
            elif phone in self.phones:
                updated += 1
            else:
                self.phones.add(phone)
                created += 1
        failed = len(errors)
        accepted = {"importId": import_id, "status": "PENDING", "total": len(contacts)}
        self.imports[import_id] = {
            "body": request.content,
            "accepted": accepted,
            "errors": errors,
            "status": {
                "id": import_id,
                "status": "COMPLETED_WITH_ERRORS" if failed else "COMPLETED",
                "total": len(contacts),
                "created": created,
                "updated": updated,
                "failed": failed,
                "errorCount": failed,
                "skipped": 0,
                "completedAt": "2026-03-10T10:05:00Z",
            },
        }
        if key:
            self.by_key[key] = import_id
        if self.crash_after_accepting == len(self.imports):
            raise Crash  # the import exists, but the client never hears the 202
        return httpx.Response(202, json=accepted)


def client(api: FakeApi, notices: list[RetryNotice] | None = None) -> ImportsClient:
    return ImportsClient(
        "http://api.test",
        "oliai_key",
        transport=httpx.MockTransport(api),
        retry=RetryPolicy(initial_wait_s=0.0, max_wait_s=0.0),
        on_retry=notices.append if notices is not None else None,
    )


CONTACTS = [{"name": "A", "phoneNumber": "+1"}]


def test_429_waits_for_retry_after_then_succeeds() -> None:
    api = FakeApi(script=[(429, {"Retry-After": "1"}), (503, {"Retry-After": "0"})])
    notices: list[RetryNotice] = []
    with client(api, notices) as imports:
        accepted = imports.create_import(CONTACTS, idempotency_key="k1")
    assert accepted.total == 1
    assert [notice.reason for notice in notices] == [
        "HTTP 429 x429",
        "HTTP 503 x503",
    ]
    assert 1.0 <= notices[0].wait_s <= 1.25  # Retry-After honoured (plus a little jitter)
    assert len(api.requests) == 3
    assert len(api.imports) == 1


def test_timeout_is_retried_only_when_the_post_is_idempotent() -> None:
    api = FakeApi(script=[httpx.ReadTimeout("slow")])
    with client(api) as imports, pytest.raises(httpx.ReadTimeout):
        imports.create_import(CONTACTS)  # no key: a retry could create a second import
    api = FakeApi(script=[httpx.ReadTimeout("slow")])
    with client(api) as imports:
        imports.create_import(CONTACTS, idempotency_key="k1")
    assert len(api.requests) == 2


def test_connection_refused_is_always_retried() -> None:
    api = FakeApi(script=[httpx.ConnectError("refused")])
    with client(api) as imports:
        imports.create_import(CONTACTS)
    assert len(api.requests) == 2


def test_client_errors_are_not_retried() -> None:
    api = FakeApi(script=[(422, {})])
    with client(api) as imports, pytest.raises(ApiError) as error:
        imports.create_import(CONTACTS, idempotency_key="k1")
    assert (error.value.status, error.value.slug) == (422, "x422")
    assert len(api.requests) == 1


def test_retries_give_up_with_the_last_answer() -> None:
    api = FakeApi(script=[(503, {})] * 3)
    imports = ImportsClient(
        "http://api.test",
        "k",
        transport=httpx.MockTransport(api),
        retry=RetryPolicy(max_attempts=3, initial_wait_s=0.0, max_wait_s=0.0),
    )
    with imports, pytest.raises(ApiError) as error:
        imports.get_status("imp_1")
    assert error.value.status == 503
    assert len(api.requests) == 3


def test_async_client_shares_the_rules() -> None:
    api = FakeApi(script=[(429, {"Retry-After": "0"})])
    notices: list[RetryNotice] = []

    async def scenario() -> tuple[str, str]:
        async with AsyncImportsClient(
            "http://api.test",
            "k",
            transport=httpx.MockTransport(api),
            retry=RetryPolicy(initial_wait_s=0.0, max_wait_s=0.0),
            on_retry=notices.append,
        ) as imports:
            accepted = await imports.create_import(CONTACTS, idempotency_key="k1")
            status = await imports.wait(accepted.import_id, poll=FAST_POLL)
            return accepted.import_id, status.status

    assert asyncio.run(scenario()) == ("imp_0001", "COMPLETED")
    assert [notice.reason for notice in notices] == ["HTTP 429 x429"]
    assert api.requests[1].headers["authorization"] == "Bearer k"


def test_bulk_body_bytes_are_deterministic() -> None:
    contacts = [{"name": "Zoë", "phoneNumber": "+1", "tier": "gold"}]
    first = encode_bulk_body(contacts, audience_id="aud", webhook_url="https://x.test/h")
    assert first == encode_bulk_body(
        [dict(contact) for contact in contacts], audience_id="aud", webhook_url="https://x.test/h"
    )
    assert json.loads(first) == {
        "contacts": contacts,
        "audienceId": "aud",
        "webhookUrl": "https://x.test/h",
    }


def test_fingerprint_and_keys_follow_content_options_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,phone\nA,+1\n")
    scan = scan_file(path)
    base = fingerprint(BatchImportOptions(path), scan, "api-1")
    assert base == fingerprint(BatchImportOptions(path), scan_file(path), "api-1")
    assert base != fingerprint(BatchImportOptions(path, batch_size=10), scan, "api-1")
    assert base != fingerprint(BatchImportOptions(path, audience_id="a"), scan, "api-1")
    assert base != fingerprint(BatchImportOptions(path), scan, "api-2")
    path.write_text("name,phone\nA,+2\n")
    assert base != fingerprint(BatchImportOptions(path), scan_file(path), "api-1")
    assert idempotency_key(base, 1) == idempotency_key(base, 1) != idempotency_key(base, 2)


def test_fingerprints_are_those_of_earlier_releases(tmp_path: Path) -> None:
    # The value an earlier release computed for this file and these options: a different one
    # would make a re-run of an import interrupted before an upgrade send its batches again.
    path = tmp_path / "c.csv"
    path.write_text("name,phone\nA,+1\n")
    assert fingerprint(BatchImportOptions(path), scan_file(path), "api-1") == (
        "c3f6b7cd010e3e79ad204256de8e0e48"
    )
    options = BatchImportOptions(path, in_flight=1)
    assert fingerprint(options, scan_file(path), "api-1") == "c3f6b7cd010e3e79ad204256de8e0e48"


def write_contacts(path: Path, count: int, bad_every: int = 0) -> None:
    with open(path, "w", encoding="utf-8") as file:
        file.write("name,phone\n")
        for i in range(count):
            bad = bad_every and i % bad_every == bad_every - 1
            file.write(f"C{i},{'555' if bad else '+1'}{i:06d}\n")


def test_a_crash_after_the_post_resumes_without_a_second_import(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    write_contacts(path, 10, bad_every=4)  # rows 3 and 7 (lines 5 and 9) fail
    options = BatchImportOptions(path, batch_size=3)
    api = FakeApi(crash_after_accepting=2)
    with client(api) as imports, pytest.raises(Crash):
        BatchImporter(imports, options, poll=FAST_POLL).run()
    saved = json.loads(checkpoint_path(path).read_text())
    (state,) = saved["runs"].values()
    assert state["finished"] == []  # batch 1 was posted, not awaited yet: batches go ahead
    in_flight = [(batch["batch"], batch["importId"]) for batch in state["inFlight"]]
    assert in_flight == [(1, "imp_0001"), (2, None)]  # the second 202 never arrived

    api.crash_after_accepting = None
    with client(api) as imports:
        summary = BatchImporter(imports, options, poll=FAST_POLL).run()
    assert len(api.imports) == 4  # batches of 3, 3, 3, 1: no second import of batch 1 or 2
    assert [result.resumed for result in summary.batches] == [False] * 4
    assert summary.totals == {
        "total": 10,
        "created": 8,
        "updated": 0,
        "skipped": 0,
        "failed": 2,
        "error_count": 2,
    }
    assert summary.exit_code == ExitCode.ROW_ERRORS
    with open(errors_path(path), encoding="utf-8") as file:
        assert [(row["row"], row["batch"]) for row in csv.DictReader(file)] == [
            ("5", "2"),
            ("9", "3"),
        ]

    # Once done, the same command sends nothing.
    sent = len(api.requests)
    with client(api) as imports:
        again = BatchImporter(imports, options, poll=FAST_POLL).run()
    assert again.already_done
    assert again.totals == summary.totals
    assert len(api.requests) == sent


def request_kinds(api: FakeApi) -> str:
    return "".join(
        "P" if r.method == "POST" else "S" for r in api.requests if "errors" not in r.url.path
    )


def test_batches_go_ahead_of_the_one_awaited_up_to_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    write_contacts(path, 5)
    for in_flight, expected in ((1, "PSPSPSPSPS"), (3, "PPPSPSPSSS"), (8, "PPPPPSSSSS")):
        api = FakeApi()
        options = BatchImportOptions(path, batch_size=1, in_flight=in_flight)
        checkpoint_path(path).unlink(missing_ok=True)
        with client(api) as imports:
            summary = BatchImporter(imports, options, poll=FAST_POLL).run()
        assert request_kinds(api) == expected, in_flight  # P: a batch posted, S: a status read
        assert [result.batch for result in summary.batches] == [1, 2, 3, 4, 5]


def test_a_checkpoint_of_an_earlier_release_resumes_its_batch_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    write_contacts(path, 6)
    options = BatchImportOptions(path, batch_size=2, in_flight=1)
    api = FakeApi(crash_after_accepting=2)
    with client(api) as imports, pytest.raises(Crash):
        BatchImporter(imports, options, poll=FAST_POLL).run()
    saved = json.loads(checkpoint_path(path).read_text())
    (state,) = saved["runs"].values()
    (posted,) = state["inFlight"]
    # Version 1 kept at most one batch in flight, as an object.
    state["inFlight"] = posted
    checkpoint_path(path).write_text(json.dumps({**saved, "version": 1}))

    api.crash_after_accepting = None
    with client(api) as imports:
        summary = BatchImporter(
            imports, BatchImportOptions(path, batch_size=2), poll=FAST_POLL
        ).run()
    assert len(api.imports) == 3  # batch 2 was not imported a second time
    assert [result.resumed for result in summary.batches] == [True, False, False]
    assert json.loads(checkpoint_path(path).read_text())["version"] == 2


def test_a_changed_file_starts_over_with_new_keys(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    write_contacts(path, 4)
    api = FakeApi()
    with client(api) as imports:
        BatchImporter(imports, BatchImportOptions(path, batch_size=2), poll=FAST_POLL).run()
        write_contacts(path, 5)
        summary = BatchImporter(
            imports, BatchImportOptions(path, batch_size=2), poll=FAST_POLL
        ).run()
    assert len(api.imports) == 5
    assert summary.totals["updated"] == 4
    assert len(json.loads(checkpoint_path(path).read_text())["runs"]) == 2


def test_client_modules_import_neither_litestar_nor_dagster() -> None:
    code = (
        "import sys, client.imports_client, client.contact_files, client.batch.runner; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'litestar', 'dagster', 'polars'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_completion_receiver_counts_only_verified_webhooks() -> None:
    from datetime import UTC, datetime

    from client.batch.receiver import CompletionReceiver
    from core.control_store.organizations import new_secret
    from orchestration.webhooks.signing import signed_headers

    secret = new_secret()
    body = json.dumps({"event": "import.completed", "importId": "imp_1", "status": "COMPLETED"})
    with CompletionReceiver(secret, "127.0.0.1", 0) as receiver:
        forged = signed_headers(new_secret(), "msg_1", datetime.now(UTC), body.encode())
        assert httpx.post(receiver.url, content=body, headers=forged).status_code == 401
        assert not receiver.wait_for("imp_1", 0.1)
        signed = signed_headers(secret, "msg_1", datetime.now(UTC), body.encode())
        assert httpx.post(receiver.url, content=body, headers=signed).status_code == 204
        assert receiver.wait_for("imp_1", 1.0)
    assert receiver.rejected == 1

"""`oliai import` and the Python client on the real stack: 60,000 rows in 5,000-row batches with
exact totals, a SIGKILL in the middle and a resume with no duplicate import, 429 and 503 from the
real API, webhook-driven batches, and `?dryRun=true` equal to the real import's errors."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from api.dagster_gateway import REACHABILITY_TTL_S
from client.batch.options import BatchImportOptions, WaitMode, checkpoint_path, errors_path
from client.batch.reporter import RunSummary
from client.batch.runner import BatchImporter
from client.imports_client import ImportsClient, PollPolicy, RetryNotice
from tests.integration.api_support import BULK, MESSY_BODY, MESSY_ERRORS, phone
from tests.stack import OLIAI, Stack, make_stack

pytestmark = pytest.mark.integration

ROWS = 60_000
BATCH = 5_000
DOCS = Path(__file__).resolve().parents[2] / "docs" / "batch-import.md"


@dataclass
class Expected:
    """What the import must report, computed row by row like the SPEC's rules."""

    total: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    error_rows: list[int] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        counts = {"total": self.total, "created": self.created, "updated": self.updated}
        return {**counts, "skipped": 0, "failed": self.failed, "errorCount": self.failed}


def write_contacts_csv(path: Path, rows: int = ROWS) -> Expected:
    """A BOM, `;` as delimiter, aliased headers; every 97th phone invalid; rows from 55,000 on
    repeat earlier numbers (updates across batches)."""
    expected = Expected(total=rows)
    seen: set[str] = set()
    with open(path, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["Full Name", "Phone Number", "lang", "City"])
        for i in range(rows):
            number = phone(i % 55_000)
            if i % 97 == 5:
                number = "12345"
                expected.failed += 1
                expected.error_rows.append(i + 2)  # the header is line 1
            elif number in seen:
                expected.updated += 1
            else:
                seen.add(number)
                expected.created += 1
            writer.writerow([f"Contact {i}", number, "hi-IN" if i % 2 else "", f"City {i % 7}"])
    return expected


def oliai_import(stack: Stack, key: str, path: Path, *args: str, as_json: bool = True) -> list[str]:
    return [
        OLIAI,
        "import",
        str(path),
        "--api-url",
        stack.api_url,
        "--api-key",
        key,
        "--batch-size",
        str(BATCH),
        *(["--json"] if as_json else []),
        *args,
    ]


def run_json(stack: Stack, command: list[str]) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(
        command, env=stack.env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def history(stack: Stack, key: str) -> dict[str, dict[str, Any]]:
    with stack.client(key) as client:
        body = client.get("/v1/imports", params={"limit": 100}).json()
    return {item["id"]: item for item in body["data"]}


def history_ids(stack: Stack, key: str) -> list[str]:
    return list(history(stack, key))


def error_rows(path: Path) -> list[int]:
    with open(path, encoding="utf-8") as file:
        return [int(row["row"]) for row in csv.DictReader(file)]


def assert_complete(summary: dict[str, Any], expected: Expected) -> None:
    assert summary["totals"] == expected.totals, summary
    assert [batch["batch"] for batch in summary["batches"]] == list(range(1, ROWS // BATCH + 1))
    assert all(batch["total"] == BATCH for batch in summary["batches"])
    assert summary["exitCode"] == 1  # finished, with failed rows


@pytest.mark.timeout(900)
def test_sixty_thousand_rows_in_batches_with_exact_totals(stack: Stack, tmp_path: Path) -> None:
    org = f"batch-60k-{os.getpid()}"
    key = stack.new_org_key(org)
    path = tmp_path / "contacts.csv"
    expected = write_contacts_csv(path)

    code, summary, stderr = run_json(stack, oliai_import(stack, key, path))

    assert code == 1, stderr
    assert_complete(summary, expected)
    assert not any(batch["resumed"] for batch in summary["batches"])
    items = history(stack, key)
    assert sorted(items) == sorted(batch["importId"] for batch in summary["batches"])
    assert len(items) == 12
    # Batches were sent ahead (--in-flight 4 by default): batch 2 was accepted before batch 1
    # ended; and they were applied in batch order all the same.
    by_batch = [items[batch["importId"]] for batch in summary["batches"]]
    assert by_batch[1]["createdAt"] < by_batch[0]["completedAt"]
    completed = [item["completedAt"] for item in by_batch]
    assert completed == sorted(completed)
    # One merged errors file, with the CSV's own line numbers.
    assert error_rows(errors_path(path)) == expected.error_rows
    # The warehouse agrees: one contact per distinct valid number.
    counted = stack.oliai(
        "sql", f"SELECT count(*) AS n FROM contacts WHERE org_id = '{org}'", "--json"
    )
    assert json.loads(counted.stdout) == [{"n": expected.created}], counted.stderr


def finished_batches(checkpoint: Path) -> int:
    try:
        runs = json.loads(checkpoint.read_text())["runs"]
    except (FileNotFoundError, ValueError):
        return 0
    return max((len(run["finished"]) for run in runs.values()), default=0)


@pytest.mark.timeout(900)
def test_kill_and_resume_creates_no_duplicate_imports(stack: Stack, tmp_path: Path) -> None:
    key = stack.new_org_key(f"batch-resume-{os.getpid()}")
    path = tmp_path / "contacts.csv"
    expected = write_contacts_csv(path)
    checkpoint = checkpoint_path(path)

    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(
            oliai_import(stack, key, path), env=stack.env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 400
            while finished_batches(checkpoint) < 2:
                assert first.poll() is None, (tmp_path / "first.log").read_text()
                assert time.monotonic() < deadline, "two batches did not finish in time"
                time.sleep(0.05)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
    assert first.returncode == -signal.SIGKILL
    killed_at = finished_batches(checkpoint)
    assert 2 <= killed_at < 12

    code, summary, stderr = run_json(stack, oliai_import(stack, key, path))

    assert code == 1, stderr
    assert_complete(summary, expected)
    assert sum(batch["resumed"] for batch in summary["batches"]) == killed_at
    ids = history_ids(stack, key)
    assert len(ids) == 12, "a batch was imported twice"
    assert sorted(ids) == sorted(batch["importId"] for batch in summary["batches"])
    assert error_rows(errors_path(path)) == expected.error_rows  # no duplicated error lines


@pytest.mark.timeout(300)
def test_webhook_mode_chains_batches_on_signed_webhooks(stack: Stack, tmp_path: Path) -> None:
    org = f"batch-webhook-{os.getpid()}"
    key = stack.new_org_key(org)
    secret = stack.webhook_secret(org)
    path = tmp_path / "contacts.ndjson"
    path.write_text(
        "".join(
            json.dumps({"name": f"W {i}", "mobile": phone(700_000 + i), "lang": "EN-us"}) + "\n"
            for i in range(30)
        )
    )
    options = BatchImportOptions(
        path,
        batch_size=10,
        wait_mode=WaitMode.WEBHOOK,
        webhook_secret=secret,
        # Long enough that only the webhook can end a batch's wait in time.
        webhook_fallback_poll_s=120.0,
    )
    with ImportsClient(stack.api_url, key) as client:
        summary = BatchImporter(client, options).run()
    assert summary.stopped is None, summary.stopped
    assert summary.webhook_wakeups == 3
    assert summary.totals == {
        "total": 30,
        "created": 30,
        "updated": 0,
        "failed": 0,
        "error_count": 0,
        "skipped": 0,
    }
    assert summary.exit_code == 0


MESSY_CSV = """name,phone,language,tier
  Ana   María ,+34 612-34-56-78,ES-es,gold
Zoë,+44 (20) 7946.0958,,silver
   ,12345,,
Bad Tag,+14155550123,English (US),
Ana M.,+34612345678,,
,+14155550124,,
No Plus,919876543210,hi-IN,
"""


def test_dry_run_reports_what_the_import_then_records(stack: Stack, tmp_path: Path) -> None:
    key = stack.new_org_key(f"batch-dry-{os.getpid()}")
    path = tmp_path / "messy.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")

    code, report, stderr = run_json(stack, oliai_import(stack, key, path, "--dry-run"))
    assert code == 1, stderr
    assert (report["total"], report["valid"], report["failed"]) == (7, 3, 4)
    assert history_ids(stack, key) == []  # nothing created
    assert not checkpoint_path(path).exists()

    code, summary, stderr = run_json(stack, oliai_import(stack, key, path))
    assert code == 1, stderr
    assert summary["totals"]["failed"] == report["failed"]
    assert summary["totals"]["errorCount"] == report["errorCount"]
    # What the dry run said each batch would do, the import did.
    would = {name: report[name] for name in ("created", "updated", "skipped")}
    assert would == {"created": 2, "updated": 1, "skipped": 0}  # Ana María twice
    assert {name: summary["totals"][name] for name in would} == would

    def error_lines(csv_path: Path) -> list[tuple[str, ...]]:
        with open(csv_path, encoding="utf-8") as file:
            return [
                (row["row"], row["field"], row["code"], row["message"], row["value"])
                for row in csv.DictReader(file)
            ]

    dry, real = error_lines(errors_path(path, dry_run=True)), error_lines(errors_path(path))
    assert dry == real
    assert [line[:3] for line in dry] == [
        ("4", "name", "empty"),
        ("4", "phoneNumber", "missing_plus"),
        ("5", "language", "invalid_tag"),
        ("7", "name", "required"),
        ("8", "phoneNumber", "missing_plus"),
    ]

    human = subprocess.run(
        oliai_import(stack, key, path, "--dry-run", as_json=False),
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Row errors by field and code" in human.stdout
    assert "Would create" in human.stdout


def test_dry_run_endpoint_normalizes_and_creates_nothing(stack: Stack) -> None:
    key = stack.new_org_key(f"batch-dry-api-{os.getpid()}")
    with stack.client(key) as client:
        response = client.post(BULK, params={"dryRun": "true"}, json=MESSY_BODY)
        assert response.status_code == 200, response.text
        report = response.json()
        assert {k: report[k] for k in ("total", "valid", "failed", "errorCount")} == {
            "total": 6,
            "valid": 3,
            "failed": 3,
            "errorCount": 5,
        }
        assert report["rows"][0] == {
            "rowIndex": 0,
            "phoneNumber": "+34612345678",
            "name": "Ana María",
            "language": "es-ES",
            "metadata": {},
        }
        assert report["rows"][1]["metadata"] == {"vip": True}
        assert [
            (e["rowIndex"], e["field"], e["code"], e["value"]) for e in report["errors"]
        ] == MESSY_ERRORS
        # Same request-level rules and auth as the real endpoint.
        empty = client.post(BULK, params={"dryRun": "true"}, json={"contacts": []})
        assert empty.status_code == 422
        assert empty.json()["type"] == "/problems/invalid-request"
        assert client.get("/v1/imports").json()["total"] == 0
    anonymous = httpx.post(f"{stack.api_url}{BULK}?dryRun=true", json=MESSY_BODY)
    assert anonymous.status_code == 401
    schema = httpx.get(f"{stack.api_url}/schema/openapi.json").json()
    operation = schema["paths"]["/v1/imports/api/bulk"]["post"]
    assert "dryRun" in [parameter["name"] for parameter in operation["parameters"]]
    dry_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert dry_schema["$ref"].endswith("DryRunReport")


def test_python_client_example_in_the_docs_runs(stack: Stack, tmp_path: Path) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    script = tmp_path / "example.py"
    script.write_text(example)
    key = stack.new_org_key(f"batch-docs-{os.getpid()}")
    result = subprocess.run(
        [sys.executable, str(script)],
        env={**stack.env, "OLIAI_API_URL": stack.api_url, "OLIAI_API_KEY": key},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "COMPLETED" in result.stdout
    assert "would create 2 update 0 skip 0\n" in result.stdout  # a new organization
    assert "\n1 create name: None -> Ravi Kumar, language: None -> en-IN\n" in result.stdout
    assert len(history_ids(stack, key)) == 2  # the client's import and the file's one batch


# --- a stack with a low rate limit, for 429 and 503 ---------------------------------------------

RATE_LIMIT = 12
# Slow polling: a batch costs few requests, so the limit is reached where a test means it to.
SLOW_POLL = PollPolicy(initial_s=1.0, factor=1.5, max_s=3.0)


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = make_stack(
        tmp_path_factory.mktemp("limited") / "data", OLIAI_RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT)
    )
    running.start()
    yield running
    running.stop()


def small_file(tmp_path: Path, rows: int, start: int) -> Path:
    path = tmp_path / "small.csv"
    lines = [f"Contact {i},{phone(start + i)}" for i in range(rows)]
    path.write_text("name,phoneNumber\n" + "\n".join(lines) + "\n")
    return path


def run_importer(stack: Stack, key: str, options: BatchImportOptions) -> tuple[RunSummary, Any]:
    notices: list[RetryNotice] = []
    with ImportsClient(stack.api_url, key, on_retry=notices.append) as client:
        summary = BatchImporter(client, options, poll=SLOW_POLL).run()
    return summary, notices


@pytest.mark.timeout(400)
def test_rate_limit_429_is_honoured(limited_stack: Stack, tmp_path: Path) -> None:
    key = limited_stack.new_org_key("rate-limited")
    path = small_file(tmp_path, 100, 800_000)
    with limited_stack.client(key) as client:
        for _ in range(RATE_LIMIT):  # use up this minute's window
            client.get("/v1/imports")
        assert client.get("/v1/imports").status_code == 429

    summary, notices = run_importer(limited_stack, key, BatchImportOptions(path, batch_size=100))

    assert summary.stopped is None, summary.stopped
    limited = [notice for notice in notices if notice.reason == "HTTP 429 rate-limited"]
    assert limited, notices
    # Retry-After (the window's reset) was honoured, not the short exponential backoff.
    assert limited[0].method == "POST"
    assert limited[0].wait_s > 5
    assert summary.totals["total"] == summary.totals["created"] == 100
    assert len(history_ids(limited_stack, key)) == 1  # the retried POST made no second import


def dagster_webserver(stack: Stack) -> psutil.Process:
    assert stack.process is not None
    children = psutil.Process(stack.process.pid).children()
    (webserver,) = [
        child for child in children if any("dagster-webserver" in p for p in child.cmdline()[:2])
    ]
    return webserver


@pytest.mark.timeout(300)
def test_orchestrator_unavailable_503_is_retried(limited_stack: Stack, tmp_path: Path) -> None:
    key = limited_stack.new_org_key("unavailable")
    path = small_file(tmp_path, 40, 900_000)
    webserver = dagster_webserver(limited_stack)
    unavailable = threading.Event()
    notices: list[RetryNotice] = []

    def on_retry(notice: RetryNotice) -> None:
        notices.append(notice)
        if "503" in notice.reason:
            unavailable.set()

    results: list[RunSummary] = []

    def importer() -> None:
        with ImportsClient(limited_stack.api_url, key, on_retry=on_retry) as client:
            options = BatchImportOptions(path, batch_size=40)
            results.append(BatchImporter(client, options, poll=SLOW_POLL).run())

    webserver.suspend()  # SIGSTOP: the API's reachability check times out → 503
    # ... once the API's last successful check (an earlier test's POST) is no longer cached.
    time.sleep(REACHABILITY_TTL_S)
    try:
        thread = threading.Thread(target=importer)
        thread.start()
        assert unavailable.wait(60), notices
    finally:
        webserver.resume()
    thread.join(240)
    assert not thread.is_alive()
    (summary,) = results
    assert summary.stopped is None, summary.stopped
    assert notices[0].reason == "HTTP 503 orchestrator-unavailable"
    assert notices[0].wait_s >= 5  # Retry-After: 5
    assert summary.totals["created"] == 40
    assert len(history_ids(limited_stack, key)) == 1

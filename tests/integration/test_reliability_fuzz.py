"""Schemathesis against the API's own OpenAPI document: every operation, positive and negative
data, every check, seeded and bounded so it runs in CI. Zero 5xx, zero schema violations.

Then every import the fuzzer got accepted must end, and no run may fail: fuzzed bodies that pass
the API's checks go all the way through the row rules into DuckDB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.schemathesis_hooks import RECEIVER_ENV
from tests.receiver import WebhookReceiver
from tests.stack import TERMINAL, Stack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
SEED = 20_260_501
MAX_EXAMPLES = 25
STATEFUL_EXAMPLES = 10
# Under the API's 1,200 requests per minute per organization, so the fuzzer meets few 429s.
RATE_LIMIT = "900/m"


def schemathesis_config(api_key: str) -> str:
    return f"""
seed = {SEED}
workers = 1
rate-limit = "{RATE_LIMIT}"
request-timeout = 60
suppress-health-check = ["too_slow"]

[cache]
enabled = false

[generation]
mode = "all"
max-examples = {MAX_EXAMPLES}
database = "none"

# Each stateful scenario starts with an accepted import (a Dagster run): fewer of them.
[phases.stateful.generation]
max-examples = {STATEFUL_EXAMPLES}

# Follow the document's links (202 importId -> status, errors, deliveries). Dependency analysis
# would also infer links from the UI-only upload and start every scenario there (a key gets 403).
[phases.stateful.inference]
algorithms = ["location-headers"]

# The two schemes of the document, both with the key: Schemathesis then knows what the
# credentials are and probes that every operation refuses requests without them.
[auth.openapi.bearer]
bearer = "{api_key}"

[auth.openapi.apiKey]
api_key = "{api_key}"
"""


def wait_until_all_ended(client: httpx.Client, timeout_s: float) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout_s
    while True:
        items: list[dict[str, object]] = []
        page = 1
        while True:
            listing = client.get("/v1/imports", params={"page": page, "limit": 100}).json()
            items += listing["data"]
            if page * 100 >= listing["total"]:
                break
            page += 1
        pending = [item["id"] for item in items if item["status"] not in TERMINAL]
        if not pending:
            return items
        assert time.monotonic() < deadline, f"{len(pending)} fuzz imports never ended: {pending}"
        time.sleep(2)


# Imports run on the shared stack's two cores: more than the default 300 s when busy.
@pytest.mark.timeout(900)
def test_openapi_fuzz(stack: Stack, tmp_path: Path) -> None:
    org = f"fuzz-{os.getpid()}"
    api_key = stack.new_org_key(org)
    secret = stack.webhook_secret(org)
    config = tmp_path / "schemathesis.toml"
    config.write_text(schemathesis_config(api_key))
    with WebhookReceiver(secret) as receiver:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SCHEMATHESIS_HOOKS": "tests.integration.schemathesis_hooks",
            RECEIVER_ENV: receiver.url,
        }
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "--config-file",
                str(config),
                "run",
                f"{stack.api_url}/schema/openapi.json",
                "--checks",
                "all",
                # Replaced by positive_data_acceptance_except_key_reuse (schemathesis_hooks.py).
                "--exclude-checks",
                "positive_data_acceptance",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        print(result.stdout[-3000:])
        assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5000:]

        with stack.client(api_key) as client:
            imports = wait_until_all_ended(client, timeout_s=600)
        assert imports, "the fuzzer got no import accepted"
        # A run that failed recorded no counts: FAILED with no row errors (all rows failing
        # would have at least one row error).
        crashed = [i["id"] for i in imports if i["status"] == "FAILED" and i["errorCount"] == 0]
        assert crashed == [], f"runs failed on fuzzed input: {crashed}\n{stack.logs()}"

"""`webhookUrl` values that can never be delivered are refused at the request, each with its
reason; deliverable ones pass (whether their address is allowed is the delivery's SSRF check)."""

from __future__ import annotations

import pytest

from api.validation import webhook_url_problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://a b/x", "must not contain spaces or control characters"),
        ("http://ex\tample.com/x", "must not contain spaces or control characters"),
        ("http://%00/x", "has an invalid host name '%00'"),
        ("http://-bad-.example.com/x", "has an invalid host name '-bad-.example.com'"),
        ("http://exa_mple.com/x", "has an invalid host name 'exa_mple.com'"),
        ("http://" + "a" * 64 + ".com/x", "has an invalid host name '" + "a" * 64 + ".com'"),
        (
            "http://127.0.0.1:99999/x",
            "must be an absolute http(s) URL with a port from 1 to 65535",
        ),
        ("http://example.com:0/x", "must have a port from 1 to 65535"),
        (
            "http://user:pass@example.com/hook",
            "must not contain credentials (user:password@); authenticate with the signature",
        ),
        (
            "https://token@example.com/hook",
            "must not contain credentials (user:password@); authenticate with the signature",
        ),
        ("ftp://example.com/x", "must be an absolute http(s) URL"),
        ("/relative", "must be an absolute http(s) URL"),
    ],
)
def test_undeliverable_urls_say_why(url: str, problem: str) -> None:
    assert webhook_url_problem(url) == problem


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/webhooks/import-done",
        "http://127.0.0.1:8080/hook",
        "http://[::1]:8080/hook",
        "https://exämple.com/hook",  # IDNA
        "https://hooks.example.com.:443/x?y=1#z",
        "http://localhost/x",
    ],
)
def test_deliverable_urls_pass(url: str) -> None:
    assert webhook_url_problem(url) is None

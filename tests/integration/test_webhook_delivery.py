"""Webhook delivery against real HTTP(S) receivers on 127.0.0.1: outcomes, bounds, SSRF."""

import asyncio
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.control_store.organizations import new_secret
from orchestration.webhooks import (
    AttemptResult,
    DeliveryJob,
    Outcome,
    deliver,
    deliver_all,
    new_client,
    signed_headers,
)

pytestmark = pytest.mark.integration

HUGE_BODY_BYTES = 64 * 1024 * 1024
CHUNK = b"x" * 65536


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float  # time.monotonic() on arrival


Behaviour = Callable[["Handler"], None]


class Receiver(ThreadingHTTPServer):
    """A real receiver: records requests and accepted connections, answers via `behaviour`."""

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviour = behaviour
        self.seen: list[Seen] = []
        self.connections = 0
        self.release = threading.Event()  # set at teardown so hanging handlers return
        self.done = threading.Event()  # set by streaming and slow handlers when they stop
        self.went_away = threading.Event()  # set by slow handlers when the client hung up
        self.arrived = threading.Event()  # set on every request, after it is recorded
        self.bytes_sent = 0
        self.client_went_away = False

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def verify_request(self, request: Any, client_address: Any) -> bool:
        # Called for every accepted connection, before any byte is read.
        self.connections += 1
        return True


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.seen.append(Seen(self.path, headers, body, time.monotonic()))
        self.server.arrived.set()
        self.server.behaviour(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


def respond(status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> Behaviour:
    def behaviour(handler: Handler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return behaviour


# How long a hanging or dripping handler holds out at most (the test releases it sooner).
HOLD_S = 60


def hang(handler: Handler) -> None:
    """Answer nothing until released (then hang up), or HOLD_S (then `done`)."""
    if not handler.server.release.wait(HOLD_S):
        handler.server.done.set()
    handler.close_connection = True


def hang_up(handler: Handler) -> None:
    """Close the connection without an answer."""
    handler.close_connection = True


def stream_huge(handler: Handler) -> None:
    """200 with a 64 MiB body, written until the client hangs up."""
    server = handler.server
    handler.send_response(200)
    handler.send_header("Content-Length", str(HUGE_BODY_BYTES))
    handler.end_headers()
    try:
        while server.bytes_sent < HUGE_BODY_BYTES:
            handler.wfile.write(CHUNK)
            server.bytes_sent += len(CHUNK)
    except (BrokenPipeError, ConnectionResetError):
        server.client_went_away = True
    finally:
        server.done.set()


def drip(handler: Handler) -> None:
    """Headers at once, then one byte every 100 ms until released (the body is never complete):
    no single read ever times out."""
    length = HOLD_S * 10
    handler.send_response(200)
    handler.send_header("Content-Length", str(length))
    handler.end_headers()
    try:
        for _ in range(length):
            if handler.server.release.wait(0.1):
                return
            handler.wfile.write(b".")
            handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        handler.server.went_away.set()
        return
    handler.server.done.set()  # the whole body was written


Serve = Callable[..., Receiver]


@pytest.fixture
def serve() -> Iterator[Serve]:
    running: list[tuple[Receiver, threading.Thread]] = []

    def start(behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> Receiver:
        receiver = Receiver(behaviour)
        if tls is not None:
            receiver.socket = tls.wrap_socket(receiver.socket, server_side=True)
        thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        running.append((receiver, thread))
        return receiver

    yield start
    for receiver, thread in running:
        receiver.release.set()
        receiver.shutdown()
        thread.join()
        receiver.server_close()  # joins the handler threads


def deliver_once(
    url: str,
    body: bytes = b"{}",
    headers: Mapping[str, str] | None = None,
    *,
    allow_private: bool = True,
    timeout_s: float = 2.0,
    client: httpx.AsyncClient | None = None,
) -> AttemptResult:
    async def attempt() -> AttemptResult:
        async with client or new_client() as shared:
            return await deliver(
                shared, url, body, headers or {}, allow_private=allow_private, timeout_s=timeout_s
            )

    return asyncio.run(attempt())


def verifying(secret: str) -> Behaviour:
    def behaviour(handler: Handler) -> None:
        seen = handler.server.seen[-1]
        try:
            Webhook(secret).verify(seen.body, seen.headers)
        except WebhookVerificationError as exc:
            respond(400, str(exc).encode())(handler)
        else:
            respond(204)(handler)

    return behaviour


def test_signed_attempts_verify_and_keep_the_message_id(serve: Serve) -> None:
    secret = new_secret()
    receiver = serve(verifying(secret))
    body = b'{"event":"import.completed","data":{"id":"imp_1","status":"COMPLETED"}}'
    now = datetime.now(UTC)

    for signed_at in (now - timedelta(seconds=90), now):
        headers = signed_headers(secret, "msg_imp_1", signed_at, body)
        result = deliver_once(receiver.url, body, headers)
        assert (result.outcome, result.status_code, result.error) == (Outcome.DELIVERED, 204, None)

    first, second = receiver.seen
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "msg_imp_1"
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 90
    assert first.body == second.body == body


def test_wrong_secret_is_not_delivered(serve: Serve) -> None:
    receiver = serve(verifying(new_secret()))
    headers = signed_headers(new_secret(), "msg_1", datetime.now(UTC), b"{}")
    result = deliver_once(receiver.url, b"{}", headers)
    assert (result.outcome, result.status_code) == (Outcome.RETRY, 400)
    assert result.response_excerpt == "No matching signature found"


def test_request_goes_to_the_checked_address_under_the_original_host(serve: Serve) -> None:
    receiver = serve(respond(200, b"thanks"))
    result = deliver_once(f"http://localhost:{receiver.port}/hooks/in?org=7")
    assert (result.outcome, result.response_excerpt) == (Outcome.DELIVERED, "thanks")
    (seen,) = receiver.seen
    assert seen.path == "/hooks/in?org=7"
    assert seen.headers["host"] == f"localhost:{receiver.port}"
    assert seen.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    ("behaviour", "outcome", "retry_after_s"),
    [
        (respond(200), Outcome.DELIVERED, None),
        (respond(500, b"boom"), Outcome.RETRY, None),
        (respond(503, headers={"Retry-After": "soon"}), Outcome.RETRY, None),
        (respond(429, headers={"Retry-After": "7"}), Outcome.RETRY, 7.0),
        (respond(404), Outcome.RETRY, None),
        (respond(410, headers={"Retry-After": "7"}), Outcome.GONE, None),
    ],
    ids=["200", "500", "503-bad-retry-after", "429-retry-after", "404", "410"],
)
def test_status_codes_map_to_outcomes(
    serve: Serve, behaviour: Behaviour, outcome: Outcome, retry_after_s: float | None
) -> None:
    result = deliver_once(serve(behaviour).url)
    assert result.outcome is outcome
    assert result.retry_after_s == retry_after_s
    assert result.error == (None if outcome is Outcome.DELIVERED else f"HTTP {result.status_code}")


def test_retry_after_as_http_date(serve: Serve) -> None:
    answered: list[float] = []

    def busy(handler: Handler) -> None:
        now = datetime.now(UTC)
        answered.append(now.timestamp())
        later = format_datetime(now + timedelta(seconds=30), usegmt=True)
        respond(503, headers={"Retry-After": later})(handler)

    result = deliver_once(serve(busy).url)
    since_answer = datetime.now(UTC).timestamp() - answered[0]
    assert result.outcome is Outcome.RETRY
    assert result.retry_after_s is not None
    # 30 s after the answer (the date has whole seconds), less what elapsed before it was read.
    assert 29 - since_answer <= result.retry_after_s <= 30


def test_redirect_is_not_followed(serve: Serve) -> None:
    canary = serve(respond(200))
    redirector = serve(respond(302, headers={"Location": canary.url}))
    result = deliver_once(redirector.url)
    assert (result.outcome, result.status_code) == (Outcome.RETRY, 302)
    assert canary.connections == 0


def test_unreachable_receiver_is_retried() -> None:
    with socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = deliver_once(f"http://127.0.0.1:{port}/")
    assert result.outcome is Outcome.RETRY
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("ConnectError")


@pytest.mark.parametrize("behaviour", [hang, drip], ids=["silent", "slow-drip-body"])
def test_slow_receiver_is_cut_off_at_the_timeout(serve: Serve, behaviour: Behaviour) -> None:
    receiver = serve(behaviour)
    result = deliver_once(receiver.url, timeout_s=1.0)
    # The sender gave up: the receiver had not finished (it would hold out for a minute).
    assert not receiver.done.is_set()
    assert (result.outcome, result.status_code) == (Outcome.RETRY, None)
    assert result.error == "no complete response within 1 s"
    assert result.duration_ms >= 1000  # it had its whole budget
    if behaviour is drip:  # the sender hung up mid-body; the dripping noticed
        assert receiver.went_away.wait(30)


def test_huge_response_body_is_not_read_past_64_kib(serve: Serve) -> None:
    receiver = serve(stream_huge)
    result = deliver_once(receiver.url, timeout_s=30.0)
    assert (result.outcome, result.status_code) == (Outcome.DELIVERED, 200)
    assert result.response_excerpt == "x" * 1024
    assert receiver.done.wait(30)
    # Had the client read it all, the server would have finished writing without an error.
    assert receiver.client_went_away
    assert receiver.bytes_sent < HUGE_BODY_BYTES // 4


@pytest.mark.parametrize("concurrency", [16, 2])
def test_hanging_receiver_does_not_delay_the_others(serve: Serve, concurrency: int) -> None:
    fast = [serve(respond(204)) for _ in range(5)]
    all_fast_reached: list[bool] = []

    def hang_until_the_others_are_served(handler: Handler) -> None:
        """Holds the first job's attempt until every other job reached its receiver."""
        all_fast_reached.append(all(r.arrived.wait(HOLD_S) for r in fast))
        hang_up(handler)

    hanging = serve(hang_until_the_others_are_served)
    jobs = [
        DeliveryJob(r.url, b"{}", {"content-type": "application/json"}) for r in [hanging, *fast]
    ]

    # The budget is no limit here: the hanging attempt ends when its receiver hangs up.
    results = asyncio.run(
        deliver_all(jobs, allow_private=True, concurrency=concurrency, timeout_s=HOLD_S * 2)
    )

    # Every other receiver was reached while the first attempt was still pending.
    assert all_fast_reached == [True]
    assert [r.outcome for r in results] == [Outcome.RETRY] + [Outcome.DELIVERED] * 5
    assert [len(r.seen) for r in [hanging, *fast]] == [1] * 6


LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "localhost",
    "2130706433",
    "0x7f.0.0.1",
    "[::ffff:127.0.0.1]",
    "[::1]",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_loopback_in_any_spelling_is_blocked_before_connecting(serve: Serve, host: str) -> None:
    canary = serve(respond(200))
    result = deliver_once(f"http://{host}:{canary.port}/", allow_private=False)
    assert result.outcome is Outcome.BLOCKED
    assert result.error is not None
    assert "which is loopback" in result.error
    assert canary.connections == 0


def test_loopback_is_delivered_when_private_destinations_are_allowed(serve: Serve) -> None:
    receiver = serve(respond(200))
    assert deliver_once(receiver.url, allow_private=True).outcome is Outcome.DELIVERED
    assert receiver.connections == 1


OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = webhook-test-ca
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a leaf certificate for DNS:localhost only (no IP address)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl CLI is needed to mint a test certificate")
    config = tmp_path / "openssl.cnf"
    config.write_text(OPENSSL_CONFIG)
    ca, ca_key = tmp_path / "ca.pem", tmp_path / "ca.key"
    leaf, leaf_key, csr = tmp_path / "leaf.pem", tmp_path / "leaf.key", tmp_path / "leaf.csr"
    new_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")

    def run(*args: str | Path) -> None:
        subprocess.run([openssl, *map(str, args)], check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-config",
        config,
        "-extensions",
        "ca",
        *new_key,
        "-keyout",
        ca_key,
        "-out",
        ca,
        "-days",
        "1",
    )
    run(
        "req",
        "-new",
        "-config",
        config,
        *new_key,
        "-subj",
        "/CN=localhost",
        "-keyout",
        leaf_key,
        "-out",
        csr,
    )
    run(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-set_serial",
        "2",
        "-extfile",
        config,
        "-extensions",
        "leaf",
        "-days",
        "1",
        "-out",
        leaf,
    )
    return ca, leaf, leaf_key


def test_https_to_the_pinned_address_verifies_the_certificate_by_name(
    serve: Serve, tls_files: tuple[Path, Path, Path]
) -> None:
    ca, leaf, leaf_key = tls_files
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(leaf, leaf_key)
    sni_names: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: sni_names.append(name)
    receiver = serve(respond(200, b"tls ok"), tls=server_tls)

    def trusting_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca), trust_env=False)

    # Control: the certificate does not cover 127.0.0.1, so success below needs the name.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.post(
            f"https://127.0.0.1:{receiver.port}/",
            verify=ssl.create_default_context(cafile=ca),
            trust_env=False,
        )

    result = deliver_once(f"https://localhost:{receiver.port}/tls", client=trusting_client())
    assert (result.outcome, result.response_excerpt) == (Outcome.DELIVERED, "tls ok")
    assert sni_names[-1] == "localhost"
    assert receiver.seen[-1].headers["host"] == f"localhost:{receiver.port}"

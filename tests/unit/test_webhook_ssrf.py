"""The SSRF gate, judged on literal addresses and numeric host spellings (no DNS needed)."""

import ipaddress

import pytest

from orchestration.webhooks import BlockedDestination, Target, resolve_target

BLOCKED = [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
    "198.18.0.1",
    "::1",
    "::",
    "fd00::1",
    "fe80::1",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::127.0.0.1",
    "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
    "2001:db8::1",
]
ALLOWED = ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


def url_for(address: str, port: int = 8080) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/hook"


@pytest.mark.parametrize("address", BLOCKED)
def test_internal_addresses_are_blocked(address: str) -> None:
    with pytest.raises(BlockedDestination, match="resolves to"):
        resolve_target(url_for(address), allow_private=False)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    target = resolve_target(url_for(address), allow_private=False)
    assert target.ip == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "0x7f.0.0.1", "017700000001", "127.1", "localhost"]
)
def test_numeric_spellings_of_loopback_are_judged_after_decoding(host: str) -> None:
    with pytest.raises(BlockedDestination, match="which is loopback"):
        resolve_target(f"http://{host}:8080/", allow_private=False)
    target = resolve_target(f"http://{host}:8080/", allow_private=True)
    assert target.ip.is_loopback
    assert target.host == host


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://user:pass@8.8.8.8/", "credentials"),
        ("http://user@8.8.8.8/", "credentials"),
        ("ftp://8.8.8.8/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("/relative/path", "scheme"),
        ("http:///nohost", "no host"),
        ("http://8.8.8.8:99999/", "out of range"),
        ("http://8.8.8.8:0/", "out of range"),
        ("http://8.8.8.8:-1/", "out of range"),
        ("http://8.8.8.8:abc/", "invalid URL"),
    ],
)
def test_malformed_or_credentialed_urls_are_blocked_even_when_private_is_allowed(
    url: str, reason: str
) -> None:
    with pytest.raises(BlockedDestination, match=reason):
        resolve_target(url, allow_private=True)


def test_target_pins_the_checked_address_and_keeps_the_name() -> None:
    target = resolve_target("https://[2606:4700::1111]/a/b?c=1&d=%20#frag", allow_private=False)
    assert target == Target(
        scheme="https",
        host="2606:4700::1111",
        port=443,
        path_and_query="/a/b?c=1&d=%20",
        ip=ipaddress.IPv6Address("2606:4700::1111"),
    )
    assert target.pinned_url == "https://[2606:4700::1111]:443/a/b?c=1&d=%20"
    assert target.host_header == "[2606:4700::1111]"


def test_host_header_carries_a_non_default_port() -> None:
    target = resolve_target("http://127.0.0.1:8443/x", allow_private=True)
    assert target.host_header == "127.0.0.1:8443"
    assert target.pinned_url == "http://127.0.0.1:8443/x"
    assert resolve_target("http://localhost:8443/", allow_private=True).host_header == (
        "localhost:8443"
    )

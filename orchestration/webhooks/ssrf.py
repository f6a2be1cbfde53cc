"""Decide whether a webhook URL may be contacted, and pin the address that was checked."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address really reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedDestination(Exception):
    """The URL may not be contacted; the message says why, for the delivery log."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # ASCII (IDNA) host as written in the URL: goes into Host and TLS SNI
    port: int
    path_and_query: str
    ip: IPAddress  # the checked address; the request must go here and nowhere else

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def pinned_url(self) -> str:
        """The URL with the host replaced by the checked address, so DNS cannot be asked twice."""
        ip = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        return f"{self.scheme}://{ip}:{self.port}{self.path_and_query}"


def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Parse and resolve `url`; refuse it if ANY address it resolves to is internal.

    Numeric hosts in any spelling (2130706433, 0x7f.1, 017700000001) are judged by the address
    getaddrinfo decodes them to. Raises BlockedDestination, or OSError if resolution fails.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BlockedDestination(f"invalid URL: {exc}") from exc
    if parsed.scheme not in DEFAULT_PORTS:
        raise BlockedDestination(f"scheme {parsed.scheme!r} is not http or https")
    if parsed.userinfo:
        raise BlockedDestination("URLs with credentials are refused")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise BlockedDestination("URL has no host")
    port = DEFAULT_PORTS[parsed.scheme] if parsed.port is None else parsed.port
    if not 0 < port < 65536:  # httpx.URL accepts any integer
        raise BlockedDestination(f"port {port} is out of range")

    addresses = [
        ipaddress.ip_address(info[4][0])
        for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    ]
    if not allow_private:
        for address in addresses:
            reason = _refusal(address)
            if reason is not None:
                raise BlockedDestination(f"{host} resolves to {address}, {reason}")
    return Target(parsed.scheme, host, port, parsed.raw_path.decode("ascii"), addresses[0])


def _refusal(address: IPAddress) -> str | None:
    """Why `address` is off limits, or None if it is a public unicast address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return _refusal(embedded)
    kinds = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        # is_global is True for some multicast ranges (224.0.0.1, ff02::1).
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        # Catches what the flags above miss, e.g. CGNAT 100.64.0.0/10.
        ("not globally routable", not address.is_global),
    )
    return next((f"which is {kind}" for kind, hit in kinds if hit), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address really reaches (mapped, NAT64 or 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour

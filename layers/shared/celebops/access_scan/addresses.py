"""Canonical source addresses and the allowlist of addresses and CIDR ranges."""

from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=65_536)
def canonical_address(raw: str) -> str | None:
    """Return the canonical spelling of a source address, or None when `raw` is not an IP address.

    One client has several spellings in `$context.identity.sourceIp`: with a port
    (`10.1.15.242:39870` behind some proxies), bracketed with a port (`[2001:db8::7]:50123`),
    upper-case or expanded IPv6, or IPv4-mapped IPv6. All of them become the `ipaddress` text form
    (IPv6 compressed and lower-case). `-` (no value) and `test-invoke-source-ip` (the API Gateway
    console's test button) return None.
    """
    if _is_canonical(raw):
        return raw
    return _canonical_by_ipaddress(raw)


# The first 10 bytes of IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses,
# which ipaddress and inet_ntop print differently.
_EMBEDDED_IPV4_PREFIX = bytes(10)


def _is_canonical(raw: str) -> bool:
    """Tell whether `raw` already is an address in canonical form, through the C parser and printer.

    Most sources are logged canonically, and this round trip takes a fraction of the time of
    ipaddress. glibc's inet_ntop writes the RFC 5952 form that ipaddress writes, apart from the
    embedded-IPv4 prefix, which is left to ipaddress. A unit test compares the two on random
    addresses. Any spelling that does not survive the round trip unchanged goes to ipaddress.
    """
    family = socket.AF_INET6 if ":" in raw else socket.AF_INET
    try:
        packed = socket.inet_pton(family, raw)
        printed = socket.inet_ntop(family, packed)
    except (OSError, ValueError):
        return False
    if family == socket.AF_INET6 and packed.startswith(_EMBEDDED_IPV4_PREFIX):
        return False
    return printed == raw


def _canonical_by_ipaddress(raw: str) -> str | None:
    text = raw.strip()
    if text.startswith("["):
        closing = text.find("]")
        if closing < 0:
            return None
        text = text[1:closing]
    elif text.count(":") == 1:
        # One colon is never IPv6 (which has at least two), so it separates an IPv4 address and a port.
        text = text.split(":", 1)[0]
    try:
        address: IPAddress = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def parse_network(entry: str) -> IPNetwork:
    """Parse one allowlist entry, an address or a CIDR range; raise ValueError naming the entry."""
    text = entry.strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None


@dataclass(frozen=True)
class Allowlist:
    """Addresses and CIDR ranges (monitoring probes, office egress) whose failures are ignored."""

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: tuple[str, ...]) -> Allowlist:
        return cls(tuple(parse_network(entry) for entry in entries))

    def contains(self, canonical: str) -> bool:
        """Tell whether a canonical address lies in one of the networks."""
        if not self.networks:
            return False
        address = ipaddress.ip_address(canonical)
        return any(address.version == network.version and address in network for network in self.networks)


def host_cidr(canonical: str) -> str:
    """Return the one-address CIDR of a canonical address, the form AWS WAF IP sets store."""
    address = ipaddress.ip_address(canonical)
    return f"{address}/{address.max_prefixlen}"


def address_version(canonical: str) -> int:
    """Return 4 or 6."""
    return ipaddress.ip_address(canonical).version

"""Canonical source addresses and the allowlist of addresses and CIDR ranges."""

from __future__ import annotations

import functools
import ipaddress
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

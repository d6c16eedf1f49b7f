"""The inet_pton round trip of canonical_address agrees with the ipaddress path on every spelling."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celebops.access_scan.addresses import _canonical_by_ipaddress, _is_canonical, canonical_address

SETTINGS = settings(max_examples=500, deadline=None)

# 16-bit groups biased to zero runs, where RFC 5952 compression has its edge cases.
GROUPS = st.sampled_from([0, 0, 0, 1, 0xFFFF, 0xDB8]) | st.integers(0, 0xFFFF)
IPV6_PACKED = st.lists(GROUPS, min_size=8, max_size=8).map(
    lambda groups: b"".join(g.to_bytes(2, "big") for g in groups)
)
IPV4_PACKED = st.binary(min_size=4, max_size=4)


@st.composite
def spellings(draw: st.DrawFn) -> str:
    """Draw an address in one of the spellings API Gateway logs, or a near miss."""
    if draw(st.booleans()):
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(draw(IPV4_PACKED))
    else:
        address = ipaddress.IPv6Address(draw(IPV6_PACKED))
    style = draw(st.sampled_from(["canonical", "upper", "exploded", "port", "bracketed", "mapped", "zeros", "space"]))
    text = str(address)
    if style == "upper":
        return text.upper()
    if style == "exploded":
        return address.exploded
    if style == "port":
        return f"{text}:{draw(st.integers(0, 65535))}" if address.version == 4 else f"[{text}]:443"
    if style == "bracketed":
        return f"[{text}]"
    if style == "mapped" and address.version == 4:
        return f"::ffff:{text}"
    if style == "zeros" and address.version == 4:
        return ".".join(f"0{octet}" for octet in text.split("."))
    if style == "space":
        return f" {text}"
    return text


@SETTINGS
@given(IPV6_PACKED)
def test_inet_ntop_prints_like_ipaddress(packed: bytes) -> None:
    if packed.startswith(bytes(10)):
        return

    assert socket.inet_ntop(socket.AF_INET6, packed) == str(ipaddress.IPv6Address(packed))


@SETTINGS
@given(spellings() | st.text(max_size=40))
def test_canonical_address_agrees_with_ipaddress(raw: str) -> None:
    assert canonical_address.__wrapped__(raw) == _canonical_by_ipaddress(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.5", True),
        ("2001:db8::7", True),
        ("2001:db8::0", False),
        ("2001:DB8::7", False),
        ("::ffff:203.0.113.5", False),
        ("::1", False),
        ("203.0.113.05", False),
        ("203.0.113.5:443", False),
        ("fe80::1%eth0", False),
        ("-", False),
        ("203.0.113.5\x00", False),
        ("caf\u00e9::1", False),
    ],
)
def test_round_trip_takes_only_canonical_text(raw: str, expected: bool) -> None:
    assert _is_canonical(raw) is expected

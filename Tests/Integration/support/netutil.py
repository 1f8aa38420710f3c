"""Small networking helpers shared by the integration tests and benchmarks."""

from __future__ import annotations

import ipaddress
import socket

LOOPBACK = "127.0.0.1"


def free_loopback_port() -> int:
    """Return a TCP port that is currently free on 127.0.0.1.

    We pick the port ourselves instead of letting temporalio do it, because the
    SDK's own picker briefly *listens* on 0.0.0.0, and tests must only ever
    listen on loopback.  The socket is closed without accepting a connection,
    so the port is not left in TIME_WAIT and the server can bind it without
    SO_REUSEADDR.  (There is an unavoidable small race with other processes
    grabbing the same ephemeral port; Linux randomises ephemeral ports, so it
    is rare.)
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _parse_proc_addr(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # /proc/net/tcp{,6} print addresses as host-endian 32-bit words.
    raw = bytes.fromhex(hex_addr)
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(swapped)


def listening_addresses(
    port: int,
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """All local addresses with a TCP socket in LISTEN state on ``port``.

    Reads /proc/net/tcp and /proc/net/tcp6 (Linux only), so it sees every
    process's sockets in this network namespace without needing `ss`.
    """
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.append(_parse_proc_addr(addr_hex))
    return found


def is_loopback(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8 (::ffff:127.x.y.z)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback

"""Which of this machine's addresses live sessions' media may use.

aioice (aiortc's ICE) gathers host candidates on every interface and has no option to choose them: a service told
to listen on 127.0.0.1 would still open UDP ports on every address it has. Its function that lists the addresses is
replaced, process-wide as aioice's own list is, by one that answers the chosen ones.
"""

from __future__ import annotations

import ipaddress
import socket

import aioice.ice

WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def media_addresses(configured: list[str], listen_host: str) -> list[str] | None:
    """The addresses to gather on: the configured ones, else the one the HTTP service listens on; None: every
    interface's (the service listens on all of them)."""
    if configured:
        return [str(ipaddress.ip_address(address)) for address in configured]
    if listen_host in WILDCARDS:
        return None
    try:
        return [str(ipaddress.ip_address(listen_host))]
    except ValueError:  # a name: what it resolves to
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(listen_host, None, proto=socket.IPPROTO_UDP)})


def restrict_media_to(addresses: list[str] | None) -> None:
    """Gather host candidates on `addresses` only (None: aioice's own choice, every interface but loopback)."""
    if addresses is None:
        aioice.ice.get_host_addresses = _EVERY_INTERFACE
        return
    chosen = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [address for address in chosen if (":" in address and use_ipv6) or (":" not in address and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses


_EVERY_INTERFACE = aioice.ice.get_host_addresses

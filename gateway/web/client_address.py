"""The caller's address, taken only from a header a trusted proxy wrote.

Behind a load balancer every connection comes from the balancer, so the peer
address says nothing about who is calling (throttling by it would lock out
every customer at once); and a header such as `X-Forwarded-For` can be sent
by anyone who reaches the gateway directly. So the address is read from the
configured header only on connections from a configured proxy, walking the
list from the right (each proxy appends the address it saw) past the trusted
proxies themselves. Anything else: no address (None), and nothing is keyed by
address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks (`10.0.0.0/8`); ValueError naming a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR block") from None
    return tuple(networks)


class TrustedProxies:
    """Reads the client address from `header` on connections from `proxies`."""

    def __init__(self, header: str = "", proxies: Iterable[str] = ()) -> None:
        self.header = header
        self.networks = parse_networks(proxies)

    @property
    def enabled(self) -> bool:
        return bool(self.header and self.networks)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_of(self, request: web.Request) -> str | None:
        """The caller's address as the nearest untrusted hop, or None if not vouched for."""
        if not self.enabled or request.remote is None or not self._trusted(request.remote):
            return None
        values = request.headers.getall(self.header, [])
        hops = [hop.strip() for value in values for hop in value.split(",")]
        if not hops:
            return None
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return None  # a hop we cannot read: trust nothing further left
            if not self._trusted(hop):
                return hop
        return hops[0]  # every hop is one of ours: the leftmost is the origin

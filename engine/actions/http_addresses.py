"""Which addresses the `http` action may connect to, and the address it connects to.

The host allow-list matches names; a name can resolve to anything (`localhost`, a record
pointing at 127.0.0.1 or 169.254.169.254, or one that changes between two lookups). So
every hop's host is resolved once here, each address is checked, and the request goes to
the checked address itself (the URL's host replaced by it, the name kept in the Host header
and as TLS SNI/certificate name): nothing resolves the name again, so there is no DNS
rebinding window. Loopback, private, link-local, multicast, unspecified, reserved and other
non-global addresses (IPv4-mapped IPv6 judged as the IPv4 address it maps) are refused
unless a network in `EngineConfig.http_allowed_networks` contains them.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_KINDS = ("loopback", "link_local", "multicast", "unspecified", "reserved", "private")


class AddressRefused(PermissionError):
    pass


@functools.lru_cache(maxsize=64)
def parse_networks(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """CIDRs ('10.0.0.0/8', '::1/128', a bare address = one host); ValueError names a bad one."""
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks)


def refusal(address: IPAddress, allowed: tuple[IPNetwork, ...]) -> str | None:
    """Why `address` may not be connected to (e.g. 'loopback'), or None when it may."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    effective: IPAddress = mapped or address
    if any(a in net for net in allowed for a in {address, effective} if a.version == net.version):
        return None
    for kind in _KINDS:
        if getattr(effective, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if effective.is_global else "non-global"


@dataclass(frozen=True)
class Pinned:
    url: httpx.URL  # the request URL with the host replaced by the checked address
    host_header: str  # the original authority (name[:port]) for the Host header
    sni_hostname: str | None  # the name TLS sends and verifies the certificate against
    address: str


async def pin(url: httpx.URL, networks: tuple[str, ...], timeout: float) -> Pinned:
    """Resolve `url`'s host once and choose the first address allowed; AddressRefused when
    none is (the message lists the addresses and why)."""
    host = url.raw_host.decode("ascii")
    allowed = parse_networks(networks)
    addresses = await _resolve(host, url.port or (443 if url.scheme == "https" else 80), timeout)
    reasons = []
    for address in addresses:
        why = refusal(address, allowed)
        if why is None:
            literal = _is_ip(host)
            return Pinned(
                url=url.copy_with(host=str(address)),
                host_header=url.netloc.decode("ascii"),
                sni_hostname=None if literal or url.scheme != "https" else host,
                address=str(address),
            )
        reasons.append(f"{address} ({why})")
    raise AddressRefused(
        f"host '{url.host}' resolves to {', '.join(reasons)}: not allowed "
        "(allow the network with http_allowed_networks / --http-allowed-network)"
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    if _is_ip(host):
        return [ipaddress.ip_address(host)]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError) as exc:
        raise AddressRefused(f"cannot resolve host '{host}': {exc or 'timed out'}") from None
    out: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])  # drop an IPv6 scope id
        if address not in out:
            out.append(address)
    return out

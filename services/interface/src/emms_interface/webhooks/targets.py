"""Which URLs a webhook may be sent to (server-side request forgery): checked when a URL is subscribed
and again before every delivery, on the addresses the host resolves to then (DNS rebinding).

- scheme ``http`` or ``https``; in production ``https`` only;
- with ``webhooks.allowed_hosts`` set, the host is one of them or ends in ``.<one of them>``;
- every address the host resolves to is global: loopback, private, link-local, multicast, reserved,
  unspecified and other non-global addresses (shared 100.64/10, documentation ranges) are refused unless
  ``webhooks.allow_private_targets`` (default: allowed outside production, refused in production).

A delivery connects to an address checked here (:class:`Target`), never to one of a second lookup.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL or an address of its host breaks a rule (the message names the host and the rule)."""


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    https_only: bool
    allow_private: bool
    allowed_hosts: tuple[str, ...] = ()
    resolve_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the addresses to connect to (in the resolver's order)."""

    url: str
    host: str
    addresses: tuple[IPAddress, ...]


def address_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one (``"loopback"``, ``"private"``…), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_kind(address.ipv4_mapped)
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "not global"


def check_url(policy: TargetPolicy, url: str) -> str:
    """The URL's host (lower case, IPv6 without brackets); TargetRefused for its scheme or host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise TargetRefused("url: not a valid URL") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise TargetRefused("url: an absolute http(s) URL")
    if policy.https_only and parts.scheme != "https":
        raise TargetRefused(f"url: host {host!r}: only https URLs are accepted in production")
    if policy.allowed_hosts and not any(host == s or host.endswith("." + s) for s in policy.allowed_hosts):
        raise TargetRefused(f"url: host {host!r} is not in webhooks.allowed_hosts {list(policy.allowed_hosts)}")
    return host


def check_address(policy: TargetPolicy, host: str, address: IPAddress) -> None:
    kind = address_kind(address)
    if kind is not None and not policy.allow_private:
        raise TargetRefused(f"url: host {host!r} resolves to {address} ({kind}): private and other non-public"
                            " targets are refused (webhooks.allow_private_targets)")


async def resolve(policy: TargetPolicy, url: str) -> Target:
    """Check ``url`` and every address its host resolves to now (the event loop's resolver)."""
    host = check_url(policy, url)
    addresses = await _addresses(policy, host)
    for address in addresses:
        check_address(policy, host, address)
    return Target(url, host, addresses)


async def _addresses(policy: TargetPolicy, host: str) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        async with asyncio.timeout(policy.resolve_timeout_s):
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        raise TargetRefused(f"url: host {host!r} does not resolve ({exc.__class__.__name__})") from None
    found = tuple(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not found:
        raise TargetRefused(f"url: host {host!r} does not resolve")
    return found

"""Helpers the configuration parsers share: reading files, addresses, masks and tokens."""

from __future__ import annotations

import ipaddress
import re
import shlex
from typing import Any

from zonewarden.errors import Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.intervals import IVS
from zonewarden.rules.ruleset import Rule


class LineError(ValueError):
    """A statement that cannot be used; the parser records it as skipped with this reason."""


def read_text(data: bytes) -> str:
    """Decode a configuration file; stray bytes never abort (they become U+FFFD)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def config_lines(text: str) -> list[str]:
    """The lines of a configuration as editors and ``grep -n`` number them: split at LF only (a CR
    before it dropped), unlike ``str.splitlines``, which also breaks at lone CR, form feed, the
    ASCII separators and Unicode line separators and so would put file:line references off."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def tokens(text: str) -> list[str]:
    """Shell-like words; an unbalanced quote keeps the rest of the line as one word."""
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError:
        return text.split()


def address(text: str, family: str = "any") -> IVS:
    """An address, prefix, ``addr/mask`` or ``a-b`` range; raises LineError."""
    try:
        result = iv.parse_address_ivs(text)
    except ValueError as exc:
        raise LineError(f"not an address: '{text}' ({exc})") from None
    return result


def address_mask(addr: str, mask: str) -> IVS:
    """Cisco ``a.b.c.d m.m.m.m`` (a netmask, or a wildcard mask when ``wildcard``)."""
    try:
        net = ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)
    except ValueError as exc:
        raise LineError(f"not an address and mask: '{addr} {mask}' ({exc})") from None
    return iv.network_ivs(net)


def wildcard_ivs(addr: str, wildcard: str) -> IVS:
    """Cisco ``a.b.c.d w.w.w.w`` with a wildcard (inverse) mask, contiguous or not."""
    try:
        a = int(ipaddress.IPv4Address(addr))
        w = int(ipaddress.IPv4Address(wildcard))
    except ValueError as exc:
        raise LineError(f"not an address and wildcard: '{addr} {wildcard}' ({exc})") from None
    inverted = (~w) & 0xFFFFFFFF
    # A contiguous wildcard (0.0.0.255) is a prefix: one interval.
    if (w + 1) & w == 0:
        base = a & inverted
        return ((base, base | w),)
    # Discontiguous wildcards: enumerate the free high bits (bounded) over the contiguous low part.
    low_bits = 0
    while (w >> low_bits) & 1:
        low_bits += 1
    high = w & ~((1 << low_bits) - 1)
    free = [b for b in range(32) if (high >> b) & 1]
    if len(free) > 12:
        raise LineError(f"wildcard mask {wildcard} has too many discontiguous bits to expand")
    pairs = []
    base = a & inverted
    for combo in range(1 << len(free)):
        value = base
        for i, b in enumerate(free):
            if (combo >> i) & 1:
                value |= 1 << b
        pairs.append((value, value | ((1 << low_bits) - 1)))
    return iv.ivs(pairs)


_PORT_RANGE = re.compile(r"^(\d+)?\s*[:-]\s*(\d+)?$")


def port_span(text: str, sep: str = ":") -> IVS:
    """``80``, ``1000:2000`` (iptables) or ``1000-2000``; open ends allowed (``:1024``)."""
    text = text.strip()
    try:
        if text.isdigit():
            n = int(text)
            if n > 65535:
                raise LineError(f"port {n} is out of range")
            return ((n, n),)
        m = _PORT_RANGE.match(text)
        if not m:
            from zonewarden.rules.ruleset import port_number

            n = port_number(text)
            return ((n, n),)
        lo = int(m.group(1)) if m.group(1) else 0
        hi = int(m.group(2)) if m.group(2) else 65535
    except ValueError as exc:
        raise LineError(str(exc)) from None
    if lo > hi or hi > 65535:
        raise LineError(f"port range '{text}' is empty or out of range")
    return ((lo, hi),)


def family_all(family: str) -> IVS:
    return {"ip": iv.V4_ALL, "ip6": iv.V6_ALL}.get(family, iv.ADDR_ALL)


def service_rules(
    services: list[tuple[Any, Any, Any]],
    action: str,
    src: Any,
    dst: Any,
    *,
    log: bool,
    in_ifaces: Any,
    out_ifaces: Any,
    chain: str,
    location: Location,
    text: str,
    name: str | None,
    conditions: list[str],
) -> list[Rule]:
    """One stateful rule per (protocols, source ports, destination ports) of a policy's services, as the
    zone-based platforms (FortiGate, SRX, PAN-OS) mean them; a service that matches no protocol gives none."""
    return [
        Rule(
            action,
            src,
            dst,
            proto,
            sport,
            dport,
            stateful=True,
            log=log,
            in_ifaces=in_ifaces,
            out_ifaces=out_ifaces,
            chain=chain,
            location=location,
            text=text,
            name=name,
            exact=not conditions,
            conditions=tuple(conditions),
        )
        for proto, sport, dport in services
        if proto
    ]

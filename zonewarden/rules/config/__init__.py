"""Firewall configuration parsers, one module per platform, registered in one table.

Each parser is ``parse(text, file) -> Ruleset``: statements it cannot use are
recorded in ``Ruleset.skipped`` with file:line and why (never an abort), and a
file that is not that platform's format at all raises :class:`ConfigError`
with the place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from zonewarden.rules.config import asa, fortigate, ios, iptables, nftables, panos, srx
from zonewarden.rules.config._common import read_text
from zonewarden.rules.ruleset import ConfigError, Ruleset

Parser = Callable[[str, str], Ruleset]

PARSERS: dict[str, Parser] = {
    "iptables": iptables.parse,
    "nftables": nftables.parse,
    "asa": asa.parse,
    "fortigate": fortigate.parse,
    "ios": ios.parse,
    "srx": srx.parse,
    "panos": panos.parse,
}
ALIASES = {
    "iptables-save": "iptables",
    "ip6tables": "iptables",
    "nft": "nftables",
    "cisco-asa": "asa",
    "fortios": "fortigate",
    "forti": "fortigate",
    "cisco-ios": "ios",
    "ios-xe": "ios",
    "juniper-srx": "srx",
    "junos": "srx",
    "juniper": "srx",
    "paloalto": "panos",
    "pan-os": "panos",
    "palo-alto": "panos",
}


def platform_name(name: str) -> str | None:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in PARSERS else None


def parse_text(platform: str, text: str, file: str) -> Ruleset:
    """Parse ``text`` as ``platform``; ConfigError (with file:line) when it is not that format."""
    name = platform_name(platform)
    if name is None:
        raise ConfigError(f"unknown platform '{platform}' (use one of: {', '.join(sorted(PARSERS))})")
    try:
        return PARSERS[name](text, file)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError("the configuration nests too deeply to read", None) from None


def parse_file(platform: str, path: Path, name: str | None = None) -> Ruleset:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return parse_text(platform, read_text(data), name or str(path))

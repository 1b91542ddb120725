"""Palo Alto Networks PAN-OS security rules (XML), zone-based, stateful.

Aerleon's ``paloalto`` target renders a ``<config>`` document for ``vsys1``: address
objects and address groups (named after the endpoint references), one service object
per flow and transport, and the security rules, one per (from zone, to zone) pair a flow
joins. Rules match on service, not App-ID (``application any``): the industrial
operation limits are in the DPI profile and the Suricata rules. The final rule denies any
zone to any zone, for IPv4 and IPv6, and logs at session end, as do the permits.
Post-processing: the ZoneWarden banner is an XML comment after the XML declaration.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.rules.generate.base import Context, Generator
from zonewarden.rules.generate.zones import by_zone_pair, zone_note


class PaloAlto(Generator):
    name: ClassVar[str] = "paloalto"
    title: ClassVar[str] = "Palo Alto Networks PAN-OS"
    target: ClassVar[str] = "paloalto"
    extension: ClassVar[str] = ".xml"
    aliases: ClassVar[tuple[str, ...]] = ("pan-os", "panos", "palo-alto")
    term_max: ClassVar[int] = 63
    clear_sessions: ClassVar[str] = "clear session all"
    apply: ClassVar[str] = (
        "import {file}, then load config partial (mode merge) of vsys1's address, address-group, "
        "service and rulebase/security nodes; commit"
    )
    notes: ClassVar[tuple[str, ...]] = (
        "rules match on service ports with application any (no App-ID)",
        "the final deny is universal: it also ends PAN-OS' default intrazone allow",
    )

    def header(self, ctx: Context) -> str:
        return "from-zone any to-zone any mixed"

    def device_notes(self, ctx: Context) -> list[str]:
        return [zone_note(ctx.device.zones, "zones")]

    def filters(self, ctx: Context) -> list[dict[str, Any]]:
        family = "mixed" if any(6 in t.families() for t in ctx.terms) else "inet"
        out = [
            self.filter(f"from-zone {src} to-zone {dst} {family}", [self.term(t, ctx, n) for t, n in members], ctx)
            for (src, dst), members in by_zone_pair(ctx.terms, self.term_max).items()
        ]
        out.append(self.filter("from-zone any to-zone any mixed", [self.deny(ctx)], ctx))
        return out

    def with_banner(self, text: str, banner: list[str]) -> str:
        body = "\n".join(f"  {line}".rstrip() for line in banner).replace("--", "- -")
        comment = f"<!--\n{body}\n-->\n"
        first, _, rest = text.partition("\n")
        if first.startswith("<?xml"):
            return first + "\n" + comment + rest
        return comment + text


GENERATOR = PaloAlto()

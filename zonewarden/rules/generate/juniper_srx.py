"""Juniper SRX security policies: one policy context per (from-zone, to-zone), global address book.

Aerleon's ``srx`` target renders ``replace:`` blocks for the global address book (address
sets named after the endpoint references: ``plc-trt``, ``scada``), the zone-pair policies
and the applications (one application set per flow). Flows with an ``any`` side go to the
global policy (``from-zone all to-zone all``) with the known side's zone as
``source-zone`` / ``destination-zone``. The final deny is the last global policy: an SRX
tries zone-pair policies before global ones, so it catches whatever no conduit allows,
and it logs at session init (permits log at session close). Stateful. Post-processing removes the
comment blocks Aerleon's ``$Id$`` keywords leave empty.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from zonewarden.rules.generate.base import Context, Generator
from zonewarden.rules.generate.zones import ANY, by_zone_pair, zone_note


class JuniperSRX(Generator):
    name: ClassVar[str] = "juniper-srx"
    title: ClassVar[str] = "Juniper SRX"
    target: ClassVar[str] = "srx"
    extension: ClassVar[str] = ".srx"
    aliases: ClassVar[tuple[str, ...]] = ("srx", "junos", "juniper")
    comment: ClassVar[str] = "#"
    term_max: ClassVar[int] = 63
    clear_sessions: ClassVar[str] = "clear security flow session all"
    apply: ClassVar[str] = "configure; load replace terminal (paste {file}); commit check; commit"

    def header(self, ctx: Context) -> str:
        return "from-zone all to-zone all"

    def device_notes(self, ctx: Context) -> list[str]:
        return [zone_note(ctx.device.zones, "security zones")]

    def filters(self, ctx: Context) -> list[dict[str, Any]]:
        family = "mixed" if any(6 in t.families() for t in ctx.terms) else "inet"
        out: list[dict[str, Any]] = []
        global_terms: list[dict[str, Any]] = []
        for (src, dst), members in by_zone_pair(ctx.terms, self.term_max).items():
            terms = [self.term(t, ctx, name) for t, name in members]
            if ANY in (src, dst):
                for term in terms:
                    if src != ANY:
                        term["source-zone"] = src
                    if dst != ANY:
                        term["destination-zone"] = dst
                global_terms.extend(terms)
            else:
                out.append(self.filter(f"from-zone {src} to-zone {dst} {family}", terms, ctx))
        out.append(self.filter(f"from-zone all to-zone all {family}", global_terms + [self.deny(ctx)], ctx))
        return out

    def finish(self, text: str, ctx: Context) -> str:
        return re.sub(r"^[ ]*/\*\n[ ]*\*/\n", "", text, flags=re.MULTILINE)  # emptied $Id$ comment blocks

    def with_banner(self, text: str, banner: list[str]) -> str:
        return "\n".join(f"# {line}".rstrip() for line in banner) + "\n\n" + text.lstrip("\n")


GENERATOR = JuniperSRX()

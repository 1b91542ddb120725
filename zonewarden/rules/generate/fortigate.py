"""Fortinet FortiGate (FortiOS CLI): firewall addresses, address groups, custom services, policies.

Aerleon's ``fortigate`` target renders ``config firewall address`` / ``addrgrp`` (named
after the endpoint references), ``config firewall service custom`` (one per flow) and
``config firewall policy`` with ``srcintf``/``dstintf`` set to the zones of each (from, to)
pair a flow joins: the FortiGate's zones (``config system zone``) or interfaces must be
named after the ZoneWarden zones. The final policy denies any to any and logs
(``logtraffic all``); permits log too. Stateful. Post-processing writes ``set action deny`` in
the final policy, which Aerleon leaves to FortiOS' default.
Aerleon numbers policies from 1 (``edit 1``...): on a FortiGate that already has
policies, those ids are overwritten; renumber, or move the block with ``move``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.rules.generate.base import FINAL_DENY, Context, Generator, Term
from zonewarden.rules.generate.zones import by_zone_pair, zone_note


class FortiGate(Generator):
    name: ClassVar[str] = "fortigate"
    title: ClassVar[str] = "Fortinet FortiGate"
    target: ClassVar[str] = "fortigate"
    extension: ClassVar[str] = ".conf"
    aliases: ClassVar[tuple[str, ...]] = ("fortios", "fortinet")
    term_max: ClassVar[int] = 35  # FortiOS policy names are at most 35 characters
    clear_sessions: ClassVar[str] = "diagnose sys session clear"
    apply: ClassVar[str] = "paste into the CLI (or execute script) in the VDOM that enforces the conduits"
    notes: ClassVar[tuple[str, ...]] = ("policy ids 1..N are set with 'edit N' and overwrite existing ids",)

    def header(self, ctx: Context) -> str:
        return "from-zone any to-zone any"

    def device_notes(self, ctx: Context) -> list[str]:
        return [zone_note(ctx.device.zones, "zones or interfaces")]

    def filters(self, ctx: Context) -> list[dict[str, Any]]:
        out = [
            self.filter(f"from-zone {src} to-zone {dst}", [self.term(t, ctx, n) for t, n in members], ctx)
            for (src, dst), members in by_zone_pair(ctx.terms, self.term_max).items()
        ]
        out.append(self.filter("from-zone any to-zone any", [self.deny(ctx)], ctx))
        return out

    def term(self, term: Term, ctx: Context, name: str | None = None) -> dict[str, Any]:
        out = super().term(term, ctx, name)
        if "logging" in out:
            out["option"] = "log_traffic_mode_all"
        return out

    def deny(self, ctx: Context) -> dict[str, Any]:
        return {**super().deny(ctx), "option": "log_traffic_mode_all"}

    def finish(self, text: str, ctx: Context) -> str:
        # Aerleon leaves 'deny' implicit (FortiOS' default action); say it in the final policy
        return text.replace(
            f'        set name "{FINAL_DENY}"\n', f'        set name "{FINAL_DENY}"\n        set action deny\n'
        )


GENERATOR = FortiGate()

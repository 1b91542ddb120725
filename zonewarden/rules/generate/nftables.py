"""nftables (Linux): one ``inet`` table with a forward base chain, one child chain per conduit flow.

Aerleon renders the chains (``ct state new`` on each permit, ``ct state established,related
accept`` at the top of the base chain, ``policy drop``). Post-processing, each said in the
banner or here: the table is named ``zonewarden`` and declared, deleted and redeclared at the
top so loading the file replaces the previous ruleset atomically (``nft -f`` is idempotent);
Aerleon's ``mixed`` (IPv4 + IPv6) family writes rules twice, so exact repeats within a
chain are dropped; log prefixes end in ": " so the log line reads ``default-deny: IN=...``.
"""

from __future__ import annotations

import re
from typing import ClassVar

from zonewarden.rules.generate.base import Context, Generator


class Nftables(Generator):
    name: ClassVar[str] = "nftables"
    title: ClassVar[str] = "nftables"
    target: ClassVar[str] = "nftables"
    extension: ClassVar[str] = ".nft"
    aliases: ClassVar[tuple[str, ...]] = ("nft",)
    term_max: ClassVar[int] = 63
    clear_sessions: ClassVar[str] = "conntrack -F"
    apply: ClassVar[str] = "nft -c -f {file} && nft -f {file} (replaces table inet zonewarden)"

    def header(self, ctx: Context) -> str:
        mixed = any(6 in t.families() for t in ctx.terms)
        return f"{'mixed' if mixed else 'inet'} forward 0"

    def finish(self, text: str, ctx: Context) -> str:
        lines: list[str] = []
        seen: set[str] = set()  # rules of the current chain
        for line in text.splitlines():
            if line.strip().startswith("chain ") or line.strip() == "}":
                seen = set()
            elif line.strip().endswith(("accept", "drop")) and line in seen:
                continue  # Aerleon's mixed family repeats rules within a chain
            seen.add(line)
            lines.append(line)
        text = "\n".join(lines) + "\n"
        text = re.sub(r'log prefix "([^"]*)"', r'log prefix "\1: "', text)
        match = re.match(r"table (\w+) filtering_policies \{", text)
        if match:
            family = match.group(1)
            text = f"table {family} zonewarden\ndelete table {family} zonewarden\n" + text.replace(
                "filtering_policies", "zonewarden", 1
            )
        return text


GENERATOR = Nftables()

"""iptables (Linux, iptables-restore format): the filter table's FORWARD chain, policy DROP.

Aerleon's ``speedway`` target is its iptables generator in iptables-restore format
(``*filter`` ... ``COMMIT``); IPv6 rules go to a second file for ip6tables-restore.
iptables has no address sets, so Aerleon writes one rule per source x destination
address (``ipset`` would be the alternative; it is not used to keep one file per device).
Each flow is a user chain ``F_<term>`` jumped to from FORWARD; chain names are limited to
24 characters, so long ``conduit.flow`` names become ``rNN.flow`` (the banner and each
chain's comment name the conduit and flow).

Stateful: the first rule accepts packets of established sessions (conntrack); permits
match new sessions (Aerleon writes ``--state NEW,ESTABLISHED,RELATED`` on them, which after
that first rule only ever sees new ones, so permit logging logs session starts).
Post-processing: log prefixes are quoted and end in ": ".
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from zonewarden.rules.generate.base import Context, Generator


class Iptables(Generator):
    name: ClassVar[str] = "iptables"
    title: ClassVar[str] = "iptables"
    target: ClassVar[str] = "speedway"
    extension: ClassVar[str] = ".ipt"
    term_max: ClassVar[int] = 24
    per_family_files: ClassVar[bool] = True
    clear_sessions: ClassVar[str] = "conntrack -F"
    apply: ClassVar[str] = (
        "iptables-restore --test {file} && iptables-restore {file} "
        "(ip6tables-restore for the .v6 file; replaces the whole filter table, INPUT and OUTPUT rules too)"
    )

    def header(self, ctx: Context) -> str:
        return f"FORWARD DROP {'inet6' if ctx.family == 6 else 'inet'}"

    def before(self, ctx: Context) -> list[dict[str, Any]]:
        return [
            {
                "name": "established",
                "comment": "replies and related packets of sessions a rule below allowed",
                "option": "established",
                "action": "accept",
            }
        ]

    def finish(self, text: str, ctx: Context) -> str:
        text = text.replace("# Speedway FORWARD Policy", "# iptables-restore: filter table, FORWARD chain", 1)
        return re.sub(r"--log-prefix (\S+)", r'--log-prefix "\1: "', text)


GENERATOR = Iptables()

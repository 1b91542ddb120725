"""iptables (Linux, iptables-restore format): the filter table's FORWARD chain, policy DROP.

Aerleon's ``speedway`` target is its iptables generator in iptables-restore format
(``*filter`` ... ``COMMIT``); IPv6 rules go to a second file for ip6tables-restore.
iptables has no address sets, so Aerleon writes one rule per source x destination
address (``ipset`` would be the alternative; it is not used to keep one file per device).
Each flow is a user chain ``F_<term>`` jumped to from FORWARD; chain names are limited to
24 characters, so long ``conduit.flow`` names become ``rNN.flow`` (the banner and each
chain's comment name the conduit and flow).

Post-processing: Aerleon writes each flow's comment as rules without a target; the comment is
moved onto every rule of the flow's chain instead (``-m comment``), so ``iptables -L`` shows it.
Stateful: the first rule accepts packets of established sessions (conntrack); permits
match new sessions (Aerleon writes ``--state NEW,ESTABLISHED,RELATED`` on them, which after
that first rule only ever sees new ones, so permit logging logs session starts).
Log prefixes are quoted and end in ": ".
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from zonewarden.rules.generate.base import Context, Generator

_COMMENT_ONLY = re.compile(r'^-A (\S+) -m comment --comment "([^"]*)"\n', re.MULTILINE)


class Iptables(Generator):
    name: ClassVar[str] = "iptables"
    title: ClassVar[str] = "iptables"
    target: ClassVar[str] = "speedway"
    extension: ClassVar[str] = ".ipt"
    term_max: ClassVar[int] = 24
    per_family_files: ClassVar[bool] = True
    clear_sessions: ClassVar[str] = "conntrack -F"
    apply: ClassVar[str] = (
        "{tool} --test {file} && {tool} {file} (replaces the whole filter table, INPUT and OUTPUT rules too)"
    )

    def apply_text(self, ctx: Context, filename: str) -> str:
        tool = "ip6tables-restore" if ctx.family == 6 else "iptables-restore"
        return self.apply.format(file=filename, tool=tool)

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
        text = re.sub(r"--log-prefix (\S+)", r'--log-prefix "\1: "', text)
        # Aerleon writes a term's comment as target-less rules; put it on each of the chain's rules instead
        comments: dict[str, list[str]] = {}
        for chain, comment in _COMMENT_ONLY.findall(text):
            comments.setdefault(chain, []).append(comment)
        text = _COMMENT_ONLY.sub("", text)

        def annotate(m: re.Match[str]) -> str:
            chain = m.group(1)
            if chain not in comments:
                return m.group(0)
            joined = " ".join(comments[chain])[:255]
            return f'-A {chain} -m comment --comment "{joined}"{m.group(2)}'

        return re.sub(r"^-A (\S+)( .*)$", annotate, text, flags=re.MULTILINE)


GENERATOR = Iptables()

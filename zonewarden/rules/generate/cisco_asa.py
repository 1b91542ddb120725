"""Cisco ASA extended access list, stateful, with network object-groups.

Aerleon's ``ciscoasa`` target renders one extended ACL with one entry per source x
destination address. ASA has object-groups, so post-processing folds each flow's entries
back into network object-groups named after the endpoint references (``scada-srv-a_scada-srv-b``,
or ``<flow>.src`` / ``<flow>.dst`` when that is too long). It folds only entries that are
exactly the full address product, so nothing is widened; other entries stay as rendered.
Aerleon's ASA generator renders IPv4 only: IPv6 rules are left out and the
banner says so. Stateful: the ASA passes replies of a permitted connection; permits
log connection creation (message 106100) and the final deny logs.
Re-applying: ``clear configure access-list`` replaces the ACL; object-groups with the same
name are merged (remove stale ones by hand).
"""

from __future__ import annotations

import re
from typing import ClassVar

from zonewarden.rules.generate.base import Context, Generator, Objects, _token

_ENTRY = re.compile(r"^access-list (?P<acl>\S+) extended (?P<action>permit|deny) (?P<proto>\S+) (?P<rest>.*)$")
_ADDR = re.compile(r"^(any4|any6|any|host \S+|\d+\.\d+\.\d+\.\d+ \d+\.\d+\.\d+\.\d+)(?: |$)")


class CiscoASA(Generator):
    name: ClassVar[str] = "cisco-asa"
    title: ClassVar[str] = "Cisco ASA"
    target: ClassVar[str] = "ciscoasa"
    extension: ClassVar[str] = ".asa"
    aliases: ClassVar[tuple[str, ...]] = ("asa",)
    comment: ClassVar[str] = "!"
    term_max: ClassVar[int] = 60  # object-group names add ".src"/".dst" within ASA's 64
    families: ClassVar[tuple[int, ...]] = (4,)
    clear_sessions: ClassVar[str] = "clear conn all"
    apply: ClassVar[str] = "configure terminal, paste; access-group {name} global (or in interface <nameif>)"

    def header(self, ctx: Context) -> str:
        return _token(ctx.name)

    def finish(self, text: str, ctx: Context) -> str:
        groups: list[str] = []
        out: list[str] = []
        block: list[str] = []
        name = ""

        refs = {t.name: (t.sources, t.destinations) for t in ctx.terms}
        defined: set[str] = set()

        def flush() -> None:
            if block:
                sides = refs.get(name, ((), ()))
                out.extend(self._grouped(name, block, groups, defined, sides))
            block.clear()

        after_remark = False
        for line in text.splitlines():
            remark = re.match(r"^access-list \S+ remark (.*)$", line)
            if remark:
                flush()
                if not after_remark:  # a flow's first remark is its term name
                    name = remark.group(1)
                after_remark = True
                out.append(line)
                continue
            after_remark = False
            if _ENTRY.match(line):
                block.append(line)
            else:
                flush()
                out.append(line)
        flush()
        if not groups:
            return "\n".join(out) + "\n"
        head = [out[0]] if out and out[0].startswith("clear configure") else []
        return "\n".join(head + groups + [""] + out[len(head) :]) + "\n"

    def _grouped(
        self, name: str, lines: list[str], groups: list[str], defined: set[str], sides: tuple[Objects, Objects]
    ) -> list[str]:
        """A flow's entries with object-groups, or unchanged when they are not a full address product."""
        parsed = []
        for line in lines:
            m = _ENTRY.match(line)
            assert m is not None
            src = _ADDR.match(m["rest"])
            if not src:
                return lines
            rest = m["rest"][src.end() :]
            dst = _ADDR.match(rest)
            if not dst:
                return lines
            parsed.append((m["acl"], m["action"], m["proto"], src.group(1), dst.group(1), rest[dst.end() :]))
        srcs = list(dict.fromkeys(p[3] for p in parsed))
        dsts = list(dict.fromkeys(p[4] for p in parsed))
        tails = list(dict.fromkeys((p[0], p[1], p[2], p[5]) for p in parsed))
        product = {(t, s, d) for t in tails for s in srcs for d in dsts}
        if len(srcs) * len(dsts) == 1 or {((p[0], p[1], p[2], p[5]), p[3], p[4]) for p in parsed} != product:
            return lines
        if len(parsed) != len(product):
            return lines
        src_ref = self._group(_group_name(sides[0], f"{name}.src"), srcs, groups, defined) if len(srcs) > 1 else srcs[0]
        dst_ref = self._group(_group_name(sides[1], f"{name}.dst"), dsts, groups, defined) if len(dsts) > 1 else dsts[0]
        out = []
        for acl, action, proto, tail in tails:
            out.append(f"access-list {acl} extended {action} {proto} {src_ref} {dst_ref}{' ' + tail if tail else ''}")
        return out

    @staticmethod
    def _group(name: str, members: list[str], groups: list[str], defined: set[str]) -> str:
        if name not in defined:
            defined.add(name)
            groups.append(f"object-group network {name}")
            for member in members:
                groups.append(f" network-object {member}")
        return f"object-group {name}"


def _group_name(objects: Objects, fallback: str) -> str:
    """A group is named after the endpoint references it stands for (``scada-srv-a_scada-srv-b``),
    so flows with the same endpoints share it; the flow's name when that is too long."""
    name = "_".join(_token(ref) for ref, _ in objects)
    return name if objects and len(name) <= 64 else fallback


GENERATOR = CiscoASA()

"""Cisco IOS / IOS-XE extended ACL: stateless, so replies are explicit entries.

Aerleon's ``cisco`` target renders a named extended ACL (``ip access-list extended``) and,
for IPv6 rules, a second one (``ipv6 access-list <name>-v6``). An ACL keeps no state, so
after each permit this generator adds its reply entry: responder -> initiator from the
service ports, TCP with ``established`` (ACK or RST set), UDP by source port, ICMP as
echo-reply, unreachable and time-exceeded, and for an any-protocol flow any IP back.
This is weaker than a stateful firewall (UDP replies are matched by port only); use the
ASA target, or CBAC/ZBF on the router, where that matters.

Not Aerleon's object-group mode: it writes IOS-XR syntax (``net-group``, ``port-group``)
that IOS and IOS-XE do not accept, so the ACL has one entry per address pair.
Applied inbound, the ACL also filters traffic to the router itself, so flows to the device stay
in it, and the banner warns that management and routing protocols need entries of their own.
Permits are not logged: ``log`` on an ACL entry sends matching packets to the CPU,
which a polling SCADA link would keep busy; the final deny logs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.rules.generate.base import Context, Generator, Term, _token


class CiscoIOS(Generator):
    name: ClassVar[str] = "cisco-ios"
    title: ClassVar[str] = "Cisco IOS extended ACL"
    target: ClassVar[str] = "cisco"
    extension: ClassVar[str] = ".acl"
    aliases: ClassVar[tuple[str, ...]] = ("ios", "cisco", "ios-xe")
    comment: ClassVar[str] = "!"
    stateful: ClassVar[bool] = False
    log_permits: ClassVar[bool] = False
    filters_own_traffic: ClassVar[bool] = True  # an inbound interface ACL also filters traffic to the router
    term_max: ClassVar[int] = 100
    apply: ClassVar[str] = (
        "configure terminal, paste; then on every interface facing a zone: ip access-group {name} in"
        " (and ipv6 traffic-filter {name}-v6 in where the -v6 list exists)"
    )
    notes: ClassVar[tuple[str, ...]] = (
        "permits are not logged ('log' punts packets to the CPU); the final deny logs",
        "one entry per address pair: Aerleon's object-group ACLs are IOS-XR syntax",
        "applied inbound, the final deny also drops traffic to the router itself (SSH, SNMP, routing"
        " protocols): add entries for them before applying",
    )

    def header(self, ctx: Context) -> str:
        return f"{_token(ctx.name)} extended"

    def filters(self, ctx: Context) -> list[dict[str, Any]]:
        out = []
        for family, options in ((4, f"{_token(ctx.name)} extended"), (6, f"{_token(ctx.name)}-v6 inet6")):
            terms = [t for t in ctx.terms if family in t.families()]
            if family == 6 and not terms:
                continue
            body: list[dict[str, Any]] = []
            for term in terms:
                body.append(self.term(term, ctx))
                body.extend(self.replies(term, ctx))
            out.append(self.filter(options, body + [self.deny(ctx)], ctx))
        return out

    def replies(self, term: Term, ctx: Context) -> list[dict[str, Any]]:
        defs = ctx.definitions
        base: dict[str, Any] = {"action": "accept", "comment": f"replies of {term.conduit}/{term.flow} (stateless)"}
        if term.destinations:
            base["source-address"] = " ".join(defs.network(ref, nets) for ref, nets in term.destinations)
        if term.sources:
            base["destination-address"] = " ".join(defs.network(ref, nets) for ref, nets in term.sources)
        if not term.protocols:
            return [{**base, "name": f"{term.name}.reply"}]
        out = []
        for protocol in term.protocols:
            reply = {**base, "name": f"{term.name}.reply" + (f".{protocol}" if len(term.protocols) > 1 else "")}
            reply["protocol"] = protocol
            if protocol in ("tcp", "udp") and term.ports:
                reply["source-port"] = defs.service(term.name, (protocol,), term.ports)
            if protocol == "tcp":
                reply["option"] = "tcp-established"
            if protocol in ("icmp", "icmpv6"):
                reply["icmp-type"] = (
                    "echo-reply unreachable time-exceeded"
                    if protocol == "icmp"
                    else "echo-reply destination-unreachable time-exceeded"
                )
            out.append(reply)
        return out


GENERATOR = CiscoIOS()

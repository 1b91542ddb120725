"""What every firewall generator shares: policy rules -> Aerleon terms and definitions -> text.

A :class:`Generator` subclass declares its platform's facts as class constants (Aerleon
target, file extension, stateful or not, whether permits are logged, term-name limit,
address families) and overrides only what differs: the filter headers (zone pairs on
zone-based platforms), extra terms (replies on a stateless ACL) and post-processing of
what Aerleon renders. :meth:`Generator.render` runs the pipeline for one device:

1. :func:`build_terms`: the device's policy rules, one term per conduit flow (both
   transports in one term when their ports are equal), named ``conduit.flow``;
2. Aerleon definitions: one network object per endpoint reference (``plc-trt``,
   ``scada``, ``net-10-1-20-0-24``), one service per term and transport (Aerleon matches a
   term's ports whatever their declared protocol, so each transport gets its own);
3. ``aerleon.api.Generate`` renders the filters; its warnings are kept as notes;
4. post-processing: Aerleon's ``$Id$``/``$Date$``/``$Revision$`` keywords are removed so the
   output is deterministic, runs of blank lines are collapsed, and the platform's own
   fixes are applied; a ZoneWarden banner (device, conduits, design, how to apply, one
   line per rule) is put in front, in the platform's comment syntax.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from zonewarden.rules.policy import Device, Network, PolicyRule

FINAL_DENY = "default-deny"
Objects = tuple[tuple[str, tuple[Network, ...]], ...]


class GenerateError(Exception):
    """A ruleset could not be rendered (an Aerleon error, with the device and platform)."""


@dataclass(frozen=True)
class Term:
    """One permit to render: the policy rules of one conduit flow that share their ports."""

    name: str  # unique in its file, within the platform's length limit
    conduit: str
    flow: str
    protocols: tuple[str, ...]  # Aerleon protocols: tcp, udp, icmp, icmpv6; () = any IP protocol
    ports: tuple[tuple[int, int], ...]  # destination port ranges; () = any
    sources: Objects  # named objects; () = any address
    destinations: Objects
    src_zones: tuple[str, ...]  # () = any
    dst_zones: tuple[str, ...]
    log: bool
    life_safety: bool
    restricted: bool  # the flow restricts industrial operations (DPI / IPS rules exist)
    rules: tuple[PolicyRule, ...] = field(repr=False)

    def families(self) -> frozenset[int]:
        """IP versions this term can match on both sides."""

        def side(objects: Objects) -> frozenset[int]:
            return frozenset({4, 6}) if not objects else frozenset(n.version for _, nets in objects for n in nets)

        return side(self.sources) & side(self.destinations)

    @property
    def service(self) -> str:
        ports = ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ports)
        if not self.protocols:
            return "any protocol"
        return "+".join(self.protocols) + (f"/{ports}" if ports else "")


def _token(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def build_terms(rules: tuple[PolicyRule, ...], term_max: int) -> list[Term]:
    """The rules of a device as terms, in policy order: one per conduit flow, split by transport
    only when the transports' ports differ, and ICMP split per IP version (icmp / icmpv6)."""
    groups: dict[tuple[str, str], list[PolicyRule]] = {}
    for rule in rules:
        groups.setdefault((rule.conduit, rule.flow), []).append(rule)
    raw: list[tuple[str, str, list[PolicyRule], tuple[str, ...]]] = []  # (name, suffix, rules, protocols)
    for (conduit, flow), members in groups.items():
        base = f"{conduit}.{flow}"
        by_ports: dict[tuple[tuple[int, int], ...], list[PolicyRule]] = {}
        for rule in members:
            by_ports.setdefault(rule.ports, []).append(rule)
        for part in by_ports.values():
            suffix = f".{part[0].transport}" if len(by_ports) > 1 else ""
            transports = [r.transport for r in part]
            if "any" in transports:
                raw.append((base, suffix, part, ()))
            elif transports == ["icmp"]:
                versions = {n.version for n in part[0].sources + part[0].destinations} or {4, 6}
                for v in sorted(versions):
                    raw.append((base, suffix + (f".v{v}" if len(versions) > 1 else ""), part, (
                        "icmp" if v == 4 else "icmpv6",
                    )))  # fmt: skip
            else:
                raw.append((base, suffix, part, tuple(sorted(transports))))
    terms: list[Term] = []
    for index, (base, suffix, part, protocols) in enumerate(raw, start=1):
        name = _token(base + suffix)
        if len(name) > term_max:  # rNN keeps it unique; the banner and comments name conduit and flow
            short = _token(suffix)
            name = (_token(f"r{index:02d}.{part[0].flow}")[: term_max - len(short)] + short)[:term_max]
        first = part[0]
        sources, destinations = first.source_objects, first.destination_objects
        if protocols in (("icmp",), ("icmpv6",)):
            v = 4 if protocols == ("icmp",) else 6
            sources = _only_version(sources, v)
            destinations = _only_version(destinations, v)
        terms.append(
            Term(
                name=name,
                conduit=first.conduit,
                flow=first.flow,
                protocols=protocols,
                ports=first.ports,
                sources=sources,
                destinations=destinations,
                src_zones=first.src_zones,
                dst_zones=first.dst_zones,
                log=first.log,
                life_safety=first.life_safety,
                restricted=first.operations is not None,
                rules=tuple(part),
            )
        )
    return terms


def _only_version(objects: Objects, version: int) -> Objects:
    return tuple((ref, tuple(n for n in nets if n.version == version)) for ref, nets in objects if nets)


@dataclass
class Definitions:
    """Aerleon naming definitions built while terms are turned into dicts."""

    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _by_ref: dict[tuple[str, tuple[Network, ...]], str] = field(default_factory=dict)

    def network(self, ref: str, nets: tuple[Network, ...]) -> str:
        """The token of an endpoint reference: its id, or net-<address> for a literal subnet."""
        key = (ref, nets)
        if key in self._by_ref:
            return self._by_ref[key]
        literal = _is_literal(ref)
        base = re.sub(r"[^A-Za-z0-9_-]", "-", f"net-{ref}" if literal else ref)
        token, n = base, 1
        while token in self.networks:
            n += 1
            token = f"{base}-{n}"
        self.networks[token] = {"values": [{"address": str(net), "comment": ref} for net in nets]}
        self._by_ref[key] = token
        return token

    def service(self, name: str, protocols: tuple[str, ...], ports: tuple[tuple[int, int], ...]) -> str:
        """One service with every port on every protocol of a term (Aerleon warns on a service
        that lacks one of the term's protocols)."""
        token = re.sub(r"[^A-Za-z0-9_-]", "-", f"{name}-" + "-".join(protocols))
        self.services[token] = [
            {"port": str(lo) if lo == hi else f"{lo}-{hi}", "protocol": protocol}
            for protocol in protocols
            for lo, hi in ports
        ]
        return token

    def as_dict(self) -> dict[str, Any]:
        return {"networks": self.networks, "services": self.services}


def _is_literal(ref: str) -> bool:
    try:
        ipaddress.ip_network(ref, strict=False)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class RulesetFile:
    """One generated file: a device's ruleset for a platform (or one address family of it)."""

    filename: str
    text: str
    device: str
    platform: str
    terms: int  # permit terms rendered (without the final deny and helper terms)
    notes: tuple[str, ...] = ()


@dataclass
class Context:
    """What a generator needs while rendering one device."""

    device: Device
    terms: list[Term]
    island: bool
    definitions: Definitions = field(default_factory=Definitions)
    family: int | None = None  # the address family of this file, for per-family platforms

    @property
    def name(self) -> str:
        return self.device.id + (".island" if self.island else "")


class Generator:
    """A firewall platform: facts as class constants, rendering through Aerleon."""

    name: ClassVar[str]  # the --platform name
    title: ClassVar[str]
    target: ClassVar[str]  # Aerleon target
    extension: ClassVar[str]  # file extension, with the dot
    aliases: ClassVar[tuple[str, ...]] = ()
    comment: ClassVar[str] = "#"  # line comment of the banner
    stateful: ClassVar[bool] = True
    log_permits: ClassVar[bool] = True  # permits log their sessions (stateful platforms log session starts/ends)
    term_max: ClassVar[int] = 63
    per_family_files: ClassVar[bool] = False  # one file per IP version (iptables / ip6tables)
    families: ClassVar[tuple[int, ...]] = (4, 6)  # IP versions the platform renders
    apply: ClassVar[str] = ""  # how to load the file ({file}, {name} are filled in)
    clear_sessions: ClassVar[str] = ""  # how to drop existing sessions (island mode on a stateful platform)
    filters_own_traffic: ClassVar[bool] = False  # the ruleset also filters traffic to the device itself
    notes: ClassVar[tuple[str, ...]] = ()  # what Aerleon does not do here and how it is handled

    # --- pipeline ---------------------------------------------------------------------------

    def render(self, device: Device, rules: tuple[PolicyRule, ...], island: bool = False) -> list[RulesetFile]:
        """The ruleset files of ``device`` for ``rules`` (already filtered for island mode)."""
        own = () if self.filters_own_traffic else tuple(r for r in rules if r.touches(device))
        terms = build_terms(tuple(r for r in rules if r not in own), self.term_max)
        present = {v for t in terms for v in t.families()} or {4}
        files: list[RulesetFile] = []
        versions: list[int | None] = [None]
        if self.per_family_files:
            versions = [v for v in sorted(present & set(self.families))] or [4]
        for family in versions:
            ctx = Context(device, [t for t in terms if family is None or family in t.families()], island)
            ctx.family = family
            text, warnings = self._aerleon(ctx)
            text = self.finish(_strip_keywords(text), ctx)
            notes = list(self.notes) + self.device_notes(ctx) + warnings
            if own:
                names = ", ".join(dict.fromkeys(r.name for r in own))
                notes.append(
                    f"flows to or from {device.id} itself are not forwarded traffic and are not in this ruleset: "
                    f"{names}; allow them in the device's own services (local-in, host-inbound, INPUT)"
                )
            dropped = sorted(t.name for t in terms if not (t.families() & set(self.families)))
            if dropped:
                notes.append(f"not rendered (no IP version {self.title} renders here): {', '.join(dropped)}")
            if 6 in present and 6 not in self.families:
                notes.append(f"IPv6 addresses are left out: {self.title} is rendered for IPv4 only")
            suffix = ".v6" if family == 6 else ""
            filename = f"{ctx.name}{suffix}{self.extension}"
            banner = self.banner(ctx, filename, notes)
            files.append(
                RulesetFile(
                    filename, self.with_banner(text, banner), device.id, self.name, len(ctx.terms), tuple(notes)
                )
            )
        return files

    def _aerleon(self, ctx: Context) -> tuple[str, list[str]]:
        from aerleon import api
        from aerleon.lib import naming

        filters = self.filters(ctx)
        policy: Any = {"filename": "zonewarden", "filters": filters}  # Aerleon's PolicyDict
        definitions = naming.Naming()
        definitions.ParseDefinitionsObject(ctx.definitions.as_dict(), "zonewarden")
        with _captured_warnings() as warnings:
            try:
                out = api.Generate([policy], definitions)
            except Exception as exc:  # Aerleon raises many unrelated types; name the device and platform
                raise GenerateError(f"{self.title} ruleset for {ctx.device.id}: {exc}") from exc
        if not out:
            raise GenerateError(f"{self.title} ruleset for {ctx.device.id}: Aerleon rendered nothing")
        (text,) = out.values()
        return text, sorted(set(warnings))

    # --- hooks --------------------------------------------------------------------------------

    def filters(self, ctx: Context) -> list[dict[str, Any]]:
        """The Aerleon filters: by default one, with every permit then the final deny."""
        terms = [self.term(t, ctx) for t in ctx.terms]
        return [self.filter(self.header(ctx), self.before(ctx) + terms + self.after(ctx) + [self.deny(ctx)], ctx)]

    def filter(self, options: str, terms: list[dict[str, Any]], ctx: Context) -> dict[str, Any]:
        return {"header": {"targets": {self.target: options}}, "terms": terms}

    def header(self, ctx: Context) -> str:
        raise NotImplementedError

    def before(self, ctx: Context) -> list[dict[str, Any]]:
        """Terms before the permits (e.g. accepting established sessions)."""
        return []

    def after(self, ctx: Context) -> list[dict[str, Any]]:
        """Terms after the permits, before the final deny (e.g. stateless replies)."""
        return []

    def term(self, term: Term, ctx: Context, name: str | None = None) -> dict[str, Any]:
        """The Aerleon term of a permit."""
        out: dict[str, Any] = {"name": name or term.name, "comment": self.term_comment(term), "action": "accept"}
        defs = ctx.definitions
        if term.sources:
            out["source-address"] = " ".join(defs.network(ref, nets) for ref, nets in term.sources)
        if term.destinations:
            out["destination-address"] = " ".join(defs.network(ref, nets) for ref, nets in term.destinations)
        if term.protocols:
            out["protocol"] = " ".join(term.protocols)
        if term.ports:
            out["destination-port"] = defs.service(term.name, term.protocols, term.ports)
        if term.log and self.log_permits:
            out["logging"] = "true"
        return out

    def deny(self, ctx: Context) -> dict[str, Any]:
        """The explicit final deny, logged (SR 6.2)."""
        return {
            "name": FINAL_DENY,
            "comment": "deny and log everything no conduit allows (SR 5.2 RE 1, SR 6.2)",
            "action": "deny",
            "logging": "true",
        }

    def term_comment(self, term: Term) -> str:
        extra = []
        if term.restricted:
            extra.append("operations restricted, see DPI and IPS rules")
        if term.life_safety:
            extra.append("life-safety")
        return f"conduit {term.conduit} flow {term.flow}" + (f" ({'; '.join(extra)})" if extra else "")

    def apply_text(self, ctx: Context, filename: str) -> str:
        """How to load this file."""
        return self.apply.format(file=filename, name=_token(ctx.name))

    def device_notes(self, ctx: Context) -> list[str]:
        """Notes for the banner that depend on the device (e.g. the zone names it must have)."""
        return []

    def finish(self, text: str, ctx: Context) -> str:
        """Platform post-processing of Aerleon's text (after keyword stripping)."""
        return text

    # --- banner ---------------------------------------------------------------------------------

    def banner(self, ctx: Context, filename: str, notes: list[str]) -> list[str]:
        device = ctx.device
        lines = [
            f"ZoneWarden ruleset for {device.id}" + (f": {device.label}" if device.label != device.id else ""),
            f"Platform: {self.title}" + (f", IPv{ctx.family}" if ctx.family else ""),
        ]
        if ctx.island:
            lines.append("ISLAND MODE (SR 5.2 RE 2): every flow is denied except those marked life_safety.")
            if self.clear_sessions:
                lines.append(
                    "Sessions opened before the switch survive it: after loading, clear them: " + self.clear_sessions
                )
        lines += [
            f"Conduits: {', '.join(device.conduits)}",
            f"Zones: {', '.join(device.zones)}",
            "Deny by default, allow by exception (IEC 62443-3-3 SR 5.2 RE 1); the last rule denies",
            "and logs everything else (SR 6.2). A rule lets the initiator open a session to the responder.",
            (
                "Stateful: replies of an allowed session pass by connection tracking."
                if self.stateful
                else "Stateless: replies are allowed by explicit reply entries (TCP: established)."
            ),
        ]
        if self.apply:
            lines.append("Apply: " + self.apply_text(ctx, filename))
        for note in notes:
            lines.append(f"Note: {note}")
        lines.append("Rules (initiator -> responder, service):")
        if not ctx.terms:
            lines.append("  (none: everything is denied)")
        for term in ctx.terms:
            src = ", ".join(ref for ref, _ in term.sources) or "any"
            dst = ", ".join(ref for ref, _ in term.destinations) or "any"
            flags = (" [operations restricted]" if term.restricted else "") + (
                " [life-safety]" if term.life_safety else ""
            )
            lines.append(f"  {term.name}: {src} -> {dst}, {term.service}{flags}")
        return lines

    def with_banner(self, text: str, banner: list[str]) -> str:
        prefix = "\n".join(f"{self.comment} {line}".rstrip() for line in banner)
        return prefix + "\n\n" + text.lstrip("\n")


_KEYWORD = re.compile(r"^.*\$(?:Id|Date|Revision):[^$\n]*\$.*\n?", re.MULTILINE)


def _strip_keywords(text: str) -> str:
    """Drop Aerleon's version-control keyword lines and collapse blank runs (deterministic output)."""
    text = _KEYWORD.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


@contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """Aerleon logs through absl; keep its warnings (as notes) and keep them off the console."""
    found: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                found.append(re.sub(r"^WARNING:\s*", "", record.getMessage().strip()))

    logger = logging.getLogger("absl")
    handler = _Keep()
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

"""Firewall rulesets from the policy: one generator module per platform, all listed in :data:`PLATFORMS`.

Each platform module defines one :class:`~zonewarden.rules.generate.base.Generator`
subclass whose class constants are the platform's facts: the Aerleon target that renders
its L3/L4 rules, the file extension, whether it is stateful, whether permits are logged,
the term-name limit, the IP versions it renders, how to apply the file, and what Aerleon
does not do there (post-processing, said in the module docstring and in each file's banner).
Add a platform by writing its module and listing its ``GENERATOR`` below.

| platform     | Aerleon target | file   | state     | objects                                   |
|--------------|----------------|--------|-----------|-------------------------------------------|
| nftables     | nftables       | .nft   | stateful  | anonymous sets per rule                   |
| iptables     | speedway       | .ipt   | stateful  | none (one rule per address pair)          |
| cisco-ios    | cisco          | .acl   | stateless | none (Aerleon's object-group is IOS-XR)   |
| cisco-asa    | ciscoasa       | .asa   | stateful  | network object-groups (post-processed)    |
| juniper-srx  | srx            | .srx   | stateful  | global address book, address sets         |
| paloalto     | paloalto       | .xml   | stateful  | address objects and groups, services      |
| fortigate    | fortigate      | .conf  | stateful  | firewall address, addrgrp, custom service |

Which rules a device gets, and the final deny, are the same for every platform:
:func:`render` takes a device of :meth:`Policy.devices` and renders the rules of the
conduits it enforces (in island mode only its life-safety rules, see
:mod:`zonewarden.rules.island`). Flows to or from the device itself are left to its own
services and named in the banner (except on IOS, whose inbound ACL filters them). A data
diode gets no ruleset. Each file starts with a banner in the platform's comment syntax:
device, conduits, zones, the design (deny by default, logged final deny, stateful or
not), how to apply it, notes, and one line per rule (initiator -> responder, service).
:func:`generate` adds, outside island mode, the platform-independent industrial files:
``suricata.rules`` (:mod:`zonewarden.rules.suricata`) and ``dpi/<conduit>.md``
(:mod:`zonewarden.rules.dpi`).

Output is deterministic: rules in plant.yaml order, zone pairs sorted, no dates (Aerleon's
``$Id$``/``$Date$``/``$Revision$`` keywords are removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.model.plant import Plant
from zonewarden.rules.dpi import dpi_profiles
from zonewarden.rules.generate import cisco_asa, cisco_ios, fortigate, iptables, juniper_srx, nftables, paloalto
from zonewarden.rules.generate.base import GenerateError, Generator, RulesetFile
from zonewarden.rules.island import island_rules
from zonewarden.rules.policy import Device, Policy
from zonewarden.rules.suricata import SID_BASE, render_suricata

PLATFORMS: dict[str, Generator] = {
    g.name: g
    for g in (
        nftables.GENERATOR,
        iptables.GENERATOR,
        cisco_ios.GENERATOR,
        cisco_asa.GENERATOR,
        juniper_srx.GENERATOR,
        paloalto.GENERATOR,
        fortigate.GENERATOR,
    )
}
_ALIASES = {alias: g.name for g in PLATFORMS.values() for alias in g.aliases}

__all__ = ["PLATFORMS", "GenerateError", "Generator", "Output", "RulesetFile", "generate", "platform", "render"]


def platform(name: str) -> Generator | None:
    """The generator for a platform name or alias (case-insensitive), or None."""
    key = name.strip().lower()
    return PLATFORMS.get(key) or PLATFORMS.get(_ALIASES.get(key, ""))


def render(device: Device, generator: Generator, island: bool = False) -> list[RulesetFile]:
    """The ruleset files of one enforcing device (its island variant with ``island``)."""
    rules = island_rules(device) if island else device.rules
    return generator.render(device, rules, island)


@dataclass
class Output:
    """Everything ``rules generate`` writes: relative path -> text, and what it left out."""

    files: dict[str, str] = field(default_factory=dict)
    rulesets: list[RulesetFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # devices without a ruleset, and why


def generate(
    policy: Policy,
    plant: Plant,
    generator: Generator,
    *,
    island: bool = False,
    ips: bool = False,
    devices: list[str] | None = None,
    sid_base: int = SID_BASE,
) -> Output:
    """The rulesets of every enforcing device (or of ``devices``) for one platform; outside island
    mode also the Suricata rules (``suricata.rules``) and the DPI profiles (``dpi/<conduit>.md``).

    Raises :class:`GenerateError` for a device id that enforces no conduit."""
    known = policy.devices()
    wanted = devices or list(known)
    unknown = [d for d in wanted if d not in known]
    if unknown:
        raise GenerateError(
            f"no conduit is enforced by {', '.join(unknown)}; devices with conduits: {', '.join(known) or 'none'}"
        )
    out = Output()
    for device_id in wanted:
        device = known[device_id]
        if not device.renderable:
            out.skipped.append(f"{device_id}: {device.reason}")
            continue
        for ruleset in render(device, generator, island):
            out.rulesets.append(ruleset)
            out.files[ruleset.filename] = ruleset.text
    if not island:
        if any(r.operations is not None for r in policy.rules):
            out.files["suricata.rules"] = render_suricata(policy, ips, sid_base, plant.site.name)
        for conduit, text in dpi_profiles(policy, plant).items():
            out.files[f"dpi/{conduit}.md"] = text
    return out

"""Plain-language DPI profiles: per conduit, what an industrial DPI firewall should let through.

Industrial DPI firewalls (Tofino, EAGLE40 Modbus enforcer, SCALANCE, FortiGate or PAN-OS
industrial signatures, Stormshield...) are configured in their own tools, so ZoneWarden
writes what to configure in words an engineer can enter there and an auditor can check:
for each industrial flow of a conduit, who may talk to whom on which port, the operations
allowed and blocked, and, where ZoneWarden knows the protocol's codes
(:mod:`zonewarden.rules.industrial`), the function codes and unit ids. One Markdown file
per conduit that carries an industrial protocol.
"""

from __future__ import annotations

from zonewarden.model.plant import Plant
from zonewarden.model.protocols import OPERATIONS, PROTOCOLS
from zonewarden.rules.industrial import VERDICTS, Code
from zonewarden.rules.policy import Policy, PolicyRule


def _side(objects: tuple, fallback: str) -> str:
    if not objects:
        return fallback
    return ", ".join(f"{ref} ({', '.join(str(n) for n in nets)})" for ref, nets in objects)


def _codes(codes: tuple[Code, ...]) -> str:
    parts = []
    for c in codes:
        if c.sub is None:
            parts.append(f"{c.code} {c.name}")
        elif c.sub == -1:
            parts.append(c.name)
        else:
            parts.append(f"{c.name} ({c.code}/{c.sub})")
    return "; ".join(parts) if parts else "none"


def _flow(rules: list[PolicyRule]) -> list[str]:
    rule = rules[0]
    protocol = PROTOCOLS[rule.protocol]
    services = ", ".join(
        f"{r.transport}/" + ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in r.ports) for r in rules
    )
    lines = [f"## {rule.flow}: {protocol.title}", ""]
    if rule.description:
        lines += [" ".join(rule.description.split()), ""]
    lines += [
        f"- Initiators: {_side(rule.source_objects, 'any')}",
        f"- Responders: {_side(rule.destination_objects, 'any')}",
        f"- Service: {services}",
    ]
    if rule.life_safety:
        lines.append("- Life safety: keep this flow in island mode (SR 5.2 RE 2)")
    ops = rule.operations
    if ops is None:
        lines += ["- Operations: any (the flow declares no restriction)", ""]
        return lines
    known = protocol.operations
    allowed = sorted(ops.effective(known))
    blocked = sorted(known - set(allowed))
    how = [f"preset {ops.preset}"] if ops.preset else []
    how += [f"allow {', '.join(ops.allow)}"] if ops.allow is not None else []
    how += [f"deny {', '.join(ops.deny)}"] if ops.deny else []
    lines.append(f"- Operations allowed: {', '.join(allowed) or 'none'}" + (f" ({'; '.join(how)})" if how else ""))
    lines.append(f"- Operations blocked: {', '.join(f'{op} ({OPERATIONS[op]})' for op in blocked) or 'none'}")
    verdict_of = VERDICTS.get(rule.protocol)
    if verdict_of is not None:
        verdict = verdict_of(ops)
        label = {"modbus": "Function codes", "dnp3": "Function codes", "s7": "Functions", "enip": "CIP services"}
        if ops.function_codes is not None:
            listed = ", ".join(str(c) for c in ops.function_codes)
            lines.append(f"- {label[rule.protocol]} allowed: only {listed}; block every other code")
        lines.append(f"- {label[rule.protocol]} to block (known): {_codes(verdict.denied)}")
        lines += [f"- Note: {note}" for note in verdict.notes]
    else:
        lines.append("- Function codes: ZoneWarden has no code table for this protocol; configure by operation")
    if ops.unit_ids is not None:
        what = "Outstation addresses" if rule.protocol == "dnp3" else "Unit ids"
        lines.append(f"- {what} allowed: {', '.join(str(u) for u in ops.unit_ids)}; block all others")
    lines.append("")
    return lines


def dpi_profiles(policy: Policy, plant: Plant) -> dict[str, str]:
    """Conduit id -> its DPI profile (Markdown), for every conduit with an industrial flow."""
    out: dict[str, str] = {}
    conduits = {c.id: c for c in plant.conduits}
    by_conduit: dict[str, dict[str, list[PolicyRule]]] = {}
    for rule in policy.rules:
        protocol = PROTOCOLS.get(rule.protocol)
        if protocol is None or not protocol.industrial:
            continue
        by_conduit.setdefault(rule.conduit, {}).setdefault(rule.flow, []).append(rule)
    for conduit_id, flows in by_conduit.items():
        conduit = conduits[conduit_id]
        devices = ", ".join(conduit.devices) or "no device named"
        enforcement = ", ".join(e.value for e in conduit.enforcement) or "not declared"
        lines = [
            f"# DPI profile: conduit {conduit.id}" + (f" ({conduit.name})" if conduit.name else ""),
            "",
            f"Zones: {', '.join(conduit.zones)}. Enforced by: {devices} ({enforcement}).",
            "",
            "Configure the industrial DPI firewall to allow only the flows below, each only between",
            "the listed initiators and responders, and to block and log everything else on this",
            "conduit (IEC 62443-3-3 SR 5.2 RE 1, SR 6.2). Generated by ZoneWarden from plant.yaml.",
            "",
        ]
        for rules in flows.values():
            lines += _flow(rules)
        out[conduit_id] = "\n".join(lines).rstrip("\n") + "\n"
    return out

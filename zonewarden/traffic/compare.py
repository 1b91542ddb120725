"""Discovered hosts against the plant model: who is missing on which side, and what disagrees."""

from __future__ import annotations

import ipaddress
from typing import Any

from zonewarden.model.plant import Plant
from zonewarden.model.resolve import Resolver


def _norm(text: str | None) -> str:
    return "".join(ch for ch in (text or "").lower() if ch.isalnum())


def host_zones(resolver: Resolver, hosts: list[dict[str, Any]]) -> dict[str, str]:
    """IP -> zone for every host whose address lies in a zone subnet."""
    zones: dict[str, str] = {}
    for host in hosts:
        if not host["ip"]:
            continue
        try:
            zone = resolver.addresses.zone_for(ipaddress.ip_address(host["ip"]))
        except ValueError:
            continue
        if zone:
            zones[host["ip"]] = zone
    return zones


def compare(
    plant: Plant, hosts: list[dict[str, Any]], resolver: Resolver | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``unknown_hosts``: seen but not in the model (with the zone their address falls in);
    ``unseen_assets``: modelled assets with addresses never seen; ``mismatches``: vendor or firmware
    that the traffic reports differently from the model."""
    resolver = resolver or Resolver(plant)
    zone_of = host_zones(resolver, hosts)
    by_ip = {str(ip): a for a in plant.assets for ip in a.ip}
    by_mac = {m: a for a in plant.assets for m in a.mac}
    seen_assets: set[str] = set()
    unknown, mismatches = [], []
    for host in hosts:
        asset = by_ip.get(host["ip"] or "") or next((by_mac[m] for m in host.get("macs", []) if m in by_mac), None)
        if asset is None:
            if host["ip"] is None and not host.get("identity"):
                continue
            zone = zone_of.get(host["ip"] or "")
            unknown.append(
                {
                    "ip": host["ip"],
                    "mac": host.get("mac"),
                    "vendor": host.get("vendor"),
                    "model": host.get("model"),
                    "roles": host.get("roles", []),
                    "zone": zone,
                }
            )
            continue
        seen_assets.add(asset.id)
        for field, seen in (
            ("vendor", host.get("identity", {}).get("vendor")),
            ("firmware", host.get("firmware")),
            ("model", host.get("identity", {}).get("model")),
        ):
            modelled = getattr(asset, field)
            if seen and modelled and _norm(seen) not in _norm(modelled) and _norm(modelled) not in _norm(seen):
                mismatches.append(
                    {"asset": asset.id, "ip": host["ip"], "field": field, "model": modelled, "seen": seen}
                )
    unseen = [
        {"asset": a.id, "ip": [str(i) for i in a.ip], "zone": resolver.zone_of.get(a.id)}
        for a in plant.assets
        if a.ip and a.id not in seen_assets
    ]
    return {"unknown_hosts": unknown, "unseen_assets": unseen, "mismatches": mismatches}

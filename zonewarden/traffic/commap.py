"""The communication map: hosts (and their zones) as a graph with protocol-labelled edges,
as JSON and as an SVG picture that reports can embed."""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

TIERS = (
    ("IT and unknown", {"it-host"}),
    ("servers", {"historian", "opc-server"}),
    ("operators and engineering", {"engineering-workstation", "hmi", "scada-client"}),
    ("controllers", {"plc", "rtu"}),
    ("network", {"network-device"}),
)
ROLE_COLOUR = {
    "plc": "#2e7d32",
    "rtu": "#2e7d32",
    "engineering-workstation": "#c62828",
    "hmi": "#1565c0",
    "scada-client": "#1565c0",
    "historian": "#6a1b9a",
    "opc-server": "#6a1b9a",
    "network-device": "#455a64",
    "it-host": "#9e9e9e",
}


def build_map(
    hosts: list[dict[str, Any]], flows: list[dict[str, Any]], zone_of: dict[str, str] | None = None
) -> dict[str, Any]:
    """Nodes (one per host) and edges (one per client-server pair, with protocols, packets, bytes)."""
    zone_of = zone_of or {}
    nodes = [
        {
            "id": h["key"],
            "ip": h["ip"],
            "mac": h.get("mac"),
            "label": _label(h),
            "roles": h.get("roles", []),
            "zone": zone_of.get(h["ip"] or ""),
        }
        for h in hosts
    ]
    known = {n["id"] for n in nodes}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for f in flows:
        if f["client"] not in known or f["server"] not in known:
            continue
        key = (f["client"], f["server"])
        edge = edges.setdefault(
            key, {"source": f["client"], "target": f["server"], "protocols": set(), "packets": 0, "bytes": 0}
        )
        edge["protocols"].add(f.get("app_protocol") or f"{f.get('transport', '?')}/{f.get('server_port', '?')}")
        edge["packets"] += int(f.get("packets", 0))
        edge["bytes"] += int(f.get("bytes", 0))
    out_edges = [
        {
            **e,
            "protocols": sorted(e["protocols"]),
            "cross_zone": bool(
                zone_of.get(e["source"]) and zone_of.get(e["target"]) and zone_of[e["source"]] != zone_of[e["target"]]
            ),
        }
        for e in sorted(edges.values(), key=lambda e: (e["source"], e["target"]))
    ]
    return {"nodes": nodes, "edges": out_edges}


def _label(host: dict[str, Any]) -> str:
    who = host.get("name") or host.get("model") or host.get("vendor") or ""
    return f"{host['ip'] or host.get('mac') or host['key']}" + (f" {who}" if who else "")


def _tier(roles: list[str]) -> int:
    for index in (3, 2, 1, 4):
        if set(roles) & TIERS[index][1]:
            return index
    return 0


def map_svg(graph: dict[str, Any], max_nodes: int = 120) -> str:
    """Hosts in rows by role (controllers at the bottom), edges labelled with protocols."""
    nodes = graph["nodes"][:max_nodes]
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for n in nodes:
        rows[_tier(n["roles"])].append(n)
    col_w, row_h, margin = 150, 130, 30
    width = max((len(r) for r in rows.values()), default=1) * col_w + 2 * margin + 120
    order = sorted(rows)
    height = len(order) * row_h + 2 * margin
    pos: dict[str, tuple[float, float]] = {}
    for r, tier in enumerate(order):
        row = sorted(rows[tier], key=lambda n: (n.get("zone") or "", n["id"]))
        x0 = 120 + margin + (width - 120 - 2 * margin - len(row) * col_w) / 2
        for i, n in enumerate(row):
            pos[n["id"]] = (x0 + i * col_w + col_w / 2, margin + r * row_h + 30)
    parts = []
    for r, tier in enumerate(order):
        parts.append(
            f'<text x="{margin}" y="{margin + r * row_h + 34}" fill="#777" font-weight="bold">'
            f"{escape(TIERS[tier][0])}</text>"
        )
    for e in graph["edges"]:
        if e["source"] not in pos or e["target"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
        colour = "#c62828" if e.get("cross_zone") else "#78909c"
        label = ", ".join(e["protocols"][:2]) + ("…" if len(e["protocols"]) > 2 else "")
        parts.append(
            f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="{colour}" '
            f'stroke-width="1.3"><title>{escape(e["source"])} → {escape(e["target"])}: '
            f"{escape(', '.join(e['protocols']))} ({e['packets']} packets)</title></line>"
            f'<text x="{(x1 + x2) / 2:.0f}" y="{(y1 + y2) / 2 - 3:.0f}" text-anchor="middle" font-size="9" '
            f'fill="#37474f">{escape(label)}</text>'
        )
    for n in nodes:
        x, y = pos[n["id"]]
        colour = next((ROLE_COLOUR[r] for r in n["roles"] if r in ROLE_COLOUR), "#9e9e9e")
        text = n["label"] if len(n["label"]) <= 24 else n["label"][:23] + "…"
        zone = f" [{n['zone']}]" if n.get("zone") else ""
        parts.append(
            f'<circle cx="{x:.0f}" cy="{y:.0f}" r="9" fill="{colour}"><title>{escape(n["label"])}'
            f"{escape(zone)} {escape(', '.join(n['roles']))}</title></circle>"
            f'<text x="{x:.0f}" y="{y + 24:.0f}" text-anchor="middle" font-size="10">{escape(text)}</text>'
            f'<text x="{x:.0f}" y="{y + 36:.0f}" text-anchor="middle" font-size="9" fill="#666">'
            f"{escape((', '.join(n['roles']) or '-') + zone)}</text>"
        )
    more = len(graph["nodes"]) - len(nodes)
    if more > 0:
        parts.append(f'<text x="{margin}" y="{height - 8}" fill="#777">{more} more hosts not drawn</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="11" role="img" '
        f'aria-label="Communication map">{"".join(parts)}</svg>'
    )

"""The communication map: hosts (and their zones) as a graph with protocol-labelled edges,
as JSON and as an SVG picture that reports can embed.

The picture places hosts in rows by role (controllers at the bottom); when the hosts have
zones (discovery with a workspace), each zone is a labelled box holding its hosts, and
hosts outside every zone subnet share an "outside the model" box. Edges between zones are
red.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

from zonewarden.traffic.flows import PROBE_STATES

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
        if f["client"] not in known or f["server"] not in known or f.get("state") in PROBE_STATES:
            continue  # a probe (no data: unanswered, rejected, a bare handshake) is not communication
        key = (f["client"], f["server"])
        edge = edges.setdefault(
            key, {"source": f["client"], "target": f["server"], "protocols": set(), "packets": 0, "bytes": 0}
        )
        edge["protocols"].add(f.get("app_protocol") or f"{f.get('transport', '?')}/{f.get('server_port', '?')}")
        # discover's flows count each direction; a flow summary has the totals
        edge["packets"] += int(f.get("packets", f.get("packets_to_server", 0) + f.get("packets_to_client", 0)))
        edge["bytes"] += int(f.get("bytes", f.get("bytes_to_server", 0) + f.get("bytes_to_client", 0)))
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
    """The map as one SVG: zone boxes when hosts have zones, else rows by role; edges labelled with protocols."""
    nodes = graph["nodes"][:max_nodes]
    if any(n.get("zone") for n in nodes):
        pos, width, height, parts = _zone_layout(nodes)
    else:
        pos, width, height, parts = _tier_layout(nodes)
    for e in graph["edges"]:
        if e["source"] not in pos or e["target"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
        # a gentle arc, bowed by a share of its length: edges between hosts in one row do not lie on each other
        cx, cy = (x1 + x2) / 2 - (y2 - y1) * BOW, (y1 + y2) / 2 + (x2 - x1) * BOW
        cx, cy = min(max(cx, 5), width - 5), min(max(cy, 5), height - 5)  # the arc stays inside its control hull
        lx, ly = (x1 + 2 * cx + x2) / 4, (y1 + 2 * cy + y2) / 4  # the arc's midpoint
        colour = "#c62828" if e.get("cross_zone") else "#78909c"
        label = ", ".join(e["protocols"][:2]) + ("…" if len(e["protocols"]) > 2 else "")
        parts.append(
            f'<path d="M{x1:.0f},{y1:.0f} Q{cx:.0f},{cy:.0f} {x2:.0f},{y2:.0f}" fill="none" stroke="{colour}" '
            f'stroke-width="1.3"><title>{escape(e["source"])} → {escape(e["target"])}: '
            f"{escape(', '.join(e['protocols']))} ({e['packets']} packets)</title></path>"
            f'<text x="{lx:.0f}" y="{ly - 3:.0f}" text-anchor="middle" font-size="9" '
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
            f"{escape(', '.join(n['roles']) or '-')}</text>"
        )
    more = len(graph["nodes"]) - len(nodes)
    if more > 0:
        height += 20
        parts.append(f'<text x="{MARGIN}" y="{height - 8}" fill="#777">{more} more hosts not drawn</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="11" role="img" '
        f'aria-label="Communication map">{"".join(parts)}</svg>'
    )


MARGIN, COL_W, ROW_H = 30, 150, 130
BOW = 0.18  # how far an edge's arc bows out, as a share of its length
Layout = tuple[dict[str, tuple[float, float]], float, float, list[str]]


def _tier_layout(nodes: list[dict[str, Any]]) -> Layout:
    """Hosts in rows by role, controllers at the bottom, each row labelled."""
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for n in nodes:
        rows[_tier(n["roles"])].append(n)
    width = max((len(r) for r in rows.values()), default=1) * COL_W + 2 * MARGIN + 120
    order = sorted(rows)
    height = len(order) * ROW_H + 2 * MARGIN
    pos: dict[str, tuple[float, float]] = {}
    parts = []
    for r, tier in enumerate(order):
        row = sorted(rows[tier], key=lambda n: (n.get("zone") or "", n["id"]))
        x0 = 120 + MARGIN + (width - 120 - 2 * MARGIN - len(row) * COL_W) / 2
        for i, n in enumerate(row):
            pos[n["id"]] = (x0 + i * COL_W + COL_W / 2, MARGIN + r * ROW_H + 30)
        parts.append(
            f'<text x="{MARGIN}" y="{MARGIN + r * ROW_H + 34}" fill="#777" font-weight="bold">'
            f"{escape(TIERS[tier][0])}</text>"
        )
    return pos, width, height, parts


OUTSIDE = "outside the model"
ZONE_COLUMNS = 4  # hosts per row inside a zone box
MAX_WIDTH = 1100  # zone boxes wrap to a new band beyond this width


def _zone_layout(nodes: list[dict[str, Any]]) -> Layout:
    """One labelled box per zone (hosts outside every zone last), boxes wrapped into bands."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n in nodes:
        groups[n.get("zone") or OUTSIDE].append(n)
    names = sorted(g for g in groups if g != OUTSIDE) + ([OUTSIDE] if OUTSIDE in groups else [])
    pos: dict[str, tuple[float, float]] = {}
    boxes: list[str] = []
    x, y, band, width = float(MARGIN), float(MARGIN), 0.0, 0.0
    gap, head, cell_h = 20, 24, 70
    for name in names:
        members = sorted(groups[name], key=lambda n: (_tier(n["roles"]), n["id"]))  # controllers last
        cols = min(len(members), ZONE_COLUMNS)
        box_w, box_h = cols * COL_W, head + -(-len(members) // ZONE_COLUMNS) * cell_h + 10
        if x > MARGIN and x + box_w > MAX_WIDTH:
            x, y, band = MARGIN, y + band + gap, 0.0
        outside = name == OUTSIDE
        fill, stroke, ink = ("#fafafa", "#bdbdbd", "#777") if outside else ("#eef3fb", "#1f3864", "#1f3864")
        dash = ' stroke-dasharray="4 3"' if outside else ""
        boxes.append(
            f'<g class="zone"><rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="8" fill="{fill}" '
            f'stroke="{stroke}"{dash}/><text x="{x + 8}" y="{y + 16}" font-weight="bold" fill="{ink}">'
            f"{escape(name)}</text></g>"
        )
        for i, n in enumerate(members):
            row, col = divmod(i, ZONE_COLUMNS)
            pos[n["id"]] = (x + col * COL_W + COL_W / 2, y + head + row * cell_h + 16)
        x += box_w + gap
        band = max(band, box_h)
        width = max(width, x)
    return pos, width - gap + MARGIN, y + band + MARGIN, boxes

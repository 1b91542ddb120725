"""The zone and conduit diagram: zones as boxes in rows by Purdue level, conduits as
labelled edges (protocols and enforcement). Inline SVG, laid out deterministically.

Rows go from the enterprise (top) down to the field; within a row, zones are ordered
by the barycentre of their neighbours to limit crossings. Plants too large to read as
one picture (over ``MAX_ZONES`` zones) get a summary: one box per Purdue level with the
number of zones and assets, and edges with the number of conduits between levels.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from html import escape
from typing import Any

MAX_ZONES = 60
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 178, 62, 70, 120, 24
KIND_FILL = {
    "enterprise": "#eceff1",
    "external": "#eceff1",
    "vendor": "#f3e5f5",
    "dmz": "#fff8e1",
    "remote-access": "#ede7f6",
    "operations": "#e3f2fd",
    "supervisory": "#e1f5fe",
    "control": "#e0f2f1",
    "field": "#e8f5e9",
    "safety": "#ffebee",
    "wireless": "#fce4ec",
}
ENFORCEMENT_STROKE = {"none": "#c62828", "data-diode": "#1565c0", "dpi-firewall": "#2e7d32"}
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _level_key(level: float | None) -> float:
    return -1.0 if level is None else float(level)


def _flow_label(flow: dict[str, Any]) -> str:
    name = str(flow.get("protocol", "?"))
    ops = flow.get("operations") or {}
    if ops.get("preset"):
        name += f" {ops['preset']}"
    elif ops.get("allow"):
        name += " " + "+".join(ops["allow"][:2]) + ("…" if len(ops["allow"]) > 2 else "")
    elif ops.get("deny"):
        name += " no " + "/".join(ops["deny"][:2]) + ("…" if len(ops["deny"]) > 2 else "")
    return name


def _bezier(points: tuple, t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    u = 1 - t
    return (
        u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
        u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3,
    )


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_label(curve: tuple, w: float, h: float, boxes: list, placed: list) -> tuple[float, float]:
    """The first point along the edge where the label hides no zone and no other label."""
    best: tuple[int, float, float] | None = None
    for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85):
        x, y = _bezier(curve, t)
        x = max(x, w / 2 + 2)  # keep the label on the canvas
        rect = (x - w / 2, y - 15, x + w / 2, y - 15 + h)
        clashes = sum(_overlaps(rect, b) for b in boxes) * 2 + sum(_overlaps(rect, p) for p in placed)
        if clashes == 0:
            return x, y
        if best is None or clashes < best[0]:
            best = (clashes, x, y)
    assert best is not None
    return best[1], best[2]


def plant_diagram(zones: list[dict[str, Any]], conduits: list[dict[str, Any]], targets: dict[str, str]) -> str:
    """``zones`` and ``conduits`` as in the plant model dump; ``targets``: zone id -> SL-T text."""
    if len(zones) > MAX_ZONES:
        return _summary_diagram(zones, conduits)
    rows: dict[float, list[str]] = defaultdict(list)
    level_of = {z["id"]: _level_key(z.get("purdue_level")) for z in zones}
    for z in sorted(zones, key=lambda z: z["id"]):
        rows[level_of[z["id"]]].append(z["id"])
    levels = sorted(rows, reverse=True)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for c in conduits:
        for a in c["zones"]:
            for b in c["zones"]:
                if a != b:
                    neighbours[a].add(b)
    for _ in range(4):  # barycentric sweeps
        for level in levels:
            pos = {z: i for lv in levels for i, z in enumerate(rows[lv])}
            rows[level].sort(
                key=lambda z: (
                    sum(pos[n] for n in neighbours[z] if n in pos)
                    / max(1, len([n for n in neighbours[z] if n in pos])),
                    z,
                )
            )
    width = max(len(r) for r in rows.values()) * (BOX_W + GAP_X) - GAP_X + 2 * MARGIN + 60
    xy: dict[str, tuple[float, float]] = {}
    for r, level in enumerate(levels):
        row = rows[level]
        row_w = len(row) * (BOX_W + GAP_X) - GAP_X
        x0 = 60 + MARGIN + (width - 60 - 2 * MARGIN - row_w) / 2
        for i, zone_id in enumerate(row):
            xy[zone_id] = (x0 + i * (BOX_W + GAP_X), MARGIN + r * (BOX_H + GAP_Y))
    height = MARGIN * 2 + len(levels) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>'
    ]
    for r, level in enumerate(levels):
        y = MARGIN + r * (BOX_H + GAP_Y) + BOX_H / 2 + 4
        label = "no level" if level < 0 else f"L{level:g}"
        parts.append(f'<text x="{MARGIN}" y="{y}" fill="#777" font-weight="bold">{label}</text>')
    labels = []
    boxes = [(x, y, x + BOX_W, y + BOX_H) for x, y in xy.values()]
    placed: list[tuple[float, float, float, float]] = []
    pair_count: dict[tuple[str, str], int] = defaultdict(int)
    for c in conduits:
        ends = [z for z in c["zones"] if z in xy]
        for a, b in itertools.pairwise(ends):
            key = (min(a, b), max(a, b))
            shift = 14 * pair_count[key] * (1 if pair_count[key] % 2 else -1)  # parallel conduits side by side
            pair_count[key] += 1
            (ax, ay), (bx, by) = xy[a], xy[b]
            if ay > by:
                (ax, ay), (bx, by) = (bx, by), (ax, ay)
            enforcement = c.get("enforcement") or ["none"]
            stroke = next((ENFORCEMENT_STROKE[e] for e in enforcement if e in ENFORCEMENT_STROKE), "#555")
            dash = ' stroke-dasharray="5,4"' if "none" in enforcement else ""
            if abs(ay - by) < 1:  # same row: arc above the boxes
                p0 = (ax + BOX_W / 2 + shift, ay)
                p3 = (bx + BOX_W / 2 + shift, by)
                p1 = (p0[0], ay - 50)
                p2 = (p3[0], by - 50)
            else:
                p0 = (ax + BOX_W / 2 + shift, ay + BOX_H)
                p3 = (bx + BOX_W / 2 + shift, by)
                my = (p0[1] + p3[1]) / 2
                p1, p2 = (p0[0], my), (p3[0], my)
            path = f"M{p0[0]:.0f},{p0[1]:.0f} C{p1[0]:.0f},{p1[1]:.0f} {p2[0]:.0f},{p2[1]:.0f} {p3[0]:.0f},{p3[1]:.0f}"
            protocols = list(dict.fromkeys(_flow_label(f) for f in c.get("flows", [])))
            shown = ", ".join(protocols[:2]) + (f" +{len(protocols) - 2}" if len(protocols) > 2 else "")
            title = f"{c['id']}: {', '.join(enforcement)}; {', '.join(protocols)}"
            parts.append(
                f'<path d="{path}" fill="none" stroke="{stroke}" stroke-width="1.6"{dash}>'
                f"<title>{escape(title)}</title></path>"
            )
            text = f"{'/'.join(enforcement)} · {shown}" if shown else "/".join(enforcement)
            text = text if len(text) <= 44 else text[:43] + "…"
            w = max(len(c["id"]), len(text)) * 5.4 + 10
            mx, my = _place_label((p0, p1, p2, p3), w, 28, boxes, placed)
            placed.append((mx - w / 2, my - 15, mx + w / 2, my + 13))
            labels.append((mx, my, w, c["id"], text))
    for z in zones:
        x, y = xy[z["id"]]
        fill = KIND_FILL.get(z.get("kind") or "", "#f5f5f5")
        name = z.get("name") or z["id"]
        name = name if len(name) <= 26 else name[:25] + "…"
        parts.append(
            f'<g><rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="7" fill="{fill}" '
            f'stroke="#37474f" stroke-width="1.2"/>'
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + 19:.0f}" text-anchor="middle" font-weight="bold">'
            f"{escape(name)}</text>"
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + 35:.0f}" text-anchor="middle" fill="#555">{escape(z["id"])}'
            f"{' · ' + escape(z['kind']) if z.get('kind') else ''}</text>"
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + 52:.0f}" text-anchor="middle" fill="#1f3864">'
            f"{escape(targets.get(z['id'], 'no SL-T'))}</text></g>"
        )
    for mx, my, w, cid, text in labels:  # labels last, on top of lines and boxes
        parts.append(
            f'<g><rect x="{mx - w / 2:.0f}" y="{my - 15:.0f}" width="{w:.0f}" height="28" rx="4" '
            f'fill="#fff" fill-opacity="0.92" stroke="#bbb"/>'
            f'<text x="{mx:.0f}" y="{my - 3:.0f}" text-anchor="middle" font-size="10" font-weight="bold">'
            f"{escape(cid)}</text>"
            f'<text x="{mx:.0f}" y="{my + 9:.0f}" text-anchor="middle" font-size="9" fill="#333">'
            f"{escape(text)}</text></g>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="Zone and conduit diagram" {FONT} '
        f'font-size="11">{"".join(parts)}</svg>'
    )


def _summary_diagram(zones: list[dict[str, Any]], conduits: list[dict[str, Any]]) -> str:
    level_of = {z["id"]: _level_key(z.get("purdue_level")) for z in zones}
    counts: dict[float, int] = defaultdict(int)
    for z in zones:
        counts[level_of[z["id"]]] += 1
    pairs: dict[tuple[float, float], int] = defaultdict(int)
    for c in conduits:
        ends = sorted({level_of[z] for z in c["zones"] if z in level_of}, reverse=True)
        for a, b in itertools.pairwise(ends):
            pairs[(a, b)] += 1
        if len(ends) == 1:
            pairs[(ends[0], ends[0])] += 1
    levels = sorted(counts, reverse=True)
    width, x = 520, 170
    height = MARGIN * 2 + len(levels) * (BOX_H + GAP_Y) - GAP_Y
    y_of = {lv: MARGIN + i * (BOX_H + GAP_Y) for i, lv in enumerate(levels)}
    parts = []
    for (a, b), n in sorted(pairs.items()):
        if a == b:
            parts.append(
                f'<text x="{x + BOX_W + 12}" y="{y_of[a] + BOX_H / 2 + 4}" fill="#555">{n} conduits '
                f"within the level</text>"
            )
            continue
        y1, y2 = y_of[a] + BOX_H, y_of[b]
        offset = 20 * (levels.index(b) - levels.index(a) - 1)
        parts.append(
            f'<path d="M{x + BOX_W / 2 + offset},{y1} L{x + BOX_W / 2 + offset},{y2}" stroke="#555" '
            f'stroke-width="1.6"/><text x="{x + BOX_W / 2 + offset + 6}" y="{(y1 + y2) / 2}" '
            f'font-size="10">{n}</text>'
        )
    for lv in levels:
        label = "no level" if lv < 0 else f"Purdue level {lv:g}"
        parts.append(
            f'<rect x="{x}" y="{y_of[lv]}" width="{BOX_W}" height="{BOX_H}" rx="7" fill="#e3f2fd" '
            f'stroke="#37474f"/><text x="{x + BOX_W / 2}" y="{y_of[lv] + 26}" text-anchor="middle" '
            f'font-weight="bold">{label}</text><text x="{x + BOX_W / 2}" y="{y_of[lv] + 44}" '
            f'text-anchor="middle">{counts[lv]} zones</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="Zones and conduits by Purdue level" {FONT} font-size="11">'
        f"{''.join(parts)}</svg>"
    )

"""Charts as inline SVG strings: no JavaScript, no network, readable on screen and in print.

Each function takes plain report data (see report.data) and returns an ``<svg>`` element.
"""

from __future__ import annotations

from html import escape
from typing import Any

FR_IDS = ("FR1", "FR2", "FR3", "FR4", "FR5", "FR6", "FR7")
TARGET = "#1f3864"
ACHIEVED = "#2e8b57"
SHORT = "#c62828"
GAP_COLOURS = {0: "#2e8b57", 1: "#f2b134", 2: "#e8743b", 3: "#c62828", 4: "#8b0000"}
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" {FONT} font-size="11">{body}</svg>'
    )


def fr_bars(zone: dict[str, Any], abbrev: dict[str, str]) -> str:
    """SL-T against SL-A per FR for one zone: paired bars, shortfall marked red."""
    width, height, left, bottom, top = 420, 205, 30, 56, 14
    plot_h = height - bottom - top
    step = (width - left - 10) / 7
    bar = step * 0.34
    target = zone.get("sl_target") or {}
    achieved = zone.get("sl_achieved") or {}
    parts = []
    for level in range(5):
        y = top + plot_h - plot_h * level / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{level}</text>')
    for i, fr in enumerate(FR_IDS):
        x0 = left + i * step + step * 0.14
        t = target.get(fr)
        a = achieved.get(fr) or 0
        if t is not None:
            h = plot_h * t / 4
            parts.append(
                f'<rect x="{x0:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{TARGET}"><title>{fr} SL-T {t}</title></rect>'
            )
        colour = ACHIEVED if t is None or a >= t else SHORT
        h = plot_h * a / 4
        parts.append(
            f'<rect x="{x0 + bar + 2:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{fr} SL-A {a}</title></rect>'
        )
        parts.append(f'<text x="{x0 + bar:.1f}" y="{height - bottom + 14}" text-anchor="middle">{fr}</text>')
        parts.append(
            f'<text x="{x0 + bar:.1f}" y="{height - bottom + 26}" text-anchor="middle" fill="#555">'
            f"{escape(abbrev.get(fr, ''))}</text>"
        )
    legend_y = height - 6
    parts.append(
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="{TARGET}"/>'
        f'<text x="{left + 14}" y="{legend_y}">SL-T</text>'
        f'<rect x="{left + 60}" y="{legend_y - 9}" width="10" height="10" fill="{ACHIEVED}"/>'
        f'<text x="{left + 74}" y="{legend_y}">SL-A meets</text>'
        f'<rect x="{left + 150}" y="{legend_y - 9}" width="10" height="10" fill="{SHORT}"/>'
        f'<text x="{left + 164}" y="{legend_y}">SL-A below SL-T</text>'
    )
    return _svg(width, height, "".join(parts), f"SL-T and SL-A per FR for zone {zone.get('id')}")


def heatmap(zones: list[dict[str, Any]]) -> str:
    """Zone x FR grid: each cell 'T/A', coloured by the shortfall SL-T - SL-A."""
    rows = [z for z in zones if z.get("sl_target")]
    cell_w, cell_h, left, top = 62, 24, 170, 28
    width = left + cell_w * 7 + 10
    height = top + cell_h * max(len(rows), 1) + 34
    parts = [
        f'<text x="{left + i * cell_w + cell_w / 2}" y="{top - 10}" text-anchor="middle" font-weight="bold">{fr}</text>'
        for i, fr in enumerate(FR_IDS)
    ]
    for r, zone in enumerate(rows):
        y = top + r * cell_h
        name = zone["id"] if len(zone["id"]) <= 26 else zone["id"][:25] + "…"
        parts.append(f'<text x="{left - 8}" y="{y + cell_h / 2 + 4}" text-anchor="end">{escape(name)}</text>')
        for i, fr in enumerate(FR_IDS):
            t = zone["sl_target"].get(fr)
            a = zone["sl_achieved"].get(fr) or 0
            if t is None:
                fill, text, gap = "#f0f0f0", "-", 0
            else:
                gap = max(0, t - a)
                fill, text = GAP_COLOURS[min(gap, 4)], f"{t}/{a}"
            ink = "#000" if gap <= 1 else "#fff"
            x = left + i * cell_w
            parts.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" '
                f'fill="{fill}"><title>{escape(zone["id"])} {fr}: SL-T {t}, SL-A {a}</title></rect>'
                f'<text x="{x + cell_w / 2}" y="{y + cell_h / 2 + 4}" text-anchor="middle" '
                f'fill="{ink}">{text}</text>'
            )
    legend_y = top + cell_h * max(len(rows), 1) + 22
    x = left
    for gap, label in ((0, "meets"), (1, "1 short"), (2, "2 short"), (3, "3+ short")):
        parts.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{GAP_COLOURS[gap]}"/>'
            f'<text x="{x + 16}" y="{legend_y}">{label}</text>'
        )
        x += 80
    parts.append(f'<text x="{left - 8}" y="{legend_y}" text-anchor="end" fill="#555">cells: SL-T/SL-A</text>')
    return _svg(width, height, "".join(parts), "SL-T against SL-A, zones by foundational requirement")


def compliance_per_fr(zones: list[dict[str, Any]]) -> str:
    """Share of required SR/RE met, per FR, over all zones with an SL-T (horizontal bars)."""
    totals = {fr: [0, 0] for fr in FR_IDS}
    for zone in zones:
        for fr, score in (zone.get("per_fr") or {}).items():
            totals[fr][0] += score.get("met") or 0
            totals[fr][1] += score.get("required") or 0
    width, bar_h, left, top = 460, 20, 50, 10
    height = top + 7 * (bar_h + 6) + 10
    parts = []
    span = width - left - 110
    for i, fr in enumerate(FR_IDS):
        met, required = totals[fr]
        share = met / required if required else 0.0
        y = top + i * (bar_h + 6)
        parts.append(f'<text x="{left - 8}" y="{y + bar_h / 2 + 4}" text-anchor="end">{fr}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{span}" height="{bar_h}" fill="#eee"/>')
        colour = ACHIEVED if share >= 0.9 else ("#f2b134" if share >= 0.7 else SHORT)
        parts.append(
            f'<rect x="{left}" y="{y}" width="{span * share:.1f}" height="{bar_h}" fill="{colour}">'
            f"<title>{fr}: {met} of {required} met</title></rect>"
        )
        label = f"{100 * share:.0f}% ({met}/{required})" if required else "n/a"
        parts.append(f'<text x="{left + span + 6}" y="{y + bar_h / 2 + 4}">{label}</text>')
    return _svg(width, height, "".join(parts), "Share of required requirements met per FR")


def compliance_per_zone(zones: list[dict[str, Any]]) -> str:
    """Compliance (share of required SR/RE met) per zone with an SL-T."""
    rows = [z for z in zones if z.get("compliance") is not None]
    width, bar_h, left, top = 520, 18, 170, 6
    height = top + max(len(rows), 1) * (bar_h + 5) + 8
    span = width - left - 50
    parts = []
    for i, zone in enumerate(rows):
        y = top + i * (bar_h + 5)
        share = zone["compliance"]
        colour = ACHIEVED if zone.get("meets_target") else ("#f2b134" if share >= 0.8 else SHORT)
        name = zone["id"] if len(zone["id"]) <= 26 else zone["id"][:25] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_h / 2 + 4}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{left}" y="{y}" width="{span}" height="{bar_h}" fill="#eee"/>'
            f'<rect x="{left}" y="{y}" width="{span * share:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{left + span + 6}" y="{y + bar_h / 2 + 4}">{100 * share:.0f}%</text>'
        )
    return _svg(width, height, "".join(parts), "Compliance per zone")


def risk_matrix(risk: dict[str, Any], scenarios: list[dict[str, Any]]) -> str:
    """The risk matrix coloured by level, with scenarios placed unmitigated (S1) and residual (S1')."""
    matrix = risk.get("matrix") or []
    if not matrix:
        return ""
    colours = {lvl["id"]: lvl["colour"] for lvl in risk.get("levels", [])}
    rows, cols = len(matrix), len(matrix[0])
    cell_w, cell_h, left, top = 96, 48, 120, 10
    width, height = left + cols * cell_w + 10, top + rows * cell_h + 44
    likelihood = risk.get("likelihood") or {}
    parts = []
    for r in range(rows):
        lik = rows - r
        y = top + r * cell_h
        label = str(likelihood.get(str(lik), lik)).split(" (")[0]
        parts.append(f'<text x="{left - 8}" y="{y + cell_h / 2 + 4}" text-anchor="end">{lik} {escape(label)}</text>')
        for c in range(cols):
            sev = c + 1
            level = matrix[lik - 1][c]
            x = left + c * cell_w
            here = [s["id"] for s in scenarios if (s["likelihood"], s["severity"]) == (lik, sev)]
            after = [
                s["id"] + "′" for s in scenarios if (s["residual_likelihood"], s["residual_severity"]) == (lik, sev)
            ]
            parts.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'fill="{colours.get(level, "#ccc")}" fill-opacity="0.85"><title>likelihood {lik}, severity '
                f"{sev}: {level}</title></rect>"
            )
            text = " ".join(here + after)
            if text:
                lines = [text[i : i + 15] for i in range(0, len(text), 15)][:3]
                for k, line in enumerate(lines):
                    parts.append(
                        f'<text x="{x + cell_w / 2}" y="{y + 16 + k * 13}" text-anchor="middle" '
                        f'font-weight="bold">{escape(line)}</text>'
                    )
    for c in range(cols):
        parts.append(
            f'<text x="{left + c * cell_w + cell_w / 2}" y="{top + rows * cell_h + 16}" '
            f'text-anchor="middle">{c + 1}</text>'
        )
    parts.append(
        f'<text x="{left + cols * cell_w / 2}" y="{top + rows * cell_h + 34}" text-anchor="middle" '
        f'fill="#555">severity (worst consequence) · S1 unmitigated, S1′ residual</text>'
    )
    return _svg(width, height, "".join(parts), "Risk matrix with the threat scenarios")

"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network),
good on screen and in print; the PDF is the same document paginated."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from zonewarden.report import charts
from zonewarden.report.diagram import plant_diagram
from zonewarden.traffic.commap import map_svg

KINDS = ("executive", "full")
PAPERS = {"a4": "A4", "letter": "Letter"}


def _vec(values: dict[str, Any] | None, overridden: list[str]) -> Markup:
    if not values:
        return Markup('<span class="muted">-</span>')
    cells = []
    for fr in charts.FR_IDS:
        v = values.get(fr)
        text = "-" if v is None else str(v)
        cells.append(f'<span class="override">{text}*</span>' if fr in overridden else text)
    return Markup("{" + ",".join(cells) + "}")


def _level(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _ops(operations: dict[str, Any]) -> str:
    parts = []
    if operations.get("preset"):
        parts.append(operations["preset"])
    if operations.get("allow"):
        parts.append("allow " + ", ".join(operations["allow"]))
    if operations.get("deny"):
        parts.append("deny " + ", ".join(operations["deny"]))
    if operations.get("function_codes"):
        parts.append("FC " + ",".join(map(str, operations["function_codes"])))
    if operations.get("unit_ids"):
        parts.append("unit " + ",".join(map(str, operations["unit_ids"])))
    return "[" + "; ".join(parts) + "]"


def _backlog_table(items: list[dict[str, Any]]) -> Markup:
    rows = []
    for i in items:
        where = ", ".join(t.split(":", 1)[1] for t in i["targets"])
        quick = '<span class="badge quick">quick win</span> ' if i["quick_win"] else ""
        rows.append(
            f"<tr><td class='num'>{i['rank']}</td><td><b>{escape(i['requirement'])}</b></td>"
            f"<td>{quick}{escape(i['action'])}</td><td>{escape(i['effort'])}</td>"
            f"<td class='num'>{i['score']:.1f}</td><td>{escape(where)}</td></tr>"
        )
    head = "<tr><th>#</th><th>requirement</th><th>action</th><th>effort</th><th>score</th><th>where</th></tr>"
    body = "".join(rows) or "<tr><td colspan='6' class='muted'>No open gaps.</td></tr>"
    return Markup(f"<table><thead>{head}</thead><tbody>{body}</tbody></table>")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("zonewarden.report", "templates"),
        autoescape=select_autoescape(["j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(vec=_vec, level=_level, pct=_pct, ops=_ops, backlog_table=_backlog_table)
    return env


def render_html(report: dict[str, Any], kind: str = "full", paper: str = "a4") -> str:
    """Render the report document (see report.data.build_report) to one HTML page."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r} (use {', '.join(KINDS)})")
    if paper not in PAPERS:
        raise ValueError(f"unknown paper size {paper!r} (use {', '.join(PAPERS)})")
    zones = report["zones"]
    abbrev = {fr["id"]: fr["abbrev"] for fr in report["frs"]}
    targets = {
        z["id"]: "SL-T {" + ",".join(str(z["sl_target"][fr]) for fr in charts.FR_IDS) + "}"
        for z in zones
        if z.get("sl_target")
    }
    figures = {
        "heatmap": charts.heatmap(zones),
        "compliance_fr": charts.compliance_per_fr(zones),
        "compliance_zone": charts.compliance_per_zone(zones),
        "risk_matrix": charts.risk_matrix(report["risk"], report["scenarios"]),
        "diagram": plant_diagram(report["plant"]["zones"], report["plant"]["conduits"], targets),
        "communication_map": Markup(map_svg(report["discovery"]["map"])) if report["discovery"]["map"] else None,
        "zone_bars": {z["id"]: charts.fr_bars(z, abbrev) for z in zones if z.get("sl_target")}
        if kind == "full"
        else {},
    }
    top_risks = sorted(
        report["scenarios"],
        key=lambda s: (s["residual_tolerable"], -s["residual_severity"] * s["residual_likelihood"], s["id"]),
    )[:8]
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report, p=report["program"], kind=kind, paper=PAPERS[paper], charts=figures, top_risks=top_risks
    )


def write_pdf(html: str, path: str) -> None:
    """Paginate the HTML report into a PDF (WeasyPrint; install the 'pdf' extra)."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint present but Pango missing
        from zonewarden.errors import ZoneWardenError

        raise ZoneWardenError(
            "PDF output needs WeasyPrint and the Pango library: pip install 'zonewarden[pdf]' "
            f"(and on Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0) [{exc}]"
        ) from None
    weasyprint.HTML(string=html).write_pdf(path)

"""Terminal summary of a workspace: zones with SL-T per FR, conduits, assets."""

from __future__ import annotations

from collections import Counter

from rich.markup import escape
from rich.table import Table

from zonewarden.assess.engine import AssessmentResult
from zonewarden.catalog import Catalog
from zonewarden.cli.output import console, sl_cell
from zonewarden.model.diagnostics import Diagnostic
from zonewarden.model.plant import Flow
from zonewarden.model.protocols import lookup_protocol
from zonewarden.model.resolve import Resolver
from zonewarden.model.sl import FR_ABBREV, FRS, SLVector
from zonewarden.workspace.load import Workspace


def required_count(catalog: Catalog, sl_t: SLVector) -> int:
    """How many 62443-3-3 SRs and REs a zone with SL-T vector ``sl_t`` must meet."""
    return sum(1 for r in catalog.requirements.values() if r.standard == "62443-3-3" and r.sl <= sl_t.get(r.fr))


def flow_label(flow: Flow) -> str:
    """A short label such as ``modbus [read-only]``, ``tcp/9997`` or ``dnp3 [no restart]``."""
    protocol = lookup_protocol(flow.protocol)
    name = protocol.name if protocol else flow.protocol
    if protocol and protocol.name in ("tcp", "udp") and flow.ports:
        name += "/" + ",".join(flow.ports)
    ops = flow.operations
    if ops is None:
        return name
    parts = []
    if ops.preset:
        parts.append(ops.preset)
    if ops.allow is not None:
        parts.append("+".join(ops.allow))
    if ops.deny:
        parts.append("no " + "/".join(ops.deny))
    if ops.function_codes is not None:
        parts.append("fc " + ",".join(map(str, ops.function_codes)))
    return f"{name} [{'; '.join(parts)}]" if parts else name


def print_summary(
    ws: Workspace, catalog: Catalog, diagnostics: list[Diagnostic], result: AssessmentResult | None = None
) -> None:
    """Site, zones with SL-T per FR (derived, declared or overridden), conduits, assets, validation."""
    plant = ws.plant
    site = plant.site
    console.rule(f"[bold]{escape(site.name)}[/]")
    facts = [x for x in (site.location, site.sector, site.owner) if x]
    if facts:
        console.print(escape("  ".join(facts)), justify="center")
    per_zone = Counter(Resolver(plant).zone_of.values())

    targets = {z.id: z.slt for z in result.zones} if result is not None else {}
    zones = Table(title="Zones and target security levels (SL-T per FR)", header_style="bold")
    zones.add_column("zone", no_wrap=True)
    zones.add_column("name")
    zones.add_column("Purdue", justify="center")
    zones.add_column("assets", justify="right")
    for fr in FRS:
        zones.add_column(f"{fr}\n{FR_ABBREV[fr]}", justify="center")
    zones.add_column("SR/RE\nneeded", justify="right")
    for z in sorted(plant.zones, key=lambda z: -(z.purdue_level if z.purdue_level is not None else -1)):
        target = targets.get(z.id)
        vector = target.vector if target is not None else z.sl_t
        levels = []
        for fr in FRS:
            mark = "*" if target is not None and target.frs[fr].source == "override" else ""
            levels.append(sl_cell(vector.get(fr)) + mark if vector else sl_cell(None))
        needed = str(required_count(catalog, vector)) if vector else "[dim]-[/]"
        level = f"{z.purdue_level:g}" if z.purdue_level is not None else "-"
        zones.add_row(escape(z.id), escape(z.name or ""), level, str(per_zone.get(z.id, 0)), *levels, needed)
    console.print(zones)
    if any(t.overridden for t in targets.values()):
        console.print("[dim]* SL-T overridden with a recorded justification (zonewarden risk shows why)[/]")

    conduits = Table(title="Conduits", header_style="bold")
    for col in ("conduit", "joins", "enforcement", "flows"):
        conduits.add_column(col)
    for c in plant.conduits:
        protocols = [flow_label(f) for f in c.flows]
        enforcement = ", ".join(e.value for e in c.enforcement) or "[red]none[/]"
        conduits.add_row(c.id, " <-> ".join(c.zones), enforcement, escape(", ".join(dict.fromkeys(protocols))) or "-")
    console.print(conduits)

    roles = Counter(a.role.value if a.role else "unspecified" for a in plant.assets)
    console.print(f"[bold]{len(plant.assets)} assets[/]: " + ", ".join(f"{n} {r}" for r, n in roles.most_common()))
    errors = [d for d in diagnostics if d.severity == "error"]
    warnings = [d for d in diagnostics if d.severity == "warning"]
    status = "[green]valid[/]" if not errors else f"[red]{len(errors)} error(s)[/]"
    console.print(f"Validation: {status}, {len(warnings)} warning(s)")
    for d in (errors + warnings)[:10]:
        console.print(f"  {d.format()}", markup=False)

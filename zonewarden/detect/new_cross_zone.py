"""New cross-zone flow: a conversation between two zones that the baseline does not know.

Baseline: the workspace's model (a conduit flow allows it) plus, optionally, the ``baseline``
section of a previous run's JSON (conversations seen then). So the first run reports every
cross-zone conversation the model does not declare; later runs with ``--baseline`` report
only what is new since.
"""

from __future__ import annotations

from zonewarden.detect.base import OUTSIDE_KINDS, Alert, Context, flow_alert


class NewCrossZone:
    name = "new-cross-zone-flow"
    title = "Cross-zone conversation not in the baseline"

    def run(self, ctx: Context) -> list[Alert]:
        seen: dict[tuple[str, str, str, int], Alert] = {}
        for f in ctx.flows:
            sz, dz = f.get("src_zone"), f.get("dst_zone")
            if not sz or not dz or sz == dz or f.get("verdict") in ("allowed", "broadcast"):
                continue
            key = (sz, dz, f["transport"], int(f["server_port"] or 0))
            if key in ctx.baseline.cross_zone:
                continue
            alert = seen.get(key)
            if alert is not None:
                alert.count += f.get("flows", 1)
                continue
            outside = ctx.zones[sz].kind in OUTSIDE_KINDS if sz in ctx.zones else False
            into_control = ctx.is_control_zone(dz)
            techniques = ["T0822", "T0886"] if outside else ["T0886"]
            text = (
                f"{f['client']} ({sz}) -> {f['server']} ({dz}) {f['transport']}/{f['server_port']}"
                f" ({f.get('app_protocol') or 'unknown protocol'}): a conversation between these zones that "
                f"neither the conduits nor the baseline declare"
            )
            details = {"verdict": f.get("verdict"), "conduit": f.get("conduit")}
            severity = "high" if into_control else "medium"
            seen[key] = flow_alert(ctx, f, self.name, severity, text, techniques, details)
        return list(seen.values())


DETECTOR = NewCrossZone()

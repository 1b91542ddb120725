"""Industrial write or control commands from a host that is not an engineering workstation or
HMI for the target's zone.

A client counts as authorized for a server's zone when it is a declared asset with the role
engineering-workstation or hmi and it either sits in that zone or is named (as itself or by its
zone) as the initiator of a conduit flow into that zone.
"""

from __future__ import annotations

from zonewarden.detect.base import CONTROL_OPERATIONS, Alert, Context, event_alert, requests
from zonewarden.model.plant import Role

AUTHORIZED_ROLES = {Role.engineering_workstation, Role.hmi}


class UnauthorizedCommand:
    name = "unauthorized-command"
    title = "Write or control command from a host not declared as EWS or HMI for the zone"

    def run(self, ctx: Context) -> list[Alert]:
        out = []
        for ev in requests(ctx, CONTROL_OPERATIONS):
            target_zone = ctx.zone(ev.server)
            if _authorized(ctx, ev.client, target_zone):
                continue
            asset = ctx.asset_by_ip.get(ev.client)
            role = asset.role.value if asset and asset.role else "none"
            who = f"asset '{asset.id}' (role {role})" if asset else "an undeclared host"
            techniques = ["T0855", "T0836"] if ev.operation == "write" else ["T0855"]
            text = (
                f"{ev.client}, {who}, sent a {ev.operation} command to {ev.server} ({ev.protocol}: {ev.function}); "
                f"only an engineering workstation or HMI of zone '{target_zone or '?'}' should"
            )
            out.append(event_alert(ctx, ev, self.name, "high", text, techniques))
        return out


def _authorized(ctx: Context, client: str, zone: str | None) -> bool:
    asset = ctx.asset_by_ip.get(client)
    if asset is None or asset.role not in AUTHORIZED_ROLES:
        return False
    own = ctx.resolver.zone_of.get(asset.id)
    if zone is None or own == zone:
        return True
    for conduit in ctx.plant.conduits:
        if zone not in conduit.zones:
            continue
        for flow in conduit.flows:
            if (asset.id in flow.from_ or (own and own in flow.from_) or "any" in flow.from_) and (
                zone in flow.to or any(ctx.resolver.zone_of.get(t) == zone for t in flow.to) or "any" in flow.to
            ):
                return True
    return False


DETECTOR = UnauthorizedCommand()

"""OPC UA secure channels opened with security mode None across a zone boundary."""

from __future__ import annotations

from zonewarden.detect.base import Alert, Context, event_alert


class OpcUaNone:
    name = "opcua-security-none"
    title = "OPC UA without security across a zone boundary"

    def run(self, ctx: Context) -> list[Alert]:
        out = []
        for ev in ctx.events:
            if ev.protocol != "opcua" or ev.message != "request":
                continue
            mode = ev.details.get("security_mode")
            policy = ev.details.get("security_policy")
            if mode != "None" and not (mode is None and policy == "None"):
                continue
            sz, dz = ctx.zone(ev.client), ctx.zone(ev.server)
            if sz == dz:  # same zone, or both outside every zone: no boundary crossed
                continue
            text = (
                f"{ev.client} ({sz or 'no zone'}) opened an OPC UA secure channel to {ev.server} ({dz or 'no zone'}) "
                "with security mode None: messages cross the zone boundary unsigned and unencrypted"
            )
            out.append(event_alert(ctx, ev, self.name, "medium", text, ["T0830", "T0842"]))
        return out


DETECTOR = OpcUaNone()

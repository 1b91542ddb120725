"""New host: an IP address seen in the capture that is neither a declared asset nor in the baseline."""

from __future__ import annotations

from zonewarden.detect.base import Alert, Context

_INDUSTRIAL_CLIENT = {"scada-client", "engineering-workstation", "hmi"}


class NewHost:
    name = "new-host"
    title = "Host not in the model"

    def run(self, ctx: Context) -> list[Alert]:
        out = []
        first_packet: dict[str, int] = {}
        seen = [((f["client"], f["server"]), f["first_packet"]) for f in ctx.flows]
        seen += [((p["client"], *p["sample"]), p["packet"]) for p in ctx.probes]  # a scan's named hosts
        for addresses, packet in seen:  # one pass: the first packet each address appears in
            for addr in addresses:
                if addr not in first_packet or packet < first_packet[addr]:
                    first_packet[addr] = packet
        for host in ctx.hosts:
            ip = host.get("ip")
            if not ip or ip in ctx.asset_by_ip or ip in ctx.baseline.hosts or ip in ("0.0.0.0", "::"):
                continue
            first = first_packet.get(ip)
            if first is None:  # named inside a payload (a DHCP or identity answer), never on the wire here
                continue
            if ip.startswith(("224.", "239.", "255.", "ff")):
                continue
            zone = ctx.zone(ip)
            commands = bool(_INDUSTRIAL_CLIENT & set(host.get("roles", [])))
            techniques = ["T0864", "T0848"] if commands else ["T0864"]
            where = f"in zone '{zone}'" if zone else "in no zone"
            text = f"{ip} ({host.get('vendor') or 'unknown vendor'}) is not a declared asset; seen {where}" + (
                ", acting as an industrial client (possible rogue master)" if commands else ""
            )
            out.append(
                Alert(
                    self.name,
                    "high" if commands or ctx.is_control_zone(zone) else "medium",
                    ip,
                    zone,
                    None,
                    None,
                    host.get("first_seen"),
                    ctx.file,
                    first,
                    text,
                    techniques,
                    1,
                    {"roles": host.get("roles", []), "mac": host.get("mac")},
                )
            )
        return out


DETECTOR = NewHost()

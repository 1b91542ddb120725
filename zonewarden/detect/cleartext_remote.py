"""Cleartext remote access into control zones: Telnet, VNC, and RDP without TLS where the
negotiation shows it (RDP flows whose security cannot be told are reported at low severity)."""

from __future__ import annotations

from zonewarden.detect.base import OUTSIDE_KINDS, Alert, Context, flow_alert

CLEARTEXT = {"telnet": "Telnet", "vnc": "VNC"}
_PORTS = {23: "telnet", 5900: "vnc", 5901: "vnc", 3389: "rdp"}


class CleartextRemote:
    name = "cleartext-remote-access"
    title = "Cleartext remote access into a control zone"

    def run(self, ctx: Context) -> list[Alert]:
        rdp_security = _rdp_security(ctx)
        out: dict[tuple[str, str, str], Alert] = {}
        for f in ctx.flows:
            if f["transport"] != "tcp":
                continue
            proto = f.get("app_protocol") if f.get("app_protocol") in (*CLEARTEXT, "rdp") else None
            proto = proto or _PORTS.get(int(f["server_port"] or 0))
            dz = f.get("dst_zone")
            if proto is None or not ctx.is_control_zone(dz):
                continue
            if f["packets_to_client"] == 0:
                continue  # nothing answered: a probe, not a session
            sz = f.get("src_zone")
            outside = sz in ctx.zones and ctx.zones[sz].kind in OUTSIDE_KINDS
            techniques = ["T0822", "T0886"] if outside else ["T0886"]
            if proto == "rdp":
                tls = rdp_security.get((f["client"], f["server"]))
                if tls is True:
                    continue
                severity = "high" if tls is False else "low"
                what = "RDP with standard RDP security (no TLS)" if tls is False else "RDP (TLS not determinable)"
            else:
                severity, what = "high", f"{CLEARTEXT[proto]} (cleartext: credentials and keystrokes readable)"
            key = (f["client"], f["server"], proto)
            if key in out:
                out[key].count += f.get("flows", 1)
                continue
            text = f"{what} from {f['client']} ({sz or 'no zone'}) into control zone '{dz}' host {f['server']}"
            out[key] = flow_alert(ctx, f, self.name, severity, text, techniques)
        return list(out.values())


def _rdp_security(ctx: Context) -> dict[tuple[str, str], bool]:
    """(client, server) -> TLS negotiated, from RDP negotiation events when a dissector gives them."""
    out: dict[tuple[str, str], bool] = {}
    for ev in ctx.events:
        if ev.protocol == "rdp" and "tls" in ev.details:
            out[(ev.client, ev.server)] = bool(ev.details["tls"])
    return out


DETECTOR = CleartextRemote()

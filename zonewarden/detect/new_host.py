"""New host: an IP address seen in the capture that is neither a declared asset nor in the baseline.

A capture of a network the model does not describe yet has hundreds of such hosts, and a SIEM
wants a handful of lines, not one per device. Hosts that act as industrial clients (a
possible rogue master) or sit in a control zone are always raised one by one. The others are
raised one by one up to ``FOLD`` per subnet (IPv4 /24, IPv6 /64) and zone; past that, one
alert stands for the subnet, naming its first host (``host``), counting them (``count``) and
listing up to ``SAMPLE`` (``details``).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from zonewarden.detect.base import Alert, Context

_INDUSTRIAL_CLIENT = {"scada-client", "engineering-workstation", "hmi"}
FOLD = 16  # new medium-severity hosts per subnet and zone raised one by one
SAMPLE = 10  # hosts named in a subnet's alert


def _subnet(ip: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


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
        foldable: dict[tuple[str | None, str | None], list[Alert]] = defaultdict(list)
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
            alert = Alert(
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
            if alert.severity == "high":
                out.append(alert)
            else:
                foldable[(_subnet(ip), zone)].append(alert)
        for (subnet, zone), alerts in foldable.items():
            if len(alerts) <= FOLD or subnet is None:
                out.extend(alerts)
            else:
                out.append(_folded(subnet, zone, alerts))
        return out


def _folded(subnet: str, zone: str | None, alerts: list[Alert]) -> Alert:
    """One alert for a subnet's new hosts: the first seen names it, ``count`` says how many."""
    alerts = sorted(alerts, key=lambda a: (a.packet or 0, a.host or ""))
    first = alerts[0]
    where = f"in zone '{zone}'" if zone else "in no zone"
    details: dict[str, Any] = {"subnet": subnet, "hosts": len(alerts), "sample": [a.host for a in alerts[:SAMPLE]]}
    return Alert(
        first.detector,
        first.severity,
        first.host,
        zone,
        None,
        None,
        min((a.time for a in alerts if a.time is not None), default=None),
        first.file,
        first.packet,
        f"{len(alerts)} hosts in {subnet} are not declared assets; seen {where} (first {first.host})",
        first.techniques,
        len(alerts),
        details,
    )


DETECTOR = NewHost()

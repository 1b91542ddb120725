"""Scans: one host touching many hosts (sweep) or many ports of one host (port scan), from flows.

Thresholds (per capture file): a client that opens flows to at least ``SWEEP_HOSTS`` distinct
hosts on the same port, or to at least ``PORT_SCAN_PORTS`` distinct ports of one host, where
most of those flows carried no data (unanswered, reset, or a bare handshake: see
``zonewarden.traffic.flows.FLOW_STATES``). Polling masters (many outstations, answered) do
not count: at least ``UNANSWERED_SHARE`` of the flows must be unanswered or reset.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from zonewarden.detect.base import Alert, Context
from zonewarden.traffic.flows import PROBE_STATES

SWEEP_HOSTS = 16
PORT_SCAN_PORTS = 16
UNANSWERED_SHARE = 0.5
_RST = 0x04


class Scan:
    name = "scan"
    title = "Host or port scan"

    def run(self, ctx: Context) -> list[Alert]:
        by_client: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for f in ctx.flows:
            if f["transport"] in ("tcp", "udp") and f.get("verdict") != "broadcast":
                by_client[f["client"]].append(f)
        out = []
        for client, flows in by_client.items():
            sweep: dict[int, set[str]] = defaultdict(set)
            ports: dict[str, set[int]] = defaultdict(set)
            for f in flows:
                sweep[f["server_port"]].add(f["server"])
                ports[f["server"]].add(f["server_port"])
            dead = sum(1 for f in flows if _probe(f))
            if dead < UNANSWERED_SHARE * len(flows):
                continue
            wide = max(sweep.items(), key=lambda kv: len(kv[1]), default=(0, set()))
            deep = max(ports.items(), key=lambda kv: len(kv[1]), default=("", set()))
            kinds = []
            if len(wide[1]) >= SWEEP_HOSTS:
                kinds.append(f"{len(wide[1])} hosts on port {wide[0]}")
            if len(deep[1]) >= PORT_SCAN_PORTS:
                kinds.append(f"{len(deep[1])} ports of {deep[0]}")
            if not kinds:
                continue
            first = min(flows, key=lambda f: (f["first_seen"], f["first_packet"]))
            out.append(
                Alert(
                    self.name,
                    "high",
                    client,
                    ctx.zone(client),
                    None,
                    None,
                    first["first_seen"],
                    ctx.file,
                    first["first_packet"],
                    f"{client} scanned " + " and ".join(kinds) + f" ({dead} of {len(flows)} flows unanswered or reset)",
                    ["T0846"],
                    len(flows),
                    {"hosts": len({f["server"] for f in flows}), "unanswered": dead},
                )
            )
        return out


def _probe(flow: dict[str, Any]) -> bool:
    """A flow that carried no data (see flows.FLOW_STATES); records without a state: unanswered or reset."""
    state = flow.get("state")
    if state is not None:
        return state in PROBE_STATES
    return flow["packets_to_client"] == 0 or bool(flow["tcp_flags"] & _RST)


DETECTOR = Scan()

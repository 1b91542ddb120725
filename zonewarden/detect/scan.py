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


class _Tally:
    """One client's flows and probes: hosts per port, ports per host, flows, probes, the first seen."""

    def __init__(self) -> None:
        self.sweep: dict[int, set[str]] = defaultdict(set)
        self.unnamed: dict[int, int] = defaultdict(int)  # hosts of a probe group beyond its sample, per port
        self.ports: dict[str, set[int]] = defaultdict(set)
        self.flows = self.dead = 0
        self.first: tuple[float, int] | None = None

    def add(self, server: str, port: int) -> None:
        self.sweep[port].add(server)
        self.ports[server].add(port)

    def seen(self, time: float, packet: int) -> None:
        if self.first is None or (time, packet) < self.first:
            self.first = (time, packet)

    def hosts_on(self, port: int) -> int:
        return len(self.sweep[port]) + self.unnamed.get(port, 0)


class Scan:
    name = "scan"
    title = "Host or port scan"

    def run(self, ctx: Context) -> list[Alert]:
        by_client: dict[str, _Tally] = defaultdict(_Tally)
        for f in ctx.flows:
            if f["transport"] in ("tcp", "udp") and f.get("verdict") != "broadcast":
                t = by_client[f["client"]]
                t.add(f["server"], f["server_port"])
                n = f.get("flows", 1)  # a folded conversation (traffic.conversations) stands for several
                t.flows += n
                t.dead += n * _probe(f)
                t.seen(f["first_seen"], f["first_packet"])
        for p in ctx.probes:  # folded probes (traffic.probes): the servers named, the others counted
            if p["transport"] in ("tcp", "udp") and p["verdict"] != "broadcast":
                t = by_client[p["client"]]
                for server in p["sample"]:
                    t.add(server, p["port"])
                t.unnamed[p["port"]] += p["servers"] - len(p["sample"])
                t.flows += p["flows"]
                t.dead += p["flows"]
                t.seen(p["first_seen"], p["packet"])
        out = []
        for client, t in by_client.items():
            if t.dead < UNANSWERED_SHARE * t.flows or t.first is None:
                continue
            wide = max(t.sweep, key=t.hosts_on, default=0)
            deep = max(t.ports.items(), key=lambda kv: len(kv[1]), default=("", set()))
            kinds = []
            if t.hosts_on(wide) >= SWEEP_HOSTS:
                kinds.append(f"{t.hosts_on(wide):,} hosts on port {wide}")
            if len(deep[1]) >= PORT_SCAN_PORTS:
                kinds.append(f"{len(deep[1]):,} ports of {deep[0]}")
            if not kinds:
                continue
            hosts = len(t.ports) + sum(t.unnamed.values())
            out.append(
                Alert(
                    self.name,
                    "high",
                    client,
                    ctx.zone(client),
                    None,
                    None,
                    t.first[0],
                    ctx.file,
                    t.first[1],
                    f"{client} scanned " + " and ".join(kinds) + f" ({t.dead:,} of {t.flows:,} flows carried no data)",
                    ["T0846"],
                    t.flows,
                    {"hosts": hosts, "unanswered": t.dead},
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

"""The contract of a detector, the alert it raises and the context it reads.

A detector is a module with a ``DETECTOR`` object: a ``name``, a one-line ``title`` and
``run(ctx) -> list[Alert]``. It reads one capture file's discovery (hosts, flows with their
traffic-check verdicts, events) and the plant model, and never raises on odd input.
Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from zonewarden.model.plant import Plant, Role, ZoneKind
from zonewarden.model.resolve import Resolver
from zonewarden.traffic.check import ZoneMap
from zonewarden.traffic.events import Event

SEVERITIES = ("info", "low", "medium", "high", "critical")
CONTROL_KINDS = {ZoneKind.control, ZoneKind.field, ZoneKind.safety, ZoneKind.supervisory}
OUTSIDE_KINDS = {ZoneKind.enterprise, ZoneKind.external, ZoneKind.remote_access, ZoneKind.vendor}
# operations that change the process or the controller (what an EWS or HMI does, nobody else)
CONTROL_OPERATIONS = frozenset({"write", "operate", "program-download", "stop", "start", "restart", "firmware-update"})


@dataclass
class Alert:
    """One detection, with where to look in the capture and what it means."""

    detector: str
    severity: str
    host: str | None  # the acting host (client / scanner / new host)
    zone: str | None
    target: str | None
    target_zone: str | None
    time: float | None  # epoch seconds of the first occurrence
    file: str
    packet: int | None  # 1-based, in ``file``
    explanation: str
    techniques: list[str]
    count: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable across runs: the same thing in the same file gives the same id."""
        key = f"{self.detector}|{self.file}|{self.host}|{self.target}|{self.packet}|{self.explanation}"
        return f"{self.detector}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "detector": self.detector,
            "severity": self.severity,
            "host": self.host,
            "zone": self.zone,
            "target": self.target,
            "target_zone": self.target_zone,
            "time": iso_time(self.time),
            "epoch": self.time,
            "file": self.file,
            "packet": self.packet,
            "count": self.count,
            "explanation": self.explanation,
            "techniques": self.techniques,
            "details": self.details,
        }


def iso_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Baseline:
    """What is already known: hosts and cross-zone conversations (src zone, dst zone, transport, port)."""

    hosts: set[str] = field(default_factory=set)
    cross_zone: set[tuple[str, str, str, int]] = field(default_factory=set)

    @classmethod
    def from_report(cls, data: dict[str, Any]) -> Baseline:
        """From a previous ``traffic check --format json`` output (its ``baseline`` section)."""
        section = data.get("baseline") or {}
        return cls(
            set(section.get("hosts", [])),
            {(c[0], c[1], c[2], int(c[3])) for c in section.get("cross_zone", []) if len(c) == 4},
        )


@dataclass
class Context:
    """What detectors read for one capture file."""

    file: str
    plant: Plant
    resolver: Resolver
    zone_map: ZoneMap
    hosts: list[dict[str, Any]]
    flows: list[dict[str, Any]]  # discovery flow records annotated by the traffic check (conversations)
    events: list[Event]
    baseline: Baseline = field(default_factory=Baseline)
    probes: list[dict[str, Any]] = field(default_factory=list)  # probe groups (traffic.probes), not in flows

    def __post_init__(self) -> None:
        self.asset_by_ip = {str(ip): a for a in self.plant.assets for ip in a.ip}
        self.zones = {z.id: z for z in self.plant.zones}
        self._zone_cache: dict[str, str | None] = {}
        self._prefill()

    def _prefill(self) -> None:
        """Zones of every flow endpoint in one bulk look-up (detectors ask for them one by one)."""
        from zonewarden.traffic.check import ipv4_values

        addresses = sorted(
            {a for f in self.flows for a in (f["client"], f["server"])} | {h["ip"] for h in self.hosts if h.get("ip")}
        )
        values, ok = ipv4_values(addresses)
        zones = self.zone_map.lookup(values)
        for addr, good, z in zip(addresses, ok.tolist(), zones.tolist(), strict=True):
            if good:
                self._zone_cache[addr] = self.zone_map.zones[z] if z >= 0 else None

    def zone(self, address: str | None) -> str | None:
        if address is None:
            return None
        if address not in self._zone_cache:
            self._zone_cache[address] = self.zone_map.zone_of(address)
        return self._zone_cache[address]

    def role(self, address: str) -> Role | None:
        asset = self.asset_by_ip.get(address)
        return asset.role if asset else None

    def is_control_zone(self, zone: str | None) -> bool:
        z = self.zones.get(zone or "")
        if z is None:
            return False
        return z.kind in CONTROL_KINDS or (z.kind is None and z.purdue_level is not None and z.purdue_level <= 2)


class Detector(Protocol):
    name: str
    title: str

    def run(self, ctx: Context) -> list[Alert]: ...


def event_alert(
    ctx: Context, ev: Event, detector: str, severity: str, explanation: str, techniques: list[str]
) -> Alert:
    """An alert about one event: the client acts on the server."""
    return Alert(
        detector,
        severity,
        ev.client,
        ctx.zone(ev.client),
        ev.server,
        ctx.zone(ev.server),
        ev.first_time,
        ev.file,
        ev.first_packet,
        explanation,
        techniques,
        ev.count,
        {"protocol": ev.protocol, "function": ev.function, "operation": ev.operation, "last_packet": ev.last_packet},
    )


def flow_alert(
    ctx: Context,
    f: dict[str, Any],
    detector: str,
    severity: str,
    explanation: str,
    techniques: list[str],
    details: dict[str, Any] | None = None,
) -> Alert:
    """An alert about one flow record (annotated by the traffic check with its zones): the client talks
    to the server, at the flow's first packet."""
    return Alert(
        detector,
        severity,
        f["client"],
        f.get("src_zone"),
        f["server"],
        f.get("dst_zone"),
        f["first_seen"],
        ctx.file,
        f["first_packet"],
        explanation,
        techniques,
        f.get("flows", 1),
        details or {},
    )


def requests(ctx: Context, operations: set[str] | frozenset[str]) -> list[Event]:
    """Request events with one of ``operations``, merged per (client, server, protocol, operation):
    the first occurrence's packet and time, the total count, the last packet, and every function seen."""
    merged: dict[tuple[str, ...], Event] = {}
    for e in sorted(ctx.events, key=lambda e: (e.first_time, e.first_packet)):
        if e.message != "request" or e.operation not in operations:
            continue
        key = (e.file, e.client, e.server, e.protocol, e.operation or "")
        m = merged.get(key)
        if m is None:
            merged[key] = replace(e, details=dict(e.details))
            continue
        m.count += e.count
        if (e.last_time, e.last_packet) > (m.last_time, m.last_packet):
            m.last_time, m.last_packet = e.last_time, e.last_packet
        if e.function and e.function not in (m.function or ""):
            m.function = f"{m.function}, {e.function}" if m.function else e.function
    return list(merged.values())

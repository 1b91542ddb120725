"""The traffic check of captures against a workspace: discovery, flow judgement, operation
checks, coverage and detections, in one call.

Each capture file is discovered on its own, so every packet number in the result belongs to the
file named next to it (the numbers Wireshark shows for that file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zonewarden.detect import Alert, Baseline, Context, detect
from zonewarden.model.plant import Plant
from zonewarden.model.resolve import Resolver
from zonewarden.traffic.check import (
    CheckResult,
    CompiledPolicy,
    ZoneMap,
    check_annotated,
    compile_policy,
)
from zonewarden.traffic.conversations import fold_conversations
from zonewarden.traffic.coverage import coverage
from zonewarden.traffic.probes import check_probes


@dataclass
class Verification:
    results: list[CheckResult]
    coverage: list[dict[str, Any]]
    alerts: list[Alert]
    problems: list[dict[str, Any]]
    hosts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # file -> discovered hosts

    @property
    def violations(self) -> list[dict[str, Any]]:
        return [v for r in self.results for v in r.violations]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            for k, v in r.counts.items():
                out[k] = out.get(k, 0) + v
        return out

    def baseline(self) -> dict[str, Any]:
        """What this run saw, for the next run's ``--baseline``: hosts and cross-zone conversations."""
        hosts = sorted({h["ip"] for hs in self.hosts.values() for h in hs if h.get("ip")})
        cross = sorted(
            {
                (f["src_zone"], f["dst_zone"], f["transport"], int(f["server_port"] or 0))
                for r in self.results
                for f in r.flows
                if f["src_zone"] and f["dst_zone"] and f["src_zone"] != f["dst_zone"]
            }
        )
        return {"hosts": hosts, "cross_zone": [list(c) for c in cross]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "violations": self.violations,
            "probes": [p for r in self.results for p in r.probes],
            "coverage": self.coverage,
            "detections": [a.to_dict() for a in self.alerts],
            "summary": {"flows": self.counts(), "files": [r.file for r in self.results]},
            "problems": self.problems,
            "baseline": self.baseline(),
        }


@dataclass
class Prepared:
    """The plant compiled once for many captures."""

    plant: Plant
    resolver: Resolver
    zone_map: ZoneMap
    compiled: CompiledPolicy

    @classmethod
    def build(cls, plant: Plant) -> Prepared:
        resolver = Resolver(plant)
        zone_map = ZoneMap.build(plant, resolver)
        return cls(plant, resolver, zone_map, compile_policy(plant, zone_map))


def check_discovery(name: str, found: Any, prepared: Prepared) -> CheckResult:
    """The flows of one capture's discovery judged against the plant: in bulk and folded (conversations
    per client, server and port; probes per client, port and zones), since a scan or a DNS client
    makes millions of them."""
    flows = found.flows
    folded = fold_conversations(name, flows.conversations(), prepared.compiled, prepared.zone_map)
    result = check_annotated(name, folded, found.events, prepared.compiled)
    result.add_probes(*check_probes(name, flows.probes(), prepared.compiled, prepared.zone_map))
    return result


def verify(
    plant: Plant,
    captures: Iterable[str | Path],
    baseline: Baseline | None = None,
    progress: Callable[[int], None] | None = None,
    only: list[str] | None = None,
) -> Verification:
    """Check every capture against ``plant``; ``progress`` as for :func:`discover`."""
    from zonewarden.traffic.discover import discover

    prepared = Prepared.build(plant)
    results: list[CheckResult] = []
    alerts: list[Alert] = []
    problems: list[dict[str, Any]] = []
    hosts: dict[str, list[dict[str, Any]]] = {}
    for path in captures:
        name = str(path)
        found = discover([path], progress)
        problems.extend(found.problems)
        if any(p.get("unreadable") for p in found.problems):
            continue
        result = check_discovery(name, found, prepared)
        results.append(result)
        hosts[name] = found.hosts
        ctx = Context(
            name,
            plant,
            prepared.resolver,
            prepared.zone_map,
            found.hosts,
            result.flows,
            found.events,
            baseline or Baseline(),
            result.probes,
        )
        alerts.extend(detect(ctx, only))
    return Verification(results, coverage(plant, prepared.compiled, results), alerts, problems, hosts)

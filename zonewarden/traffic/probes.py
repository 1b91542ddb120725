"""Probes in the traffic check: flows that carried no data (see ``flows.FLOW_STATES``), judged in
bulk and folded into groups.

A scan opens a flow per host and port it tries: a million of them make a million annotated
records, gigabytes and minutes for nothing a person reads one by one. So probes are judged
column by column (the same :func:`~zonewarden.traffic.check.classify` as every flow) and
folded per client, transport, server port, state, zones, verdict, conduit and rule. A group
says how many servers and flows, the packets and bytes, first and last seen with the first
packet, and names up to ``SAMPLE`` servers (every server when there are that few).

Groups whose verdict is a violation are violations, shaped as the traffic check's others
(``server`` names the first server) with ``servers`` (how many) and ``state`` added.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zonewarden.traffic.check import (
    RULE_BROKEN,
    VERDICTS,
    VIOLATIONS,
    CompiledPolicy,
    ZoneMap,
    annotation,
    judge_oriented,
)
from zonewarden.traffic.decode import TRANSPORT_NAMES
from zonewarden.traffic.flows import FLOW_STATES, FlowRecords, address_texts, fold_groups

SAMPLE = 5  # servers named per group
_SORTED = (  # the columns read in group order
    "ip_version", "server_hi", "server_lo", "packets_to_server", "packets_to_client",
    "bytes_to_server", "bytes_to_client", "first_ns", "last_ns",
)  # fmt: skip


def check_probes(
    file: str, probes: FlowRecords, compiled: CompiledPolicy, zone_map: ZoneMap
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """(groups, violations, flows per verdict) of the probes of one capture file."""
    if not len(probes):
        return [], [], {}
    c = probes.oriented()
    judged = judge_oriented(probes, c, compiled, zone_map)
    keys = [
        c["ip_version"], c["client_hi"], c["client_lo"], c["proto"], c["server_port"], c["state"],
        judged.src_zone, judged.dst_zone, judged.verdict, judged.conduit, judged.rule, judged.reversed,
    ]  # fmt: skip
    order, starts = fold_groups(keys, c["first_packet"])
    sizes = np.diff(np.append(starts, len(order)))
    group = np.repeat(np.arange(len(starts)), sizes)  # per sorted row
    s = {k: c[k][order] for k in _SORTED}
    servers = _distinct_servers(group, s, len(starts))
    first = order[starts]
    packets = np.add.reduceat(s["packets_to_server"] + s["packets_to_client"], starts).tolist()
    size = np.add.reduceat(s["bytes_to_server"] + s["bytes_to_client"], starts).tolist()
    first_ns = np.minimum.reduceat(s["first_ns"], starts).tolist()
    last_ns = np.maximum.reduceat(s["last_ns"], starts).tolist()
    flows = sizes.tolist()
    clients = address_texts(c["ip_version"][first], c["client_hi"][first], c["client_lo"][first])
    protocols = probes.app_protocols(c["row"][first].tolist())
    zones = zone_map.zones
    groups, violations, counts = [], [], dict.fromkeys(VERDICTS, 0)
    for g, row in enumerate(first.tolist()):
        v = int(judged.verdict[row])
        sample = _sample(s, int(starts[g]), flows[g])
        item = {
            "client": clients[g],
            "transport": TRANSPORT_NAMES.get(int(c["proto"][row]), f"ip-{int(c['proto'][row])}"),
            "port": int(c["server_port"][row]),
            "protocol": protocols[g],
            "state": FLOW_STATES[int(c["state"][row])],
            **annotation(file, judged, row, compiled, zones),
            "servers": int(servers[g]),
            "sample": sample,
            "flows": flows[g],
            "packets": packets[g],
            "bytes": size[g],
            "first_seen": first_ns[g] / 1e9,
            "last_seen": last_ns[g] / 1e9,
            "packet": int(c["first_packet"][row]),
        }
        groups.append(item)
        counts[VERDICTS[v]] += flows[g]
        if v in VIOLATIONS:
            violations.append(_violation(item, v))
    return groups, violations, {k: n for k, n in counts.items() if n}


def _distinct_servers(group: np.ndarray, s: dict[str, np.ndarray], groups: int) -> np.ndarray:
    """Per group (``group``: the sorted rows' group), how many distinct servers."""
    order, starts = fold_groups([group, s["server_hi"], s["server_lo"]])
    return np.bincount(group[order[starts]], minlength=groups)


def _sample(s: dict[str, np.ndarray], start: int, count: int) -> list[str]:
    """Up to SAMPLE distinct servers of a group, in the order of their first probe."""
    take = slice(start, start + min(count, 8 * SAMPLE))
    texts = address_texts(s["ip_version"][take], s["server_hi"][take], s["server_lo"][take])
    return list(dict.fromkeys(texts))[:SAMPLE]


def _violation(group: dict[str, Any], v: int) -> dict[str, Any]:
    pair = f"{group['src_zone'] or '?'} -> {group['dst_zone'] or '?'}"
    return {
        "kind": VERDICTS[v],
        "file": group["file"],
        "packet": group["packet"],
        "client": group["client"],
        "server": group["sample"][0],
        "servers": group["servers"],
        "state": group["state"],
        "transport": group["transport"],
        "port": group["port"],
        "protocol": group["protocol"],
        "src_zone": group["src_zone"],
        "dst_zone": group["dst_zone"],
        "zone_pair": pair,
        "conduit": group["conduit"],
        "rule_broken": RULE_BROKEN[v],
        "first_seen": group["first_seen"],
        "last_seen": group["last_seen"],
        "packets": group["packets"],
        "bytes": group["bytes"],
        "flows": group["flows"],
    }

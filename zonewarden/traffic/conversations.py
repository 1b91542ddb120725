"""Conversations in the traffic check: flows that carried data, judged in bulk and folded.

A DNS client opens a new flow (a new source port) per query, an SNMP poller one per poll: a day
of them is a million flows that say one thing, "this host asks that server on port 53". Each
flow is judged (in bulk, :func:`~zonewarden.traffic.check.judge_oriented`: the verdict may
depend on the client port when the capture missed the SYN), then the flows are folded per
client, server, transport, server port, state, application protocol and judgement (verdict,
zones, conduit, rule, direction). A folded record is the flow record of its first flow with the
packets, bytes and payload summed, first and last seen over all, the TCP flags OR-ed, and
``flows`` (how many). Records come in the order of their first packet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zonewarden.traffic.check import CompiledPolicy, ZoneMap, annotation, judge_oriented
from zonewarden.traffic.flows import FlowRecords, flag_text, fold_groups

_SUMMED = (
    "packets_to_server", "packets_to_client", "bytes_to_server", "bytes_to_client",
    "payload_to_server", "payload_to_client",
)  # fmt: skip


def fold_conversations(
    file: str, records: FlowRecords, compiled: CompiledPolicy, zone_map: ZoneMap
) -> list[dict[str, Any]]:
    """The folded, annotated records (``file``, ``verdict``, ``src_zone``, ``dst_zone``, ``conduit``,
    ``rule``, ``reversed`` as :func:`~zonewarden.traffic.check.check_flows` adds them, and ``flows``)."""
    if not len(records):
        return []
    c = records.oriented()
    judged = judge_oriented(records, c, compiled, zone_map)
    apps = records.app_protocols(c["row"].tolist())
    names = {name: k for k, name in enumerate(dict.fromkeys(apps))}
    app = np.array([names[a] for a in apps], dtype=np.int64)
    keys = [
        c["ip_version"], c["client_hi"], c["client_lo"], c["server_hi"], c["server_lo"], c["proto"],
        c["server_port"], c["vlan"], c["state"], app,
        judged.verdict, judged.src_zone, judged.dst_zone, judged.conduit, judged.rule, judged.reversed,
    ]  # fmt: skip
    order, starts = fold_groups(keys, c["first_packet"])
    first = order[starts]  # each group's first flow (its smallest packet number)
    sums = {k: np.add.reduceat(c[k][order], starts).tolist() for k in _SUMMED}
    first_ns = np.minimum.reduceat(c["first_ns"][order], starts).tolist()
    last_ns = np.maximum.reduceat(c["last_ns"][order], starts).tolist()
    flags = np.bitwise_or.reduceat(c["tcp_flags"][order], starts).tolist()
    flows = np.diff(np.append(starts, len(order))).tolist()
    by_position = np.argsort(first, kind="stable")  # groups in the order of their first packet
    keep = np.zeros(len(records), dtype=bool)
    keep[first] = True
    heads = records.where(keep)  # the first flows' records, in table (first packet) order
    zones = zone_map.zones
    out = []
    for g, rec in zip(by_position.tolist(), heads, strict=True):
        for k in _SUMMED:
            rec[k] = sums[k][g]
        rec["first_seen"], rec["last_seen"] = first_ns[g] / 1e9, last_ns[g] / 1e9
        rec["tcp_flags"] = flags[g]
        rec["tcp_flags_text"] = flag_text(flags[g])
        rec["flows"] = flows[g]
        rec.update(annotation(file, judged, int(first[g]), compiled, zones))
        out.append(rec)
    return out

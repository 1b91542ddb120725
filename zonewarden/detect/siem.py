"""Alerts and violations as lines for a SIEM: JSON lines, ArcSight CEF and RFC 5424 syslog.

Pure formatting; deterministic for the same input (times come from the capture, not the clock).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

VENDOR, PRODUCT = "ZoneWarden", "traffic check"
CEF_SEVERITY = {"info": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}
SYSLOG_SEVERITY = {"info": 6, "low": 5, "medium": 4, "high": 3, "critical": 2}  # informational .. critical
FACILITY = 20  # local4
PEN = 32473  # the private enterprise number reserved for documentation and examples (RFC 5612)
VIOLATION_SEVERITY = {
    "unknown-host": "medium",
    "no-conduit": "high",
    "not-allowed": "medium",
    "operation-not-allowed": "high",
}


def records(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat record per detection and per violation, in a common shape."""
    out = []
    for d in result.get("detections", []):
        out.append(
            {
                "type": "detection",
                "id": d["id"],
                "signature": d["detector"],
                "severity": d["severity"],
                "epoch": d.get("epoch"),
                "src": d.get("host"),
                "dst": d.get("target"),
                "src_zone": d.get("zone"),
                "dst_zone": d.get("target_zone"),
                "file": d["file"],
                "packet": d.get("packet"),
                "techniques": d.get("techniques", []),
                "message": d["explanation"],
            }
        )
    for v in result.get("violations", []):
        out.append(
            {
                "type": "violation",
                "id": f"{v['kind']}-{v['client']}-{v['server']}-{v['port']}",
                "signature": f"violation-{v['kind']}",
                "severity": VIOLATION_SEVERITY.get(v["kind"], "medium"),
                "epoch": v.get("first_seen"),
                "src": v["client"],
                "dst": v["server"],
                "src_zone": v.get("src_zone"),
                "dst_zone": v.get("dst_zone"),
                "file": v["file"],
                "packet": v.get("packet"),
                "techniques": [],
                "message": f"{v['zone_pair']} {v['transport']}/{v['port']}: {v['rule_broken']}" + _peers(v),
            }
        )
    out.sort(key=lambda r: (r["epoch"] or 0, r["file"], r["packet"] or 0))
    return out


def _peers(v: dict[str, Any]) -> str:
    """How many clients or servers a folded violation stands for (a network the model does not know, a scan)."""
    parts = [f"{v[k]:,} {k}" for k in ("clients", "servers") if v.get(k, 1) > 1]
    return f" ({', '.join(parts)})" if parts else ""


def jsonl(result: dict[str, Any]) -> str:
    lines = [json.dumps({"type": "detection", **d}, default=str) for d in result.get("detections", [])]
    lines += [json.dumps({"type": "violation", **v}, default=str) for v in result.get("violations", [])]
    lines += [json.dumps({"type": "coverage", **c}, default=str) for c in result.get("coverage", [])]
    return "".join(line + "\n" for line in lines)


def _cef_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("=", "\\=").replace("\r", " ").replace("\n", " ")


def cef(result: dict[str, Any], version: str) -> str:
    lines = []
    for r in records(result):
        ext = {
            "externalId": r["id"],
            "rt": int(r["epoch"] * 1000) if r["epoch"] is not None else None,
            "src": r["src"],
            "dst": r["dst"],
            "cs1Label": "srcZone",
            "cs1": r["src_zone"],
            "cs2Label": "dstZone",
            "cs2": r["dst_zone"],
            "cs3Label": "attackTechniques",
            "cs3": ",".join(r["techniques"]) or None,
            "fname": r["file"],
            "cn1Label": "packet",
            "cn1": r["packet"],
            "msg": r["message"],
        }
        for label, value in (("cs1Label", "cs1"), ("cs2Label", "cs2"), ("cs3Label", "cs3"), ("cn1Label", "cn1")):
            if ext[value] is None:
                ext[label] = None
        body = " ".join(f"{k}={_cef_value(v)}" for k, v in ext.items() if v is not None)
        name = r["signature"].replace("-", " ")
        header = "|".join(_cef_header(x) for x in ("CEF:0", VENDOR, PRODUCT, version, r["signature"], name))
        lines.append(f"{header}|{CEF_SEVERITY[r['severity']]}|{body}")
    return "".join(line + "\n" for line in lines)


def _sd_value(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog(result: dict[str, Any], hostname: str = "-", app: str = "zonewarden") -> str:
    """RFC 5424 lines, one per record, timestamped with the capture time."""
    lines = []
    for r in records(result):
        pri = FACILITY * 8 + SYSLOG_SEVERITY[r["severity"]]
        stamp = (
            dt.datetime.fromtimestamp(r["epoch"], dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            if r["epoch"] is not None
            else "-"
        )
        params = {
            "id": r["id"],
            "type": r["type"],
            "severity": r["severity"],
            "src": r["src"],
            "dst": r["dst"],
            "srcZone": r["src_zone"],
            "dstZone": r["dst_zone"],
            "file": r["file"],
            "packet": r["packet"],
            "techniques": ",".join(r["techniques"]) or None,
        }
        sd = " ".join(f'{k}="{_sd_value(v)}"' for k, v in params.items() if v is not None)
        msgid = r["signature"][:32]
        lines.append(f"<{pri}>1 {stamp} {hostname or '-'} {app} - {msgid} [zonewarden@{PEN} {sd}] {r['message']}")
    return "".join(line + "\n" for line in lines)

"""Device facts from free text: the system descriptions of LLDP, CDP and SNMP, and HTTP Server headers.

:func:`parse_description` pulls vendor/model/firmware out of a description only when it
follows a known, clear pattern; :func:`vendor_in` finds a known vendor name in any text.
"""

from __future__ import annotations

import re

# Vendor names recognised at the start of (or inside) a description or a Server header.
VENDORS: tuple[tuple[str, str], ...] = (
    ("siemens", "Siemens"),
    ("cisco", "Cisco"),
    ("hirschmann", "Hirschmann"),
    ("moxa", "Moxa"),
    ("phoenix contact", "Phoenix Contact"),
    ("rockwell", "Rockwell Automation"),
    ("allen-bradley", "Rockwell Automation"),
    ("schneider", "Schneider Electric"),
    ("wago", "WAGO"),
    ("beckhoff", "Beckhoff"),
    ("westermo", "Westermo"),
    ("ruggedcom", "Siemens RUGGEDCOM"),
    ("juniper", "Juniper"),
    ("hewlett-packard", "HP"),
    ("aruba", "HPE Aruba"),
    ("mikrotik", "MikroTik"),
)

_ORDER_NUMBER = re.compile(r"\b(6[A-Z]{2}\d\s?\d{3}-\w{5}-\w{4})\b")
_SIEMENS_HW = re.compile(r"\bHW:\s*([\w.]+)")
_SIEMENS_FW = re.compile(r"\bFW:\s*([\w.\-]+)")
_CISCO = re.compile(
    r"Cisco (?P<os>IOS(?: XE| XR)?|NX-OS|Adaptive Security Appliance)(?: Software)?"
    r"(?:,\s*(?P<model>[\w-]+) Software)?.*?\bVersion\s+(?P<ver>[\w.()\-]+)",
    re.S,
)
_VERSION = re.compile(r"\b(?:FW|Firmware|SW|Software Version|Version)[:\s]+(v?\d[\w.()\-]*)", re.I)


def vendor_in(textual: str) -> str | None:
    low = textual.lower()
    for key, vendor in VENDORS:
        if key in low:
            return vendor
    return None


def parse_description(desc: str) -> dict[str, str]:
    """vendor/model/firmware/hardware/order_number/platform from a system description.

    Known layouts: Siemens ("Siemens, SIMATIC NET, SCALANCE X208, 6GK5 208-0BA10-2AA3, HW: 6,
    FW: V4.1.0"), Cisco ("Cisco IOS Software, C2960 Software (...), Version 15.2(4)E10, ..."),
    Hirschmann ("Hirschmann Railswitch"...). Elsewhere only a clear vendor name and a
    "Version x"/"FW: x" are taken.
    """
    out: dict[str, str] = {}
    if not desc:
        return out
    first = desc.splitlines()[0].strip() if desc.strip() else ""
    parts = [p.strip() for p in first.split(",")]
    if parts and parts[0].lower().startswith("siemens") and len(parts) >= 3:
        out["vendor"] = "Siemens"
        if not _ORDER_NUMBER.fullmatch(parts[2]) and ":" not in parts[2]:
            out["model"] = parts[2]
        if m := _ORDER_NUMBER.search(first):
            out["order_number"] = m.group(1)
        if m := _SIEMENS_HW.search(first):
            out["hardware"] = m.group(1)
        if m := _SIEMENS_FW.search(first):
            out["firmware"] = m.group(1)
        return out
    if m := _CISCO.search(desc):
        out["vendor"] = "Cisco"
        out["platform"] = f"Cisco {m.group('os')}"
        out["firmware"] = m.group("ver").rstrip(",")
        if m.group("model"):
            out["model"] = m.group("model")
        return out
    if first.lower().startswith("hirschmann"):
        out["vendor"] = "Hirschmann"
        rest = first[len("hirschmann") :].strip(" ,-")
        model = re.split(r"\s+(?:SW|FW|HW|Version|Rel|Release)\b", rest, maxsplit=1)[0].strip(" ,")
        if model and len(model) <= 64:
            out["model"] = model
    else:
        vendor = vendor_in(first)
        if vendor:
            out["vendor"] = vendor
    if (m := _SIEMENS_FW.search(desc)) or (m := _VERSION.search(desc)):
        out["firmware"] = m.group(1).rstrip(",.")
    if "vendor" not in out and desc.startswith("Linux "):
        out["platform"] = "Linux"
    return out

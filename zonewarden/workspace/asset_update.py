"""Add newly discovered hosts to a workspace's asset file, leaving what people wrote alone.

New rows are appended to ``assets.csv`` (created with a header if missing); existing
lines are never rewritten. Ids are derived from the address and made unique.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from zonewarden.workspace.tables import decode_text

COLUMNS = ("id", "name", "role", "vendor", "model", "firmware", "serial", "ip", "mac", "zone", "notes")
ROLE_MAP = {
    "plc": "plc",
    "rtu": "rtu",
    "engineering-workstation": "engineering-workstation",
    "hmi": "hmi",
    "scada-client": "hmi",
    "opc-server": "opc-server",
    "historian": "historian",
    "network-device": "switch",
    "it-host": "workstation",
}


def append_discovered(root: Path, hosts: list[dict[str, Any]], existing_ids: set[str], source: str) -> list[str]:
    """Append ``hosts`` (unknown hosts from the comparison, with inventory fields) to assets.csv; return new ids."""
    path = root / "assets.csv"
    header: list[str] = list(COLUMNS)
    delimiter = ","
    prefix = ""
    if path.exists():
        text = decode_text(path.read_bytes())
        first = text.splitlines()[0] if text.strip() else ""
        if first:
            delimiter = max(",;\t|", key=first.count)
            header = next(csv.reader([first], delimiter=delimiter))
        if text and not text.endswith(("\n", "\r")):
            prefix = "\n"
    else:
        prefix = delimiter.join(header) + "\n"
    lower = [h.strip().lower() for h in header]
    rows, ids = [], []
    used = set(existing_ids)
    for host in hosts:
        base = "seen-" + (host.get("ip") or host.get("mac") or "host").replace(".", "-").replace(":", "-")
        ident, n = base, 2
        while ident in used:
            ident, n = f"{base}-{n}", n + 1
        used.add(ident)
        ids.append(ident)
        role = next((ROLE_MAP[r] for r in host.get("roles", []) if r in ROLE_MAP), "")
        values = {
            "id": ident,
            "name": host.get("name") or "",
            "role": role,
            "vendor": host.get("vendor") or "",
            "model": host.get("model") or "",
            "firmware": host.get("firmware") or "",
            "serial": host.get("serial") or "",
            "ip": host.get("ip") or "",
            "mac": host.get("mac") or "",
            "zone": host.get("zone") or "",
            "notes": f"discovered in {source}",
        }
        rows.append([values.get(h, "") for h in lower])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerows(rows)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(prefix + buffer.getvalue())
    return ids

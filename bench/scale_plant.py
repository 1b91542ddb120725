"""Scale benchmark for the plant model and the assessment engine (issue: assessment engine, item 8).

Generates a plant of 1,000 zones, 100,000 assets (in assets.csv), 3,000 conduits and
complete answers for every zone (one assessments/*.yaml per zone), then times
`validate` (load + check) and `assess` at 1x, 2x and 4x that size.

    .venv/bin/python bench/scale_plant.py [--sizes 1 2 4] [--keep DIR]

Prints seconds per phase (the fastest of --repeat runs, since shared VMs are noisy) and the
ratio to 1x, so growth can be judged as linear or not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from zonewarden.assess.backlog import build_backlog
from zonewarden.assess.engine import assess
from zonewarden.catalog import load_catalog

ZONES, ASSETS, CONDUITS = 1_000, 100_000, 3_000
ROLES = ["plc", "hmi", "switch", "rtu", "drive", "io-module", "sensor", "engineering-workstation", "historian"]
STATUSES = ["implemented"] * 6 + ["partial", "planned", "not-implemented", "compensated", "not-applicable"]


def generate(root: Path, scale: int, seed: int = 62443) -> None:
    rng = random.Random(seed)
    catalog = load_catalog()
    system = [r for r in catalog.requirements.values() if r.standard == "62443-3-3"]
    n_zones, n_assets, n_conduits = ZONES * scale, ASSETS * scale, CONDUITS * scale
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    zones = []
    for i in range(n_zones):
        net = ipaddress.IPv4Network((base + i * 256, 24))
        level = [1, 1, 2, 2, 3][i % 5]
        zones.append(
            {
                "id": f"z{i:05d}",
                "name": f"Zone {i}",
                "kind": "control",
                "purdue_level": level,
                "subnets": [str(net)],
                "consequences": [
                    {
                        "category": rng.choice(["production", "health-and-safety", "environment"]),
                        "severity": rng.randint(1, 5),
                        "description": "generated",
                    }
                ],
            }
        )
    zones.append({"id": "enterprise", "kind": "enterprise", "purdue_level": 4, "subnets": ["192.168.0.0/16"]})
    zones.append({"id": "dmz", "kind": "dmz", "purdue_level": 3.5, "subnets": ["172.16.0.0/16"], "sl_t": 2})
    conduits = [
        {
            "id": "ent-dmz",
            "zones": ["enterprise", "dmz"],
            "enforcement": "firewall",
            "devices": ["fw-0"],
            "flows": [{"from": "enterprise", "to": "dmz", "protocol": "https"}],
        }
    ]
    for c in range(n_conduits - 1):
        # Join zones of the same Purdue band (index mod 5 picks the level), as a sane design would.
        a = rng.randrange(n_zones)
        b = (a + 5 * (1 + rng.randrange(n_zones // 5 - 1))) % n_zones
        conduits.append(
            {
                "id": f"c{c:05d}",
                "zones": [f"z{a:05d}", f"z{b:05d}"],
                "enforcement": "firewall",
                "devices": ["fw-0"],
                "flows": [
                    {
                        "from": f"z{a:05d}",
                        "to": f"z{b:05d}",
                        "protocol": rng.choice(["modbus", "s7", "opcua"]),
                        "operations": "read-only" if c % 3 == 0 else None,
                    }
                ],
            }
        )
        if conduits[-1]["flows"][0]["operations"] is None:
            del conduits[-1]["flows"][0]["operations"]
    plant = {
        "version": 1,
        "site": {"name": f"Benchmark plant x{scale}"},
        "zones": zones,
        "conduits": conduits,
        "assets": [{"id": "fw-0", "role": "firewall", "zone": "dmz", "ip": "172.16.0.1"}],
    }
    (root / "plant.yaml").write_text(yaml.safe_dump(plant, sort_keys=False), encoding="utf-8")
    lines = ["id,name,role,vendor,model,firmware,ip,mac,zone,criticality"]
    for i in range(n_assets):
        zone = i % n_zones
        host = 2 + (i // n_zones)
        ip = ipaddress.IPv4Address(base + zone * 256 + host)
        mac = f"02:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}:01"
        lines.append(
            f"a{i:07d},Asset {i},{ROLES[i % len(ROLES)]},Vendor,Model {i % 17},V{i % 5}.{i % 3},{ip},{mac},"
            f"z{zone:05d},{['low', 'medium', 'high'][i % 3]}"
        )
    (root / "assets.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    folder = root / "assessments"
    folder.mkdir()
    for z in zones[:n_zones]:
        answers = {}
        for r in system:
            status = rng.choice(STATUSES)
            answer: dict = {"status": status}
            if status == "not-applicable":
                answer["justification"] = "not present in this zone"
            elif status == "compensated":
                answer["compensation"] = "covered by the boundary DPI firewall"
            elif status == "implemented" and rng.random() < 0.3:
                answer["evidence"] = [
                    {"ref": "CHG-2026-0001", "date": dt.date(2026, 1, 1), "expires": dt.date(2028, 1, 1)}
                ]
            answers[r.id] = answer
        doc = {"zone": z["id"], "assessor": "Bench", "date": dt.date(2026, 10, 1), "answers": answers}
        (folder / f"{z['id']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def measure(root: Path) -> dict[str, float]:
    from zonewarden.workspace.load import load_workspace

    catalog = load_catalog()
    t0 = time.perf_counter()
    ws = load_workspace(root)
    t1 = time.perf_counter()
    diagnostics = ws.check()
    t2 = time.perf_counter()
    result = assess(ws.plant, ws.risk, [a for _, a in ws.assessments], catalog, dt.date(2026, 11, 26))
    t3 = time.perf_counter()
    items = build_backlog(result, catalog)
    t4 = time.perf_counter()
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        print(f"  ! {len(errors)} errors, first: {errors[0].format()}", file=sys.stderr)
    return {
        "load": t1 - t0,
        "check": t2 - t1,
        "assess": t3 - t2,
        "backlog": t4 - t3,
        "validate+assess": t3 - t0,
        "zones": len(ws.plant.zones),
        "assets": len(ws.plant.assets),
        "answers": sum(len(a.answers) for _, a in ws.assessments),
        "gaps": len(result.gaps),
        "items": len(items),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--keep", type=Path, help="keep the generated workspaces under this folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the fastest is reported (noisy VMs)")
    args = parser.parse_args()
    rows = []
    for scale in args.sizes:
        root = (args.keep / f"x{scale}") if args.keep else Path(tempfile.mkdtemp(prefix=f"zw-bench-x{scale}-"))
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        t = time.perf_counter()
        generate(root, scale)
        gen = time.perf_counter() - t
        runs = [measure(root) for _ in range(args.repeat)]
        result = min(runs, key=lambda r: r["validate+assess"])
        rows.append((scale, gen, result))
        if not args.keep:
            shutil.rmtree(root)
    base = rows[0][2]["validate+assess"]
    print(
        f"{'size':>5} {'zones':>7} {'assets':>8} {'answers':>8} {'load s':>7} {'check s':>7} {'assess s':>8} "
        f"{'backlog s':>9} {'validate+assess s':>17} {'ratio to 1x':>11}"
    )
    for scale, _gen, r in rows:
        print(
            f"{scale:>4}x {r['zones']:>7} {r['assets']:>8} {r['answers']:>8} {r['load']:>7.2f} {r['check']:>7.2f} "
            f"{r['assess']:>8.2f} {r['backlog']:>9.2f} {r['validate+assess']:>17.2f} "
            f"{r['validate+assess'] / base:>10.2f}x"
        )


if __name__ == "__main__":
    main()

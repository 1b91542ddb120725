"""Speed of `rules check` (issue: segmentation engineering, item 6).

Generates the 1,000-zone benchmark plant (bench/scale_plant.py's generator, imported), renders a
5,000-rule configuration from its conduits for iptables-save and Cisco ASA (the conduits' flows as
permits, plus duplicates, excess permits, over-broad and deny rules so every analysis has work,
and a final logged deny), then times parse + analysis of each against the plant's policy.

    .venv/bin/python bench/rules_bench.py [--rules 5000] [--repeat 3] [--keep DIR]

Prints seconds per phase (the fastest of --repeat runs) and the ratio to the 5 s target.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_plant import generate

from zonewarden.rules.analyze import analyze, zone_infos
from zonewarden.rules.config import parse_text
from zonewarden.rules.policy import build_policy
from zonewarden.workspace.load import load_workspace

TARGET = 5.0


def _terms(policy, n_rules: int, seed: int = 7) -> list[tuple[str, str, str, str, str]]:
    """(action, proto, src cidr, dst cidr, dport) terms: the policy first, then planted extras."""
    rng = random.Random(seed)
    terms = []
    for r in policy.rules:
        if r.transport not in ("tcp", "udp") or not r.sources or not r.destinations:
            continue
        for s in r.sources[:1]:
            for d in r.destinations[:1]:
                for lo, hi in r.ports or ((1, 65535),):
                    terms.append(("permit", r.transport, str(s), str(d), f"{lo}" if lo == hi else f"{lo}:{hi}"))
    # a few denies in front of conduit flows: flows the configuration breaks
    blocked = [("deny", *t[1:]) for t in rng.sample(terms, min(50, len(terms) // 20))]
    terms = blocked + terms
    zones = [z for z, nets in policy.zone_networks.items() if nets and z.startswith("z")]
    while len(terms) < n_rules - 1:
        kind = rng.random()
        a, b = rng.choice(zones), rng.choice(zones)
        src, dst = str(policy.zone_networks[a][0]), str(policy.zone_networks[b][0])
        if kind < 0.3:  # a duplicate of an earlier permit: shadowed
            terms.append(terms[rng.randrange(len(terms))])
        elif kind < 0.6:  # excess: ssh between two zones
            terms.append(("permit", "tcp", src, dst, "22"))
        elif kind < 0.7:  # over-broad: any source
            terms.append(("permit", "tcp", "0.0.0.0/0", dst, str(rng.choice((80, 443, 8080)))))
        else:  # a deny, sometimes in front of a conduit flow
            terms.append(("deny", "udp", src, dst, str(rng.randrange(1, 65535))))
    return terms[: n_rules - 1]


def render_iptables(terms) -> str:
    lines = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    for action, proto, src, dst, port in terms:
        target = "ACCEPT" if action == "permit" else "DROP"
        lines.append(f"-A FORWARD -s {src} -d {dst} -p {proto} -m {proto} --dport {port} -j {target}")
    lines += ["-A FORWARD -j LOG --log-prefix final-deny", "-A FORWARD -j DROP", "COMMIT"]
    return "\n".join(lines) + "\n"


def _asa_addr(cidr: str) -> str:
    net = ipaddress.ip_network(cidr)
    if net.prefixlen == 0:
        return "any4"
    if net.prefixlen == 32:
        return f"host {net.network_address}"
    return f"{net.network_address} {net.netmask}"


def render_asa(terms) -> str:
    lines = ["hostname fw-0", "interface GigabitEthernet0/1", " nameif inside", "!"]
    for action, proto, src, dst, port in terms:
        ports = f"range {port.replace(':', ' ')}" if ":" in port else f"eq {port}"
        lines.append(f"access-list inside_in extended {action} {proto} {_asa_addr(src)} {_asa_addr(dst)} {ports} log")
    lines += ["access-list inside_in extended deny ip any any log", "access-group inside_in in interface inside"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="keep the generated plant and configs here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="zw-rules-bench-")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        generate(root, 1)
        ws = load_workspace(root)
        t1 = time.perf_counter()
        policy = build_policy(ws)
        zones = zone_infos(ws.plant)
        t2 = time.perf_counter()
        print(
            f"plant: {len(ws.plant.zones)} zones, {len(ws.plant.conduits)} conduits, {len(policy.rules)} policy "
            f"rules (generate+load {t1 - t0:.1f} s, policy {t2 - t1:.2f} s)"
        )
        terms = _terms(policy, args.rules)
        for platform, text in (("iptables", render_iptables(terms)), ("asa", render_asa(terms))):
            (root / f"bench.{platform}").write_text(text, encoding="utf-8")
            best_parse = best_analyze = float("inf")
            for _ in range(args.repeat):
                a = time.perf_counter()
                ruleset = parse_text(platform, text, f"bench.{platform}")
                b = time.perf_counter()
                report = analyze(ruleset, policy, zones)
                c = time.perf_counter()
                best_parse, best_analyze = min(best_parse, b - a), min(best_analyze, c - b)
            total = best_parse + best_analyze
            counts = ", ".join(f"{k} {v}" for k, v in report.summary["by_kind"].items())
            print(
                f"{platform:9s} {len(ruleset.rules)} rules: parse {best_parse:.2f} s + analysis {best_analyze:.2f} s "
                f"= {total:.2f} s, {total / TARGET:.2f}x the {TARGET:.0f} s target ({counts})"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

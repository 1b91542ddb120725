"""What recognition by content (zonewarden/traffic/recognize.py) costs on traffic it must not slow down.

Builds (cached in /tmp/zonewarden-bench) two captures that no recogniser should take:

* ``tls``: 50,000 TLS-like TCP flows of 10 payloads each (1 M packets), on port 443 (a named service:
  never looked at) and on port 50443 (unknown: the first payloads of each flow are tried, the leads
  filter drops them in bulk);
* ``sweep``: 200,000 UDP probes with a 4-byte payload each, on unknown ports (one flow per probe).

and times the whole discover on each with recognition and with it switched off, printing the ratio.
Runs vary by about 30% on the development VM; the best of ``--repeat`` runs is kept.

    .venv/bin/python bench/recognize_bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import struct
import time
from pathlib import Path

CACHE = Path("/tmp/zonewarden-bench")
_ETH = bytes.fromhex("0200000000020200000000010800")
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _record(k: int, frame: bytes) -> bytes:
    return struct.pack("<IIII", 1_700_000_000 + k // 1_000_000, k % 1_000_000, len(frame), len(frame)) + frame


def build_tls(port: int, flows: int = 50_000) -> Path:
    path = CACHE / f"tls-{port}-{flows}.pcap"
    if path.exists():
        return path
    out, k = [_PCAP_HEADER], 0
    for i in range(flows):
        client, server, client_port = 0x0A000000 + 10 + i % 200, 0x0A010000 + i % 50, 10_000 + i % 50_000
        for j in range(5):
            for src, dst, sport, dport in ((client, server, client_port, port), (server, client, port, client_port)):
                payload = bytes([0x17, 3, 3]) + os.urandom(40 + j)
                tcp = struct.pack(">HHIIBBHHH", sport, dport, j, j, 0x50, 0x18, 8192, 0, 0)
                ip = struct.pack(">BBHHHBBHII", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0, src, dst)
                out.append(_record(k, _ETH + ip + tcp + payload))
                k += 1
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(out))
    return path


def build_sweep(probes: int = 200_000) -> Path:
    path = CACHE / f"udp-sweep-{probes}.pcap"
    if path.exists():
        return path
    out = [_PCAP_HEADER]
    for i in range(probes):
        payload = b"\x01\x02\x03\x04"
        sport, dport = 40_000 + i % 20_000, 20_000 + (i // 20_000) * 1000 + i % 997 + 1100
        udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBHII", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, 0x0A000001, 0x0A010000 + i % 60_000)
        out.append(_record(i, _ETH + ip + udp))
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(out))
    return path


def _best(path: Path, repeat: int) -> float:
    from zonewarden.traffic.discover import discover

    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        discover([path])
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from zonewarden.traffic import recognize

    cases = [("TLS-like, port 443", build_tls(443)), ("TLS-like, port 50443", build_tls(50443))]
    cases.append(("UDP sweep, unknown ports", build_sweep()))
    print(f"{'capture':28s} {'with (s)':>9s} {'without (s)':>12s} {'ratio':>6s}")
    apply = recognize.Recognizer.apply
    for name, path in cases:
        recognize.Recognizer.apply = apply
        with_it = _best(path, args.repeat)
        recognize.Recognizer.apply = lambda self, h, rows, table: None  # type: ignore[method-assign]
        without = _best(path, args.repeat)
        print(f"{name:28s} {with_it:9.2f} {without:12.2f} {with_it / without:6.2f}")
    recognize.Recognizer.apply = apply


if __name__ == "__main__":
    main()

"""DNP3, BACnet, IEC 60870-5-104 and OPC UA facts from `discover()` checked against tshark, packet by packet.

tshark is a test-time oracle only. Each test runs it with ``-T fields`` on the shared
captures that tshark itself dissects as the protocol (MANIFEST.tsv, column
``protocols_dissected_by_tshark``) and compares what ZoneWarden's pipeline observed at the
same packet numbers (``discover(paths, keep_observations=True).observations``).

Known, deliberate differences (each filtered below where it applies, with the reason):

* TCP retransmissions: tshark does not hand a retransmitted segment to the protocol
  dissector; ZoneWarden dissects every segment (no retransmission suppression), so
  packets tshark flags as retransmissions are left out.
* DNP3 application fragments split over several transport segments: ZoneWarden reports
  the function code at the first segment (FIR), tshark at the segment that completes the
  reassembly; function codes are compared per packet where a frame is both FIR and FIN,
  and as per-file counts otherwise.
* DNP3 user data in a link frame whose link function is not 3/4 (Confirmed/Unconfirmed
  User Data): tshark still decodes it as an application request; IEEE 1815 says only
  those two functions carry user data, and ZoneWarden reports the link function.
"""

from __future__ import annotations

import csv
import functools
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import SHARED

from zonewarden.traffic.discover import discover
from zonewarden.traffic.dissectors.base import Observation

PCAPS = SHARED / "pcaps"
MANIFEST = PCAPS / "MANIFEST.tsv"
WILDCARD = "4194303"  # BACnet's "any device" instance: an I-Am with it names no device
SEP = "\x1e"  # tshark's aggregator for repeated fields: a character no value contains

pytestmark = [
    pytest.mark.skipif(not MANIFEST.is_file(), reason="../shared/data/pcaps is not present"),
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark (test-time oracle) is not installed"),
]


def _captures(tshark_protocol: str) -> list[str]:
    """The shared captures tshark dissects as ``tshark_protocol`` (manifest paths)."""
    if not MANIFEST.is_file():
        return []
    with MANIFEST.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [r["path"] for r in rows if tshark_protocol in (r["protocols_dissected_by_tshark"] or "").split(",")]


def _dnp3_captures() -> list[str]:
    """Every DNP3 capture except most opendnp3 conformance dumps (106 near-identical files; keep the
    link-layer robustness cases 6.x and every sixteenth of the others) to keep tshark's run short."""
    names = _captures("dnp3")
    conformance = [n for n in names if Path(n).name.startswith("opendnp3_")]
    kept = [n for i, n in enumerate(conformance) if Path(n).name.startswith("opendnp3_6.") or i % 16 == 0]
    return [n for n in names if n not in conformance or n in kept]


RETRANSMITTED = ("tcp.analysis.retransmission", "tcp.analysis.spurious_retransmission")


def tshark(path: str, display_filter: str, *fields: str) -> tuple[dict[int, list[list[str]]], set[int]]:
    """({frame number: [values of each field]}, TCP retransmissions) of the packets matching ``display_filter``.

    The retransmissions (which tshark does not hand to the protocol dissector) come from the
    same run: one tshark process per capture.
    """
    flt = " || ".join([f"({display_filter})", *RETRANSMITTED])
    args = ["tshark", "-r", str(PCAPS / path), "-Y", flt, "-T", "fields"]
    args += ["-E", "occurrence=a", "-E", f"aggregator={SEP}", "-e", "frame.number"]
    for field in (*fields, *RETRANSMITTED):
        args += ["-e", field]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    out: dict[int, list[list[str]]] = {}
    skip: set[int] = set()
    for line in filter(None, result.stdout.split("\n")):  # not splitlines(): it splits at SEP too
        number, *values = line.split("\t")
        values += [""] * (len(fields) + len(RETRANSMITTED) - len(values))  # trailing empty fields may be left out
        if any(values[len(fields) :]):
            skip.add(int(number))
        out[int(number)] = [[v for v in value.split(SEP) if v] for value in values[: len(fields)]]
    return out, skip


@functools.cache
def observed(path: str, protocol: str) -> dict[int, list[Observation]]:
    """ZoneWarden's observations of ``protocol`` in one capture, by packet (malformed ones left out)."""
    found: dict[int, list[Observation]] = defaultdict(list)
    for obs in discover([PCAPS / path], keep_observations=True).observations:
        if obs.protocol == protocol and obs.message != "malformed":
            found[obs.packet].append(obs)
    return found


def _report(problems: list[str]) -> str:
    return "\n".join(problems[:40]) + (f"\n... and {len(problems) - 40} more" if len(problems) > 40 else "")


@pytest.mark.parametrize("path", _dnp3_captures())
def test_dnp3_addresses_and_functions_agree_with_tshark(path: str) -> None:
    fields = ("dnp3.src", "dnp3.dst", "dnp3.ctl.prifunc", "dnp3.tr.fir", "dnp3.tr.fin", "dnp3.al.func")
    theirs, skip = tshark(path, "dnp3", *fields)
    ours = observed(path, "dnp3")
    problems: list[str] = []
    our_codes: Counter[int] = Counter()
    their_codes: Counter[int] = Counter()
    for number in sorted(set(ours) | set(theirs)):
        if number in skip:
            continue
        src, dst, link_fn, fir, fin, func = theirs.get(number, [[]] * len(fields))
        frames = set(zip(src, dst, strict=True))
        mine = {(str(o.details["src"]), str(o.details["dst"])) for o in ours.get(number, [])}
        if not mine <= frames:
            problems.append(f"packet {number}: frames {sorted(mine - frames)} not seen by tshark ({sorted(frames)})")
        starts = [f for f in fir if f in ("1", "True")]
        if starts and not mine:
            problems.append(f"packet {number}: tshark sees a fragment start from {sorted(frames)}, we see nothing")
        codes = sorted(o.details["function_code"] for o in ours.get(number, []) if "function_code" in o.details)
        their = sorted(int(f) for f in func)
        user_data = all(f in ("3", "4") for f in link_fn)
        single = bool(fir) and all(f in ("1", "True") for f in fir + fin) and len(fir) == len(fin)
        if user_data and single and codes != their:
            problems.append(f"packet {number}: function codes {codes}, tshark {their}")
        if user_data:
            our_codes.update(codes)
            their_codes.update(their)
    if our_codes != their_codes:
        problems.append(f"function code counts differ: ours-tshark {our_codes - their_codes}, "
                        f"tshark-ours {their_codes - our_codes}")  # fmt: skip
    assert not problems, f"{path}:\n{_report(problems)}"


@pytest.mark.parametrize("path", _captures("bacapp"))
def test_bacnet_iam_and_vendor_ids_agree_with_tshark(path: str) -> None:
    fields = ("bacapp.unconfirmed_service", "bacapp.instance_number", "bacapp.vendor_identifier")
    theirs, _ = tshark(path, "bacapp", *fields)  # BACnet/IP and BACnet/Ethernet (802.3 LLC)
    ours = observed(path, "bacnet")
    problems: list[str] = []
    checked = 0
    for number, (service, instance, vendor) in sorted(theirs.items()):
        identity: dict[str, str] = {}
        private = None
        for obs in ours.get(number, []):
            identity.update(obs.identity)
            private = obs.details.get("private_vendor_id", private)
        if service == ["0"] and instance != [WILDCARD]:  # I-Am: the device's instance and vendor
            checked += 1
            want = {"device_instance": instance[0] if instance else None, "vendor_id": vendor[0] if vendor else None}
            got = {k: identity.get(k) for k in want}
            if got != want:
                problems.append(f"packet {number}: I-Am {got}, tshark {want}")
        elif vendor and private is not None:  # the vendor of a PrivateTransfer service
            checked += 1
            if str(private) not in vendor:
                problems.append(f"packet {number}: private transfer vendor {private}, tshark {vendor}")
        elif vendor and service != ["0"]:  # a vendor-identifier property value (ReadProperty-ACK and the like)
            checked += 1
            if identity.get("vendor_id") not in vendor:
                problems.append(f"packet {number}: vendor id {identity.get('vendor_id')}, tshark {vendor}")
    for number, observations in sorted(ours.items()):
        for obs in observations:
            if obs.identity.get("vendor_id") and number not in theirs:
                problems.append(f"packet {number}: vendor id {obs.identity['vendor_id']} where tshark sees no BACnet")
    assert not problems, f"{path}:\n{_report(problems)}"
    if path.endswith(("bacnet_services.pcap", "bacnet_segmented_data.pcap")):
        assert checked, f"{path}: no I-Am or vendor identifier compared"
    if path.endswith("bacnet_services.pcap"):  # its BACnet/Ethernet I-Ams: 101 from the router's MAC
        llc = [o for obs in ours.values() for o in obs if o.details.get("datalink") == "ethernet-llc"]
        assert sum(o.function == "i-Am (0)" and bool(o.identity) for o in llc) == 101


@pytest.mark.parametrize("path", _captures("iec60870_asdu"))
def test_iec104_asdus_agree_with_tshark(path: str) -> None:
    theirs, skip = tshark(path, "iec60870_asdu", "iec60870_asdu.typeid", "iec60870_asdu.causetx", "iec60870_asdu.addr")
    ours = observed(path, "iec104")
    problems: list[str] = []
    for number in sorted(set(ours) | set(theirs)):
        if number in skip:
            continue
        typeid, cause, addr = theirs.get(number, [[], [], []])
        # tshark repeats the ASDU fields in some information-object subtrees: compare distinct values
        want = sorted(set(zip(map(int, typeid), map(int, cause), map(int, addr), strict=True)))
        got = sorted(
            {
                (o.details["type_id"], o.details["cause"], o.details["common_address"])
                for o in ours.get(number, [])
                if "type_id" in o.details
            }
        )
        if got != want:
            problems.append(f"packet {number}: (type id, cause, common address) {got}, tshark {want}")
    assert not problems, f"{path}:\n{_report(problems)}"
    assert theirs, f"{path}: tshark saw no ASDU"


SECURITY_MODES = {"0x00000001": "None", "0x00000002": "Sign", "0x00000003": "SignAndEncrypt"}


@pytest.mark.parametrize("path", _captures("opcua"))
def test_opcua_security_and_application_identity_agree_with_tshark(path: str) -> None:
    fields = ("opcua.transport.type", "opcua.security.spu", "opcua.MessageSecurityMode", "opcua.ApplicationUri",
              "opcua.ProductUri", "opcua.ServerUri")  # fmt: skip
    theirs, skip = tshark(path, "opcua", *fields)
    ours = observed(path, "opcua")
    problems: list[str] = []
    for number in sorted(set(ours) | set(theirs)):
        if number in skip:
            continue
        kind, policy, modes, app_uris, product_uris, server_uris = theirs.get(number, [[]] * len(fields))
        app_uris = app_uris + server_uris  # RegisterServer(2) names the registering server's application by ServerUri
        mine = ours.get(number, [])
        details: dict = {}
        identity: dict[str, str] = {}
        for obs in mine:
            details.update(obs.details)
            identity.update(obs.identity)
        if kind == ["OPN"]:
            if details.get("security_policy_uri") != policy[0]:
                problems.append(f"packet {number}: OPN policy {details.get('security_policy_uri')}, tshark {policy}")
            if modes and details.get("security_mode") != SECURITY_MODES.get(modes[0]):
                problems.append(f"packet {number}: OPN mode {details.get('security_mode')}, tshark {modes}")
        # the responder's own description is identity; FindServers lists other servers in details
        listed = [identity, *details.get("servers", [])]
        for key, values in (("application_uri", app_uris), ("product_uri", product_uris)):
            if key in identity and identity[key] not in values:
                problems.append(f"packet {number}: {key} {identity[key]!r}, tshark {values}")
            missing = set(values) - {entry.get(key) for entry in listed}
            if kind == ["MSG"] and missing:
                problems.append(f"packet {number}: tshark sees {key} {sorted(missing)}, we do not")
    assert not problems, f"{path}:\n{_report(problems)}"

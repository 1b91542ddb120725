"""Detections on the shared captures (and synthetic flows where no capture shows the behaviour)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from conftest import SHARED

from zonewarden.attack import load_attack
from zonewarden.detect import DETECTORS, Baseline, Context, detect
from zonewarden.detect.base import SEVERITIES
from zonewarden.model.plant import Plant
from zonewarden.model.resolve import Resolver
from zonewarden.traffic.check import ZoneMap
from zonewarden.traffic.events import Event
from zonewarden.traffic.verify import verify

PCAPS = SHARED / "pcaps"
needs_pcaps = pytest.mark.skipif(not PCAPS.is_dir(), reason="shared captures not present")

# One workspace that declares the networks of the shared captures used here: an engineering
# zone and a control zone per capture family, each engineering host declared but with a role
# that may not command (so write/control detections fire unless a test says otherwise).
PLANT = """
version: 1
site: {name: capture test site}
zones:
  - {id: dnp3-master, kind: supervisory, purdue_level: 2, subnets: [192.168.60.0/25]}
  - {id: dnp3-field, kind: control, purdue_level: 1, subnets: [192.168.60.128/25]}
  - {id: s7-eng, kind: supervisory, purdue_level: 2, subnets: [192.168.1.0/28, 134.217.61.128/26]}
  - {id: s7-cell, kind: control, purdue_level: 1, subnets: [192.168.1.32/27, 192.168.1.128/25, 134.217.61.192/26]}
  - {id: cip-eng, kind: supervisory, purdue_level: 2, subnets: [192.168.10.96/28]}
  - {id: cip-cell, kind: control, purdue_level: 1, subnets: [192.168.10.112/28]}
  - {id: umas, kind: control, purdue_level: 1, subnets: [192.168.63.0/24]}
conduits:
  - id: dnp3
    zones: [dnp3-master, dnp3-field]
    flows: [{id: dnp3, from: dnp3-master, to: dnp3-field, protocol: dnp3}]
  - id: s7
    zones: [s7-eng, s7-cell]
    flows: [{id: s7, from: s7-eng, to: s7-cell, protocol: s7}]
  - id: cip
    zones: [cip-eng, cip-cell]
    flows: [{id: cip, from: cip-eng, to: cip-cell, protocol: enip}]
assets:
  - {id: master, role: ROLE, ip: 192.168.60.1}
  - {id: outstation, role: rtu, ip: 192.168.60.130}
  - {id: s7-ews, role: engineering-workstation, ip: 192.168.1.10}
  - {id: s7-plc, role: plc, ip: 192.168.1.40}
  - {id: cip-ews, role: engineering-workstation, ip: 192.168.10.105}
  - {id: cip-plc, role: plc, ip: 192.168.10.120}
"""


def _plant(role: str = "scada-server") -> Plant:
    return Plant.model_validate(yaml.safe_load(PLANT.replace("ROLE", role)))


def _alerts(capture: str, role: str = "scada-server"):
    result = verify(_plant(role), [PCAPS / capture])
    return result.alerts


def _by(alerts, detector):
    return [a for a in alerts if a.detector == detector]


@needs_pcaps
@pytest.mark.parametrize(
    ("capture", "detector", "technique", "packet"),
    [
        ("dnp3/write_iin_and_response.pcap", "unauthorized-command", "T0836", 4),
        ("dnp3/select_operate_and_responses.pcap", "unauthorized-command", "T0855", 4),
        ("dnp3/directoperate_and_response.pcap", "unauthorized-command", "T0855", 4),
        ("dnp3/warm_restart_and_response.pcap", "cpu-state", "T0816", 4),
        ("s7comm/s7comm_downloading_block_db1.pcap", "program-transfer", "T0843", 43),
        ("s7comm/tia_s300_downloadHwConfig.pcapng", "program-transfer", "T0843", None),
        ("s7comm/tia_s300_downloadHwConfig.pcapng", "cpu-state", "T0858", 57),
        ("enip/EIP-RebootorRestart.pcap", "cpu-state", "T0816", 454),
        ("enip/EIP-RebootorRestart.pcap", "cpu-state", "T0858", 399),
        ("enip/EIP-RebootorRestart.pcap", "program-transfer", "T0843", 482),
        ("enip/EIP-RemoteModeChangeAttempt.pcap", "cpu-state", "T0858", 421),
        ("enip/EIP-FirmwareChange.pcap", "firmware-update", "T0857", 26),
        ("modicon-umas/modicon_test.pcap", "program-transfer", None, None),
    ],
)
def test_capture_raises_the_matching_detection(capture, detector, technique, packet):
    alerts = _by(_alerts(capture), detector)
    assert alerts, f"{detector} not raised on {capture}"
    if technique:
        alerts = [a for a in alerts if technique in a.techniques]
        assert alerts, f"{detector} on {capture} without {technique}"
    if packet is not None:
        assert min(a.packet for a in alerts) == packet
    for a in alerts:
        assert a.file.endswith(capture) and a.time and a.explanation and a.severity in SEVERITIES


@needs_pcaps
@pytest.mark.parametrize(
    "capture",
    [
        "dnp3/dnp3_read.pcap",
        "dnp3/DNP3-Read.pcap",
        "s7comm/s7comm_clean.pcap",
        "s7comm/S7-1511_db2_var1_HMI.pcap",
        "s7comm/tia_s300_goOnline.pcapng",
    ],
)
def test_read_only_captures_raise_no_control_detections(capture):
    control = {"unauthorized-command", "program-transfer", "cpu-state", "firmware-update"}
    assert [a for a in _alerts(capture) if a.detector in control] == []


@needs_pcaps
def test_declared_hmi_may_write_and_operate():
    for capture in ("dnp3/write_iin_and_response.pcap", "dnp3/select_operate_and_responses.pcap"):
        assert _by(_alerts(capture, role="hmi"), "unauthorized-command") == []
    # a restart is still reported whoever sends it
    assert _by(_alerts("dnp3/warm_restart_and_response.pcap", role="hmi"), "cpu-state")


@needs_pcaps
def test_download_is_one_alert_with_the_first_packet():
    (alert,) = _by(_alerts("s7comm/s7comm_downloading_block_db1.pcap"), "program-transfer")
    assert alert.packet == 43 and alert.host == "192.168.1.10" and alert.zone == "s7-eng"
    assert alert.target_zone == "s7-cell" and alert.count >= 6 and "Download Block" in alert.details["function"]


@needs_pcaps
def test_detection_packets_agree_with_tshark():
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    capture = PCAPS / "s7comm/s7comm_downloading_block_db1.pcap"
    (alert,) = _by(_alerts("s7comm/s7comm_downloading_block_db1.pcap"), "program-transfer")
    frames = subprocess.run(
        [tshark, "-r", str(capture), "-Y", "s7comm.param.func == 0x1a", "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert alert.packet == int(frames[0])


@needs_pcaps
def test_new_hosts_and_their_baseline():
    alerts = _alerts("enip/EIP-FirmwareChange.pcap")
    new = {a.host for a in _by(alerts, "new-host")}
    assert "192.168.10.22" in new and "192.168.10.105" not in new
    result = verify(_plant(), [PCAPS / "enip/EIP-FirmwareChange.pcap"], Baseline(hosts=new))
    assert _by(result.alerts, "new-host") == []


def test_every_alert_technique_is_in_the_attack_data():
    attack = load_attack()
    ctx = _synthetic_context(_scan_flows() + _remote_flows(), [_opcua_event()])
    alerts = detect(ctx)
    assert {a.detector for a in alerts} >= {"scan", "cleartext-remote-access", "opcua-security-none"}
    for a in alerts:
        for t in a.techniques:
            assert attack.technique(t)
    assert len(DETECTORS) == 9


# -- synthetic flows -----------------------------------------------------------------------------------

SYNTH = """
version: 1
site: {name: synthetic}
zones:
  - {id: corp, kind: enterprise, purdue_level: 4, subnets: [10.1.0.0/16]}
  - {id: cell, kind: control, purdue_level: 1, subnets: [10.2.0.0/16]}
  - {id: scada, kind: supervisory, purdue_level: 2, subnets: [10.3.0.0/16]}
"""


def _flow(client, server, port, answered=True, flags=0x12, n=1, app=None, transport="tcp"):
    return {
        "client": client,
        "server": server,
        "client_port": 50000 + n,
        "server_port": port,
        "transport": transport,
        "packets_to_server": 1,
        "packets_to_client": 1 if answered else 0,
        "bytes_to_server": 60,
        "bytes_to_client": 60 if answered else 0,
        "first_seen": 1700000000.0 + n,
        "last_seen": 1700000001.0 + n,
        "first_packet": n,
        "tcp_flags": flags,
        "app_protocol": app,
        "verdict": "no-conduit",
        "src_zone": None,
        "dst_zone": None,
    }


def _scan_flows():
    flows = [_flow("10.1.0.66", f"10.2.0.{i}", 502, answered=False, flags=0x02, n=i) for i in range(1, 30)]
    flows += [_flow("10.1.0.66", "10.2.0.1", p, answered=True, flags=0x16, n=100 + p) for p in range(20, 60)]
    # a polling master: many outstations, every flow answered: not a scan
    flows += [_flow("10.3.0.5", f"10.2.1.{i}", 20000, n=200 + i) for i in range(1, 40)]
    return flows


def _remote_flows():
    return [
        _flow("10.1.0.7", "10.2.0.20", 23, n=300, app="telnet"),
        _flow("10.3.0.7", "10.2.0.21", 5900, n=301, app="vnc"),
        _flow("10.1.0.8", "10.2.0.22", 3389, n=302, app="rdp"),
        _flow("10.1.0.9", "10.3.0.30", 23, n=303, answered=False, flags=0x02),  # unanswered: not a session
    ]


def _opcua_event():
    return Event(
        "synthetic.pcap",
        "opcua",
        "10.3.0.9",
        "10.2.0.40",
        "request",
        None,
        "OpenSecureChannel",
        1,
        17,
        1700000100.0,
        17,
        1700000100.0,
        None,
        {"security_mode": "None", "security_policy": "None"},
    )


def _synthetic_context(flows, events):
    plant = Plant.model_validate(yaml.safe_load(SYNTH))
    resolver = Resolver(plant)
    zm = ZoneMap.build(plant, resolver)
    for f in flows:
        f["src_zone"], f["dst_zone"] = zm.zone_of(f["client"]), zm.zone_of(f["server"])
    return Context("synthetic.pcap", plant, resolver, zm, [], flows, events)


def test_scan_thresholds():
    alerts = _by(detect(_synthetic_context(_scan_flows(), [])), "scan")
    assert [a.host for a in alerts] == ["10.1.0.66"]
    (scan,) = alerts
    assert "29 hosts on port 502" in scan.explanation and "41 ports of 10.2.0.1" in scan.explanation
    assert scan.techniques == ["T0846"] and scan.packet == 1


def test_cleartext_remote_access_into_control_zones():
    alerts = _by(detect(_synthetic_context(_remote_flows(), [])), "cleartext-remote-access")
    got = {(a.host, a.severity, tuple(a.techniques)) for a in alerts}
    assert got == {
        ("10.1.0.7", "high", ("T0822", "T0886")),  # Telnet from the enterprise zone
        ("10.3.0.7", "high", ("T0886",)),  # VNC from the supervisory zone
        ("10.1.0.8", "low", ("T0822", "T0886")),  # RDP: TLS not determinable without a negotiation
    }


def test_opcua_security_none_across_zones_only():
    ev = _opcua_event()
    (alert,) = _by(detect(_synthetic_context([], [ev])), "opcua-security-none")
    assert alert.zone == "scada" and alert.target_zone == "cell" and alert.packet == 17
    same = _opcua_event()
    same.server = "10.3.0.40"
    assert _by(detect(_synthetic_context([], [same])), "opcua-security-none") == []
    signed = _opcua_event()
    signed.details = {"security_mode": "SignAndEncrypt", "security_policy": "Basic256Sha256"}
    assert _by(detect(_synthetic_context([], [signed])), "opcua-security-none") == []


def test_new_cross_zone_flow_and_baseline():
    flows = [_flow("10.1.0.7", "10.2.0.20", 502, n=1), _flow("10.1.0.8", "10.2.0.21", 502, n=2)]
    ctx = _synthetic_context(flows, [])
    (alert,) = _by(detect(ctx), "new-cross-zone-flow")
    assert alert.count == 2 and alert.techniques == ["T0822", "T0886"] and alert.severity == "high"
    ctx.baseline = Baseline(cross_zone={("corp", "cell", "tcp", 502)})
    assert _by(detect(ctx), "new-cross-zone-flow") == []


def test_alert_ids_are_stable():
    a = detect(_synthetic_context(_scan_flows(), []))
    b = detect(_synthetic_context(_scan_flows(), []))
    assert [x.id for x in a] == [y.id for y in b] and len({x.id for x in a}) == len(a)


@needs_pcaps
def test_change_windows_make_planned_downloads_info():
    """A download inside a window covering the PLC's zone is expected (info, window named); a window
    at another time leaves it high and says it fell outside; a window for another zone changes nothing."""
    import datetime as dt

    capture = "s7comm/s7comm_downloading_block_db1.pcap"
    (plain,) = _by(_alerts(capture), "program-transfer")
    at = dt.datetime.fromtimestamp(plain.time, dt.UTC).replace(tzinfo=None)

    def with_windows(windows):
        data = yaml.safe_load(PLANT.replace("ROLE", "scada-server"))
        data["change_windows"] = windows
        (alert,) = _by(verify(Plant.model_validate(data), [PCAPS / capture]).alerts, "program-transfer")
        return alert

    hour = dt.timedelta(hours=1)
    inside = with_windows([{"id": "cr-4711", "start": at - hour, "end": at + hour, "zones": ["s7-cell"],
                            "ticket": "CR-4711"}])  # fmt: skip
    assert inside.severity == "info" and "inside change window 'cr-4711', CR-4711" in inside.explanation
    assert inside.details["change_window"] == "cr-4711"
    later = with_windows([{"id": "next-week", "start": at + 7 * 24 * hour, "end": at + 7 * 24 * hour + hour}])
    assert later.severity == plain.severity == "high" and "outside the change windows" in later.explanation
    elsewhere = with_windows([{"id": "dnp3-only", "start": at - hour, "end": at + hour, "zones": ["dnp3-field"]}])
    assert elsewhere.severity == "high" and elsewhere.explanation == plain.explanation


def test_change_window_must_end_after_it_starts():
    data = yaml.safe_load(PLANT.replace("ROLE", "scada-server"))
    data["change_windows"] = [{"id": "w", "start": "2026-11-28T08:00", "end": "2026-11-28T06:00"}]
    with pytest.raises(ValueError, match="end must be after start"):
        Plant.model_validate(data)


def test_change_window_references_are_validated():
    from zonewarden.model.validate import validate_plant

    data = yaml.safe_load(PLANT.replace("ROLE", "scada-server"))
    data["change_windows"] = [
        {"id": "w", "start": "2026-11-28T06:00", "end": "2026-11-28T08:00", "zones": ["s7-cel"], "assets": ["s7-plcc"]}
    ]
    found = {(d.code, d.message) for d in validate_plant(Plant.model_validate(data))}
    assert ("unknown-zone", "zone 's7-cel' is not defined (did you mean 's7-cell'?)") in found
    assert any(code == "unknown-asset" and "s7-plcc" in message for code, message in found)


def test_change_windows_load_from_plant_yaml_with_located_errors(write_workspace):
    """Change windows are read from the workspace's plant.yaml like every other section; a bad one is
    reported at its line and the good ones are kept."""
    from zonewarden.workspace.load import load_workspace

    text = PLANT.replace("ROLE", "scada-server") + (
        "change_windows:\n"
        "  - {id: cr-1, start: 2026-11-28T06:00, end: 2026-11-28T08:00, zones: [s7-cell], ticket: CR-1}\n"
        "  - {id: cr-2, start: 2026-11-28T08:00, end: 2026-11-28T06:00}\n"
    )
    ws = load_workspace(write_workspace(text))
    assert [w.id for w in ws.plant.change_windows] == ["cr-1"]
    line = text.splitlines().index("  - {id: cr-2, start: 2026-11-28T08:00, end: 2026-11-28T06:00}") + 1
    assert [(d.line, "end must be after start" in d.message) for d in ws.load_diagnostics] == [(line, True)]

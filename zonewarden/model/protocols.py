"""Protocols a conduit flow can name, and the industrial operations each knows.

Operation classes are a shared vocabulary between the plant model (what a
conduit allows), traffic dissectors (what a packet does) and rule generators
(what a DPI or IPS rule blocks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

OPERATIONS: dict[str, str] = {
    "read": "read process values, tags, registers or objects",
    "write": "write process values, tags, registers or setpoints",
    "operate": "issue control commands (select/operate, direct operate, commands)",
    "program-download": "load logic or configuration into a controller",
    "program-upload": "read logic or configuration out of a controller",
    "stop": "stop the CPU or put the controller in program mode",
    "start": "start the CPU or put the controller in run mode",
    "restart": "restart or reset the device (cold/warm restart)",
    "firmware-update": "replace the device firmware",
    "diagnostics": "read diagnostics, identity and status information",
    "file-transfer": "read or write files on the device",
    "time-sync": "set or synchronize the device clock",
    "subscribe": "subscribe to or receive event and data change notifications",
    "browse": "browse an address space or object directory",
    "call": "call methods or services on the server",
}

# Shorthands a flow's ``operations:`` may use instead of an explicit allow list.
OPERATION_PRESETS: dict[str, frozenset[str]] = {
    "read-only": frozenset({"read", "diagnostics", "subscribe", "browse"}),
    "monitor": frozenset({"read", "diagnostics", "subscribe", "browse", "time-sync"}),
    "no-program-changes": frozenset(OPERATIONS) - {"program-download", "firmware-update", "stop", "start", "restart"},
}


@dataclass(frozen=True)
class Protocol:
    """A named application protocol with its transport and default ports."""

    name: str
    title: str
    transport: str  # tcp, udp, tcp+udp, icmp, ip, ethernet, any
    ports: tuple[int, ...] = ()
    industrial: bool = False
    operations: frozenset[str] = field(default_factory=frozenset)
    function_codes: bool = False  # a numeric function-code list is meaningful
    unit_ids: bool = False  # Modbus unit ids, DNP3 addresses, etc.
    cleartext_remote_access: bool = False
    aliases: tuple[str, ...] = ()


_ICS_COMMON = frozenset({"read", "write", "diagnostics"})

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "modbus",
            "Modbus/TCP",
            "tcp",
            (502,),
            True,
            # program/stop/start: vendor function codes such as Schneider UMAS (FC 90)
            _ICS_COMMON
            | {
                "restart",
                "file-transfer",
                "program-download",
                "program-upload",
                "stop",
                "start",
                "firmware-update",
                "browse",
            },
            function_codes=True,
            unit_ids=True,
            aliases=("modbus-tcp", "modbustcp"),
        ),
        Protocol(
            "s7",
            "Siemens S7comm (ISO-on-TCP)",
            "tcp",
            (102,),
            True,
            _ICS_COMMON
            | {
                "program-download",
                "program-upload",
                "stop",
                "start",
                "restart",
                "firmware-update",
                "time-sync",
                "browse",
                "subscribe",
                "operate",
            },
            function_codes=True,
            aliases=("s7comm", "iso-tsap"),
        ),
        Protocol(
            "s7comm-plus",
            "Siemens S7comm-plus",
            "tcp",
            (102,),
            True,
            _ICS_COMMON
            | {
                "program-download",
                "program-upload",
                "stop",
                "start",
                "restart",
                "firmware-update",
                "browse",
                "call",
                "subscribe",
            },
            aliases=("s7plus",),
        ),
        Protocol(
            "enip",
            "EtherNet/IP and CIP",
            "tcp+udp",
            (44818, 2222),
            True,
            _ICS_COMMON
            | {
                "program-download",
                "program-upload",
                "restart",
                "firmware-update",
                "operate",
                "stop",
                "start",
                "time-sync",
                "file-transfer",
                "browse",
            },
            function_codes=True,
            aliases=("ethernet-ip", "ethernetip", "cip"),
        ),
        Protocol(
            "dnp3",
            "DNP3",
            "tcp+udp",
            (20000,),
            True,
            _ICS_COMMON
            | {"operate", "restart", "file-transfer", "time-sync", "subscribe", "stop", "start", "program-download"},
            function_codes=True,
            unit_ids=True,
        ),
        Protocol(
            "iec104",
            "IEC 60870-5-104",
            "tcp",
            (2404,),
            True,
            _ICS_COMMON | {"operate", "restart", "file-transfer", "time-sync", "subscribe"},
            function_codes=True,
            unit_ids=True,
            aliases=("iec-104", "iec60870-5-104"),
        ),
        Protocol(
            "opcua",
            "OPC UA binary",
            "tcp",
            (4840,),
            True,
            frozenset({"read", "write", "browse", "subscribe", "call", "diagnostics"}),
            aliases=("opc-ua", "opc.tcp"),
        ),
        Protocol(
            "opcda",
            "OPC Classic (DCOM)",
            "tcp",
            (135,),
            True,
            frozenset({"read", "write", "browse", "subscribe"}),
            aliases=("opc-da", "dcom"),
        ),
        Protocol(
            "bacnet",
            "BACnet/IP",
            "udp",
            (47808,),
            True,
            _ICS_COMMON
            | {
                "operate",
                "restart",
                "file-transfer",
                "time-sync",
                "subscribe",
                "stop",
                "start",
                "program-download",
                "program-upload",
            },
            function_codes=True,
        ),
        Protocol(
            "profinet", "PROFINET (RT and DCP)", "ethernet", (), True, frozenset({"read", "write", "diagnostics"})
        ),
        Protocol(
            "profinet-cm",
            "PROFINET context manager (DCE/RPC)",
            "udp",
            (34964,),
            True,
            frozenset({"read", "write", "diagnostics"}),
        ),
        Protocol(
            "iec61850-mms",
            "IEC 61850 MMS",
            "tcp",
            (102,),
            True,
            _ICS_COMMON
            | {
                "operate",
                "file-transfer",
                "browse",
                "program-download",
                "program-upload",
                "start",
                "stop",
                "restart",
                "subscribe",
            },
            aliases=("mms",),
        ),
        Protocol("goose", "IEC 61850 GOOSE", "ethernet", (), True, frozenset({"read", "operate"})),
        Protocol(
            "hart-ip",
            "HART-IP",
            "tcp+udp",
            (5094, 5095),
            True,
            _ICS_COMMON | {"operate", "restart", "subscribe", "call"},
        ),
        Protocol(
            "fins",
            "Omron FINS",
            "udp",
            (9600,),
            True,
            _ICS_COMMON | {"program-download", "program-upload", "stop", "start", "file-transfer", "time-sync"},
        ),
        Protocol(
            "melsec",
            "Mitsubishi MELSEC/SLMP",
            "tcp",
            (5007,),
            True,
            _ICS_COMMON | {"program-download", "program-upload", "stop", "start", "file-transfer", "restart"},
            aliases=("slmp",),
        ),
        Protocol(
            "ads",
            "Beckhoff ADS/AMS",
            "tcp",
            (48898,),
            True,
            _ICS_COMMON | {"stop", "start", "program-download", "restart", "subscribe"},
        ),
        Protocol(
            "historian",
            "Historian replication (vendor protocol)",
            "tcp",
            (5450,),
            True,
            frozenset({"read", "write", "subscribe"}),
            aliases=("pi", "pi-replication"),
        ),
        Protocol("fox", "Niagara Fox", "tcp", (1911, 4911), True, frozenset({"read", "write", "browse", "subscribe"})),
        Protocol(
            "c37.118",
            "IEEE C37.118 synchrophasors",
            "tcp+udp",
            (4712, 4713),
            True,
            frozenset({"read", "subscribe", "operate"}),
        ),
        Protocol("lldp", "LLDP", "ethernet"),
        Protocol("cdp", "Cisco Discovery Protocol", "ethernet"),
        Protocol("dhcp", "DHCP/BOOTP", "udp", (67, 68)),
        Protocol("netbios-ns", "NetBIOS name service", "udp", (137,)),
        Protocol("http", "HTTP", "tcp", (80,)),
        Protocol("https", "HTTPS", "tcp", (443,)),
        Protocol("ssh", "SSH", "tcp", (22,)),
        Protocol("sftp", "SFTP", "tcp", (22,)),
        Protocol("telnet", "Telnet", "tcp", (23,), cleartext_remote_access=True),
        Protocol("ftp", "FTP", "tcp", (21,)),
        Protocol("tftp", "TFTP", "udp", (69,)),
        Protocol("rdp", "Remote Desktop (RDP)", "tcp+udp", (3389,)),
        Protocol("vnc", "VNC (RFB)", "tcp", (5900,), cleartext_remote_access=True),
        Protocol("smb", "SMB file sharing", "tcp", (445,)),
        Protocol("dns", "DNS", "tcp+udp", (53,)),
        Protocol("ntp", "NTP", "udp", (123,)),
        Protocol("ptp", "Precision Time Protocol", "udp", (319, 320)),
        Protocol("snmp", "SNMP", "udp", (161,)),
        Protocol("snmp-trap", "SNMP traps", "udp", (162,)),
        Protocol("syslog", "Syslog", "udp", (514,)),
        Protocol("syslog-tls", "Syslog over TLS", "tcp", (6514,)),
        Protocol("ldap", "LDAP", "tcp", (389,)),
        Protocol("ldaps", "LDAP over TLS", "tcp", (636,)),
        Protocol("kerberos", "Kerberos", "tcp+udp", (88,)),
        Protocol("radius", "RADIUS", "udp", (1812, 1813)),
        Protocol("mssql", "Microsoft SQL Server", "tcp", (1433,)),
        Protocol("mqtt", "MQTT", "tcp", (1883,), True, frozenset({"read", "write", "subscribe"})),
        Protocol("mqtts", "MQTT over TLS", "tcp", (8883,)),
        Protocol("ipsec", "IPsec (IKE and NAT-T)", "udp", (500, 4500)),
        Protocol("wsus", "Windows Server Update Services", "tcp", (8530, 8531)),
        Protocol("icmp", "ICMP", "icmp"),
        Protocol("tcp", "Any TCP service (give ports)", "tcp"),
        Protocol("udp", "Any UDP service (give ports)", "udp"),
        Protocol("any", "Any protocol", "any"),
    )
}

_ALIASES: dict[str, str] = {alias: p.name for p in PROTOCOLS.values() for alias in p.aliases}


@cache
def port_tables() -> tuple[dict[int, str], dict[int, str]]:
    """(TCP port -> protocol, UDP port -> protocol); the first protocol listed for a port wins."""
    tcp: dict[int, str] = {}
    udp: dict[int, str] = {}
    for p in PROTOCOLS.values():
        for port in p.ports:
            if "tcp" in p.transport:
                tcp.setdefault(port, p.name)
            if "udp" in p.transport:
                udp.setdefault(port, p.name)
    return tcp, udp


def lookup_protocol(name: str) -> Protocol | None:
    """Return the protocol for a name or alias (case-insensitive), or None."""
    key = str(name).strip().lower()
    return PROTOCOLS.get(key) or PROTOCOLS.get(_ALIASES.get(key, ""))

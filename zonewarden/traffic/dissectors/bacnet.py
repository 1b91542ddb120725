"""BACnet/IP (ASHRAE 135 Annex J) on UDP port 47808, and BACnet/Ethernet (ASHRAE 135 clause 7).

Contract: ``DISSECTOR.dissect(packet, state)`` takes one UDP datagram or one Ethernet
frame and returns one :class:`Observation` (none for an empty payload); it never raises.

BACnet/Ethernet rides in IEEE 802.3 length frames with an ISO 8802-2 LLC header (DSAP
0x82, SSAP 0x82, control 0x03 UI) and the NPDU right after it. The capture reader hands
such frames on with ``ethertype`` 0 and the payload starting at the LLC header (see
:mod:`zonewarden.traffic.decode`), so this dissector also listens on EtherType 0, which
it shares with CDP: an EtherType-0 frame without the BACnet LLC header gives nothing
(``[]``). From the LLC header on, the NPDU and APDU are decoded as for BACnet/IP; the
hosts are MAC addressed (``client``/``server``/``identity_of`` are MAC texts) and
``details["datalink"]`` is ``"ethernet-llc"``.

Decoded: the BVLC header (type 0x81, function, length; Forwarded-NPDU's original
B/IP address), the NPDU (version 1, control, DNET/DADR, SNET/SADR, hop count,
network-layer message type) and the APDU header (confirmed/unconfirmed request,
simple/complex ACK, segment ACK, error, reject, abort; invoke id, segmentation,
service choice). Service bodies decoded: I-Am (device instance, max APDU,
segmentation, vendor id), Who-Is range, ReadProperty/WriteProperty object and
property, DeviceCommunicationControl and ReinitializeDevice states, the vendor id and
service number of (Un)ConfirmedPrivateTransfer (``details``), and the
ReadProperty / ReadPropertyMultiple ACK values of the device identity properties
of a device object (vendor-name 121, model-name 70, firmware-revision 44,
application-software-version 12, object-name 77, vendor-identifier 120, location 58,
description 28, object-identifier 75), which become ``identity``.

Operations follow the service (:data:`CONFIRMED`, :data:`UNCONFIRMED`); acknowledgements
and errors carry the operation of the service they answer. DeviceCommunicationControl
is ``stop`` when it disables and ``start`` when it enables communication
(``diagnostics`` when the state is missing); ReinitializeDevice is ``restart``, except
startbackup/endbackup (``program-upload``) and the restore states (``program-download``).

``identity_of`` is the IP address of the device (its MAC address on BACnet/Ethernet), or
for a device behind a BACnet router (NPDU SNET present) ``"<snet>:<sadr hex>@<router ip>"``
(``@<router mac>`` on BACnet/Ethernet); Forwarded-NPDUs use the original B/IP address,
not the BBMD's. Vendor names come from :data:`VENDORS`.
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, Truncated, guarded, malformed, text
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "bacnet"
PORT = 47808
LLC_HEADER = b"\x82\x82\x03"  # ISO 8802-2 LLC of BACnet/Ethernet: DSAP 0x82, SSAP 0x82, control 0x03 (UI)

# Common BACnet vendor identifiers. Names as in ASHRAE's list of assigned vendor IDs
# (https://bacnet.org/assigned-vendor-ids/), checked against the table Wireshark 4.0
# ships in epan/dissectors/packet-bacapp.c (``tshark -G values``, bacapp.vendor_identifier).
VENDORS: dict[int, str] = {
    0: "ASHRAE",
    1: "NIST",
    2: "The Trane Company",
    3: "Daikin Applied Americas",
    4: "PolarSoft",
    5: "Johnson Controls, Inc.",
    6: "ABB (Formerly American Auto-Matrix)",
    7: "Siemens Schweiz AG (Formerly: Landis & Staefa Division Europe)",
    8: "Delta Controls",
    9: "Siemens Schweiz AG",
    10: "Schneider Electric",
    11: "TAC",
    14: "Cimetrics Technology",
    16: "United Technologies Carrier",
    17: "Honeywell Inc.",
    18: "Alerton / Honeywell",
    24: "Automated Logic Corporation",
    26: "Phoenix Controls Corporation",
    28: "KMC Controls, Inc.",
    35: "Reliable Controls Corporation",
    36: "Tridium Inc.",
    37: "MSA Safety",
    39: "Kieback & Peter GmbH & Co KG",
    42: "Acuity Brands Lighting, Inc.",
    53: "DAIKIN Industries Ltd.",
    77: "Carel Industries S.p.A.",
    80: "Fr. Sauter AG",
    86: "The Watt Stopper, Inc.",
    89: "Saia-Burgess Controls, Ltd.",
    91: "Novar Corp./Trend Control Systems Ltd.",
    105: "PRIVA BV",
    127: "ABB, Inc.",
    142: "DEOS control systems GmbH",
    160: "Rockwell Automation",
    171: "ABB (Formerly Cylon Controls, Ltd)",
    176: "Lutron Electronics Co., Inc.",
    178: "LOYTEC Electronics GmbH",
    187: "Softing",
    188: "Lynxspring, Inc.",
    190: "Danfoss Drives A/S",
    191: "Eaton Corporation",
    196: "Yokogawa Electric Corporation",
    197: "Bosch Building Automation GmbH",
    222: "WAGO Kontakttechnik GmbH & Co. KG",
    226: "Phoenix Contact GmbH & Co. KG",
    233: "Red Lion Controls",
    245: "Contemporary Control Systems, Inc.",
    255: "Lennox International, Inc.",
    260: "BACnet Stack at SourceForge",
    284: "BELIMO Automation AG",
    313: "Siemens Industry, Inc.",
    364: "Distech Controls Inc.",
    389: "Chipkin Automation Systems",
    415: "Beckhoff Automation",
}

BVLC_FUNCTIONS: dict[int, tuple[str, str | None]] = {
    0x00: ("BVLC-Result", None),
    0x01: ("Write-Broadcast-Distribution-Table", "write"),
    0x02: ("Read-Broadcast-Distribution-Table", "diagnostics"),
    0x03: ("Read-Broadcast-Distribution-Table-Ack", "diagnostics"),
    0x04: ("Forwarded-NPDU", None),
    0x05: ("Register-Foreign-Device", None),
    0x06: ("Read-Foreign-Device-Table", "diagnostics"),
    0x07: ("Read-Foreign-Device-Table-Ack", "diagnostics"),
    0x08: ("Delete-Foreign-Device-Table-Entry", "write"),
    0x09: ("Distribute-Broadcast-To-Network", None),
    0x0A: ("Original-Unicast-NPDU", None),
    0x0B: ("Original-Broadcast-NPDU", None),
    0x0C: ("Secure-BVLL", None),
}

NETWORK_MESSAGES: dict[int, tuple[str, str | None]] = {
    0x00: ("Who-Is-Router-To-Network", "diagnostics"),
    0x01: ("I-Am-Router-To-Network", None),
    0x02: ("I-Could-Be-Router-To-Network", None),
    0x03: ("Reject-Message-To-Network", None),
    0x04: ("Router-Busy-To-Network", None),
    0x05: ("Router-Available-To-Network", None),
    0x06: ("Initialize-Routing-Table", "write"),
    0x07: ("Initialize-Routing-Table-Ack", None),
    0x08: ("Establish-Connection-To-Network", None),
    0x09: ("Disconnect-Connection-To-Network", None),
    0x12: ("What-Is-Network-Number", "diagnostics"),
    0x13: ("Network-Number-Is", None),
}

CONFIRMED: dict[int, tuple[str, str | None]] = {
    0: ("acknowledgeAlarm", "write"),
    1: ("confirmedCOVNotification", "subscribe"),
    2: ("confirmedEventNotification", "subscribe"),
    3: ("getAlarmSummary", "read"),
    4: ("getEnrollmentSummary", "read"),
    5: ("subscribeCOV", "subscribe"),
    6: ("atomicReadFile", "file-transfer"),
    7: ("atomicWriteFile", "file-transfer"),
    8: ("addListElement", "write"),
    9: ("removeListElement", "write"),
    10: ("createObject", "write"),
    11: ("deleteObject", "write"),
    12: ("readProperty", "read"),
    13: ("readPropertyConditional", "read"),
    14: ("readPropertyMultiple", "read"),
    15: ("writeProperty", "write"),
    16: ("writePropertyMultiple", "write"),
    17: ("deviceCommunicationControl", "diagnostics"),
    18: ("confirmedPrivateTransfer", "call"),
    19: ("confirmedTextMessage", None),
    20: ("reinitializeDevice", "restart"),
    21: ("vtOpen", None),
    22: ("vtClose", None),
    23: ("vtData", None),
    24: ("authenticate", None),
    25: ("requestKey", None),
    26: ("readRange", "read"),
    27: ("lifeSafetyOperation", "operate"),
    28: ("subscribeCOVProperty", "subscribe"),
    29: ("getEventInformation", "read"),
    30: ("subscribeCOVPropertyMultiple", "subscribe"),
    31: ("confirmedCOVNotificationMultiple", "subscribe"),
    32: ("confirmedAuditNotification", None),
    33: ("auditLogQuery", "read"),
}

UNCONFIRMED: dict[int, tuple[str, str | None]] = {
    0: ("i-Am", None),
    1: ("i-Have", None),
    2: ("unconfirmedCOVNotification", "subscribe"),
    3: ("unconfirmedEventNotification", "subscribe"),
    4: ("unconfirmedPrivateTransfer", "call"),
    5: ("unconfirmedTextMessage", None),
    6: ("timeSynchronization", "time-sync"),
    7: ("who-Has", "diagnostics"),
    8: ("who-Is", "diagnostics"),
    9: ("utcTimeSynchronization", "time-sync"),
    10: ("writeGroup", "write"),
    11: ("unconfirmedCOVNotificationMultiple", "subscribe"),
    12: ("unconfirmedAuditNotification", None),
    13: ("who-Am-I", "diagnostics"),
    14: ("you-Are", "write"),
}

APDU_TYPES = (
    "confirmed-request", "unconfirmed-request", "simple-ack", "complex-ack", "segment-ack", "error", "reject", "abort",
)  # fmt: skip
OBJECT_TYPES = (
    "analog-input", "analog-output", "analog-value", "binary-input", "binary-output", "binary-value", "calendar",
    "command", "device", "event-enrollment", "file", "group", "loop", "multi-state-input", "multi-state-output",
    "notification-class", "program", "schedule", "averaging", "multi-state-value", "trend-log",
)  # fmt: skip
SEGMENTATION = ("segmented-both", "segmented-transmit", "segmented-receive", "no-segmentation")
REINIT_STATES = (
    "coldstart", "warmstart", "startbackup", "endbackup", "startrestore", "endrestore", "abortrestore",
    "activate-changes",
)  # fmt: skip
# reinitializeDevice states that are backup (upload) or restore (download) of the configuration
REINIT_OPERATION = {
    2: "program-upload", 3: "program-upload", 4: "program-download", 5: "program-download", 6: "program-download",
}  # fmt: skip
DCC_STATES = ("enable", "disable", "disable-initiation")

DEVICE = 8
WILDCARD = 0x3FFFFF  # device instance 4194303: "the device I am talking to"
# device identity properties -> identity keys
IDENTITY_PROPERTIES = {
    121: "vendor", 70: "model", 44: "firmware", 12: "software_version", 77: "name", 120: "vendor_id",
    58: "location", 28: "description",
}  # fmt: skip
PROPERTY_NAMES = {
    8: "all", 12: "application-software-version", 28: "description", 44: "firmware-revision", 58: "location",
    70: "model-name", 75: "object-identifier", 76: "object-list", 77: "object-name", 79: "object-type",
    85: "present-value", 87: "priority-array", 112: "system-status", 120: "vendor-identifier", 121: "vendor-name",
}  # fmt: skip
CHARSETS = {0: "utf-8", 3: "utf-32-be", 4: "utf-16-be", 5: "latin-1"}

OPEN, CLOSE, DATA = 1, 2, 0


def _tag(r: Reader) -> tuple[int, bool, int, int]:
    """(tag number, context class, kind OPEN/CLOSE/DATA, length or boolean value)."""
    first = r.u8()
    number, context, lvt = first >> 4, bool(first & 0x08), first & 0x07
    if number == 15:
        number = r.u8()
    if context and lvt in (6, 7):
        return number, True, OPEN if lvt == 6 else CLOSE, 0
    if not context and number == 1:  # application boolean: the value is in the tag
        return number, False, DATA, 0
    if lvt == 5:
        lvt = r.u8()
        if lvt == 254:
            lvt = r.u16be()
        elif lvt == 255:
            lvt = r.u32be()
    return number, context, DATA, lvt


def _unsigned(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "big")


def _object_id(raw: bytes) -> tuple[int, int]:
    value = _unsigned(raw[:4])
    return value >> 22, value & 0x3FFFFF


def object_name(kind: int, instance: int) -> str:
    label = OBJECT_TYPES[kind] if kind < len(OBJECT_TYPES) else f"object-type-{kind}"
    return f"{label}:{instance}"


def _char_string(raw: bytes) -> str:
    if not raw:
        return ""
    return text(raw[1:], CHARSETS.get(raw[0], "latin-1"))


def _context_values(r: Reader, limit: int = 8) -> dict[int, bytes]:
    """Leading context-tagged primitive values of a service request, by tag number."""
    values: dict[int, bytes] = {}
    while r.remaining and len(values) < limit:
        at = r.pos
        number, context, kind, length = _tag(r)
        if not context or kind != DATA:
            r.pos = at
            break
        values[number] = r.take(length)
    return values


def _private_transfer(r: Reader, details: dict[str, Any]) -> None:
    """The vendor whose proprietary service a (Un)ConfirmedPrivateTransfer invokes, and that service's number.

    Kept in ``details``, not as identity: the request names the service's vendor, which says
    little for certain about either host."""
    values = _context_values(r, 2)
    if 0 in values:
        details["private_vendor_id"] = _unsigned(values[0])
    if 1 in values:
        details["private_service"] = _unsigned(values[1])


def _skip_constructed(r: Reader, number: int) -> None:
    """Skip everything up to and including the closing tag ``number`` at this depth."""
    depth = 0
    while True:
        n, _context, kind, length = _tag(r)
        if kind == OPEN:
            depth += 1
        elif kind == CLOSE:
            if depth == 0 and n == number:
                return
            depth -= 1
        else:
            r.skip(length)


def _property_value(r: Reader, close: int) -> tuple[int, bytes] | None:
    """The first application-tagged value inside an open tag, then skip to ``close``."""
    first: tuple[int, bytes] | None = None
    number, context, kind, length = _tag(r)
    if kind == DATA and not context:
        first = (number, r.take(length))
    elif kind == CLOSE and number == close:
        return None
    elif kind == OPEN:
        _skip_constructed(r, number)
    else:
        r.skip(length)
    _skip_constructed(r, close)
    return first


def _identity_from(kind: int, instance: int, prop: int, value: tuple[int, bytes] | None, into: dict[str, str]) -> None:
    if value is None or kind != DEVICE:
        return
    if instance != WILDCARD:
        into["device_instance"] = str(instance)
    tag, raw = value
    key = IDENTITY_PROPERTIES.get(prop)
    if prop == 75 and tag == 12 and len(raw) == 4:
        into["device_instance"] = str(_object_id(raw)[1])
    elif key is None:
        return
    elif tag == 7:
        decoded = _char_string(raw)
        if decoded:
            into[key] = decoded
    elif tag == 2 and prop == 120:
        vendor_id = _unsigned(raw)
        into["vendor_id"] = str(vendor_id)
        if vendor_id in VENDORS:
            into.setdefault("vendor", VENDORS[vendor_id])


def _read_property_ack(r: Reader, identity: dict[str, str], details: dict[str, Any]) -> None:
    values = _context_values(r, 3)
    if 0 not in values or 1 not in values:
        return
    kind, instance = _object_id(values[0])
    prop = _unsigned(values[1])
    details.update(object=object_name(kind, instance), property=PROPERTY_NAMES.get(prop, prop))
    number, _context, tag_kind, _ = _tag(r)
    if tag_kind == OPEN and number == 3:
        _identity_from(kind, instance, prop, _property_value(r, 3), identity)


def _read_property_multiple_ack(r: Reader, identity: dict[str, str]) -> None:
    for _ in range(64):
        if not r.remaining:
            return
        number, _c, kind, length = _tag(r)
        if number != 0 or kind != DATA:
            return
        obj_kind, instance = _object_id(r.take(length))
        number, _c, kind, _ = _tag(r)
        if kind != OPEN or number != 1:
            return
        prop = -1
        for _ in range(256):
            number, _c, kind, length = _tag(r)
            if kind == CLOSE and number == 1:
                break
            if kind == DATA and number == 2:
                prop = _unsigned(r.take(length))
            elif kind == DATA:
                r.skip(length)
            elif kind == OPEN and number == 4:
                _identity_from(obj_kind, instance, prop, _property_value(r, 4), identity)
            elif kind == OPEN:
                _skip_constructed(r, number)


class BACnetDissector(Dissector):
    """BVLC, NPDU and APDU of BACnet/IP; LLC, NPDU and APDU of BACnet/Ethernet (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    udp_ports: ClassVar[tuple[int, ...]] = (PORT,)
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"\x81"),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """A BVLC header (type 0x81, a known function, the datagram's length): BACnet/IP on another UDP port,
        as several BACnet networks on one host use (47809-47823 by convention)."""
        return (
            len(payload) >= 4
            and payload[0] == 0x81
            and payload[1] in BVLC_FUNCTIONS
            and int.from_bytes(payload[2:4], "big") == len(payload)
        )

    ethertypes: ClassVar[tuple[int, ...]] = (0,)  # 802.3 length frames (LLC), shared with CDP

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """The datagram's BVLC/NPDU/APDU or the frame's LLC/NPDU/APDU as one observation (module docstring)."""
        data = packet.payload
        if packet.transport == "eth":
            return self._ethernet(packet, data)
        if not data:
            return []
        if len(data) < 4 or data[0] != 0x81:
            return [malformed(PROTOCOL, packet, "not a BACnet/IP BVLC (type 0x81)")]
        r = Reader(data)
        r.skip(1)
        function, length = r.u8(), r.u16be()
        r.end = min(r.end, max(length, 4))
        bvlc_name, operation = BVLC_FUNCTIONS.get(function, (f"BVLC function 0x{function:02x}", None))
        details: dict[str, Any] = {"bvlc": bvlc_name}
        if length != len(data):
            details["bvlc_length_mismatch"] = True
        origin = packet.src
        if function == 0x04:
            raw = r.take(6)
            origin = socket.inet_ntoa(raw[:4])
            details["original_source"] = f"{origin}:{int.from_bytes(raw[4:], 'big')}"
        obs = Observation(
            protocol=PROTOCOL,
            packet=packet.number,
            time=packet.time,
            client=origin,
            server=packet.dst,
            function=bvlc_name,
            operation=operation,
            details=details,
        )
        if function not in (0x04, 0x09, 0x0A, 0x0B):
            obs.message = "response" if function in (0x00, 0x03, 0x07) else "request"
            if obs.message == "response":
                obs.client, obs.server = packet.dst, packet.src
            if function == 0x00 and r.remaining >= 2:
                details["result_code"] = r.u16be()
            return [obs]
        try:
            self._npdu(r, obs, origin)
        except Truncated as exc:
            details["truncated"] = str(exc)
        return [obs]

    def _ethernet(self, packet: Packet, data: bytes) -> list[Observation]:
        """BACnet/Ethernet: the LLC header, then the NPDU as for BACnet/IP; other LLC frames give nothing."""
        if bytes(data[:3]) != LLC_HEADER:
            return []
        sender, receiver = packet.src_mac or packet.src, packet.dst_mac or packet.dst
        obs = Observation(
            protocol=PROTOCOL,
            packet=packet.number,
            time=packet.time,
            client=sender,
            server=receiver,
            function="BACnet/Ethernet NPDU",
            details={"datalink": "ethernet-llc"},
        )
        try:
            self._npdu(Reader(data, 3), obs, sender)
        except Truncated as exc:
            obs.details["truncated"] = str(exc)
        return [obs]

    def _npdu(self, r: Reader, obs: Observation, origin: str) -> None:
        details = obs.details
        version, control = r.u8(), r.u8()
        if version != 1:
            obs.message = "malformed"
            details["reason"] = f"NPDU version {version}"
            return
        source = origin
        if control & 0x20:
            dnet, dlen = r.u16be(), r.u8()
            details.update(dnet=dnet, dadr=r.take(dlen).hex())
        if control & 0x08:
            snet, slen = r.u16be(), r.u8()
            sadr = r.take(slen).hex()
            details.update(snet=snet, sadr=sadr)
            source = f"{snet}:{sadr}@{origin}"
        if control & 0x20:
            details["hop_count"] = r.u8()
        if control & 0x80:
            msg_type = r.u8()
            name, obs.operation = NETWORK_MESSAGES.get(msg_type, (f"Network message 0x{msg_type:02x}", None))
            obs.function = f"{name} (network 0x{msg_type:02x})"
            details["network_message"] = msg_type
            return
        self._apdu(r, obs, source)

    def _apdu(self, r: Reader, obs: Observation, source: str) -> None:
        details = obs.details
        first = r.u8()
        pdu = first >> 4
        details["apdu_type"] = APDU_TYPES[pdu] if pdu < len(APDU_TYPES) else f"apdu-type-{pdu}"
        client, server = obs.client, obs.server
        if pdu == 0:  # confirmed request
            r.skip(1)  # max segments / max APDU
            details["invoke_id"] = r.u8()
            segment = 0
            if first & 0x08:
                segment = r.u8()
                r.skip(1)
                details["segment"] = segment
            service = r.u8()
            name, obs.operation = CONFIRMED.get(service, (f"confirmed service {service}", None))
            obs.function = f"{name} ({service})"
            details["service"] = service
            obs.message = "event" if service in (1, 2, 31) else "request"
            if not first & 0x08 or segment == 0:
                self._confirmed_request(r, service, obs)
            return
        if pdu == 1:  # unconfirmed request
            service = r.u8()
            name, obs.operation = UNCONFIRMED.get(service, (f"unconfirmed service {service}", None))
            obs.function = f"{name} ({service})"
            details["service"] = service
            if service in (0, 1):
                obs.message, obs.client, obs.server = "announce", server, client
                obs.identity_of = source
                if service == 0:
                    self._i_am(r, obs)
            elif service in (2, 3, 11):
                obs.message = "event"
            elif service == 8:
                values = _context_values(r, 2)
                if 0 in values and 1 in values:
                    details["range"] = [_unsigned(values[0]), _unsigned(values[1])]
            elif service == 4:
                _private_transfer(r, details)
            return
        # everything else answers a request: the sender is the server
        obs.message, obs.client, obs.server = "response", server, client
        if pdu in (2, 3, 5):
            if pdu == 3:
                segment = 0
                details["invoke_id"] = r.u8()
                if first & 0x08:
                    segment = r.u8()
                    r.skip(1)
                    details["segment"] = segment
            else:
                details["invoke_id"] = r.u8()
            service = r.u8()
            name, obs.operation = CONFIRMED.get(service, (f"confirmed service {service}", None))
            details["service"] = service
            label = {2: "simple-ack", 3: "complex-ack", 5: "error"}[pdu]
            obs.function = f"{name} {label} ({service})"
            if pdu == 3 and segment == 0:
                obs.identity_of = source
                if service == 12:
                    _read_property_ack(r, obs.identity, details)
                elif service == 14:
                    _read_property_multiple_ack(r, obs.identity)
                if not obs.identity:
                    obs.identity_of = None
            elif pdu == 5:
                error_class = _unsigned(r.take(_tag(r)[3]))
                details.update(error_class=error_class, error_code=_unsigned(r.take(_tag(r)[3])))
            return
        if pdu == 4:
            details.update(invoke_id=r.u8(), segment=r.u8())
            obs.function = "segment-ack"
            return
        if pdu in (6, 7):
            details.update(invoke_id=r.u8(), reason=r.u8())
            obs.function = details["apdu_type"]
            return
        obs.message = "malformed"
        details["reason"] = f"APDU type {pdu}"

    def _confirmed_request(self, r: Reader, service: int, obs: Observation) -> None:
        details = obs.details
        if service in (12, 15):
            values = _context_values(r, 3)
            if 0 in values and 1 in values:
                prop = _unsigned(values[1])
                details.update(object=object_name(*_object_id(values[0])), property=PROPERTY_NAMES.get(prop, prop))
        elif service == 17:
            values = _context_values(r, 3)
            if 1 in values:
                state = _unsigned(values[1])
                details["enable_disable"] = DCC_STATES[state] if state < 3 else state
                obs.operation = "start" if state == 0 else "stop"
            details["password"] = 2 in values
        elif service == 18:
            _private_transfer(r, details)
        elif service == 20:
            values = _context_values(r, 2)
            if 0 in values:
                state = _unsigned(values[0])
                details["reinitialized_state"] = REINIT_STATES[state] if state < len(REINIT_STATES) else state
                obs.operation = REINIT_OPERATION.get(state, "restart")
            details["password"] = 1 in values

    def _i_am(self, r: Reader, obs: Observation) -> None:
        values: list[tuple[int, bytes]] = []
        for _ in range(4):
            number, _context, _kind, length = _tag(r)
            values.append((number, r.take(length)))
        (t0, oid), (t1, max_apdu), (t2, segmentation), (t3, vendor) = values
        if (t0, t1, t2, t3) != (12, 2, 9, 2):
            obs.details["reason"] = "unexpected I-Am tags"
            return
        kind, instance = _object_id(oid)
        vendor_id = _unsigned(vendor)
        seg = _unsigned(segmentation)
        obs.details.update(
            object=object_name(kind, instance),
            max_apdu=_unsigned(max_apdu),
            segmentation=SEGMENTATION[seg] if seg < 4 else seg,
        )
        if kind != DEVICE or instance == WILDCARD:
            obs.details["reason"] = "I-Am without a device instance"
            obs.identity_of = None
            return
        obs.identity.update(device_instance=str(instance), vendor_id=str(vendor_id))
        if vendor_id in VENDORS:
            obs.identity["vendor"] = VENDORS[vendor_id]


DISSECTOR = BACnetDissector()

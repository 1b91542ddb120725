"""Niagara Fox (Tridium) over TCP 1911 (and 4911, Fox over TLS: nothing readable there).

Contract: ``DISSECTOR.dissect(packet, state)`` returns one observation per Fox message
that starts in the segment ("fox a <n> <n> <channel> <command>"), never raises.

Decoded: the message header (channel and command, e.g. "fox hello"), and from the
hello's ``{key=type:value}`` lines the host facts: hostName, hostAddress, app.name,
app.version, vm.name, vm.version, os.name, os.version, station.name, brandId,
hostId. Session messages (hello, challenge, login) have no ``operation``.
The hello of the server side (port 1911) is the station's identity
(``name`` = station.name, ``model`` = app.name, ``firmware`` = app.version,
``vendor`` = brandId), the client's hello (a Workbench) is ``identity_of`` the client.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import guarded, observation, text
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "fox"
PORTS = (1911, 4911)

_HEADER = re.compile(rb"fox a (-?\d+) (-?\d+) ([\w.]+) ([\w.]+)")
_LINE = re.compile(rb"^([\w.]+)=([a-z]):(.*)$", re.M)
KEYS = (
    "fox.version", "hostName", "hostAddress", "app.name", "app.version", "vm.name", "vm.version",
    "os.name", "os.version", "station.name", "brandId", "hostId", "lang",
)  # fmt: skip
_IDENTITY = {
    "station.name": "name",
    "app.name": "model",
    "app.version": "firmware",
    "brandId": "vendor",
    "hostName": "hostname",
    "os.name": "os",
    "os.version": "os_version",
    "vm.name": "vm",
    "vm.version": "vm_version",
}


class FoxDissector(Dissector):
    """Niagara Fox messages (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = PORTS
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"fox a "),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """A Fox message header ("fox a <n> <n> <channel> <command>")."""
        return payload.startswith(b"fox a ") and _HEADER.match(payload) is not None

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        data = bytes(packet.payload)
        if not data:
            return []
        client, server, is_request = self.sides(packet, PORTS)
        if not data.startswith(b"fox "):
            return []  # continuation of a long message, or TLS on 4911
        out: list[Observation] = []
        for match in _HEADER.finditer(data[:65536]):
            channel, command = text(match.group(3)), text(match.group(4))
            end = data.find(b"};;", match.end())
            body = data[match.end() : end if end >= 0 else len(data)]
            values = {text(k): text(v) for k, _, v in _LINE.findall(body) if text(k) in KEYS}
            details: dict[str, Any] = {"channel": channel, "command": command, **values}
            identity = {_IDENTITY[k]: v for k, v in values.items() if k in _IDENTITY and v}
            if identity:
                identity.setdefault("role", "station" if "station.name" in values else "workbench")
            out.append(
                observation(
                    PROTOCOL, packet, client, server,
                    message="request" if is_request else "response",
                    operation=None,  # hello/challenge/login: session set-up, no plant operation
                    function=f"{channel} {command}",
                    identity=identity, identity_of=(packet.src if identity else None), details=details,
                )
            )  # fmt: skip
            if len(out) >= 16:
                break
        return out


DISSECTOR = FoxDissector()

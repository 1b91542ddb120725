"""Observations aggregated into events: what happened between two hosts, how often, and when.

A capture of a plant is mostly polling: the same request to the same device thousands of
times. Detections and the traffic check need each distinct thing once, with how often it
happened, the first and last packet (to open in Wireshark) and times. An :class:`Event`
is that aggregate; :class:`EventLog` builds them from observations, one at a time or, for
packets known to repeat an earlier one, many at once (:meth:`EventLog.add_repeats`).

Pure: no I/O.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from zonewarden.traffic.dissectors.base import Observation

# observation details that make two observations different events (e.g. an OPC UA channel
# opened with security mode None is not the same event as one opened with SignAndEncrypt)
KEY_DETAILS = ("security_mode", "security_policy", "unit_id")
# the details an event keeps: those that make it distinct and those the detections read (an RDP session's
# TLS). The rest (names, objects, certificates) stays with the observation: a network of many devices has
# events by the hundred thousand, and the whole details were two thirds of an event's memory
EVENT_DETAILS = (*KEY_DETAILS, "tls")
_NO_DETAILS: Mapping[str, Any] = MappingProxyType({})  # shared by the events that keep none (most)


@dataclass(slots=True)
class Event:
    """One distinct observation between two hosts in one capture file, with its repeats."""

    file: str
    protocol: str
    client: str
    server: str
    message: str  # request, response, event, announce
    operation: str | None
    function: str | None
    count: int
    first_packet: int
    first_time: float
    last_packet: int
    last_time: float
    identity_of: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # of the first observation: its EVENT_DETAILS

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "protocol": self.protocol,
            "client": self.client,
            "server": self.server,
            "message": self.message,
            "operation": self.operation,
            "function": self.function,
            "count": self.count,
            "first_packet": self.first_packet,
            "first_time": self.first_time,
            "last_packet": self.last_packet,
            "last_time": self.last_time,
        }


def event_key(file: str, obs: Observation) -> tuple[Any, ...]:
    """What makes two observations one event (see :func:`_hashable` for details that are lists or dicts)."""
    key = (file, obs.protocol, obs.client, obs.server, obs.message, obs.operation, obs.function)
    return key + tuple(map(obs.details.get, KEY_DETAILS))


def _hashable(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """``key`` with its unhashable parts (a detail that is a list or a dict) replaced by their repr."""
    out = []
    for part in key:
        try:
            hash(part)
        except TypeError:
            part = repr(part)
        out.append(part)
    return tuple(out)


def _kept(details: dict[str, Any]) -> Mapping[str, Any]:
    """The :data:`EVENT_DETAILS` of an observation's details (one shared empty mapping when none: most)."""
    if details.keys().isdisjoint(EVENT_DETAILS):
        return _NO_DETAILS
    return {k: details[k] for k in EVENT_DETAILS if k in details}


def repeat(ev: Event, count: int, last_packet: int, last_time: float) -> None:
    """``count`` more packets said what ``ev`` says, the last of them as given."""
    ev.count += count
    if (last_time, last_packet) > (ev.last_time, ev.last_packet):
        ev.last_packet, ev.last_time = last_packet, last_time


class EventLog:
    """Accumulates events keyed by :func:`event_key`; malformed observations are not events."""

    def __init__(self) -> None:
        self.events: dict[tuple[Any, ...], Event] = {}

    def add(self, file: str, obs: Observation) -> Event | None:
        """Count one observation; its event (None for a malformed one)."""
        return self.add_repeats(file, obs, 1, obs.packet, obs.time)

    def add_repeats(self, file: str, obs: Observation, count: int, last_packet: int, last_time: float) -> Event | None:
        """``obs`` seen ``count`` times, first as ``obs.packet``/``obs.time``, last as given; its event."""
        if obs.message == "malformed" or count <= 0:
            return None
        key = event_key(file, obs)
        try:
            ev = self.events.get(key)
        except TypeError:  # a detail that is a list or a dict
            key = _hashable(key)
            ev = self.events.get(key)
        if ev is None:
            function = obs.function
            if function is not None:  # a label made per packet ("I-Am (0)"): one copy for all its events
                function = sys.intern(function)
                key = (*key[:6], function, *key[7:])
            ev = self.events[key] = Event(
                file,
                obs.protocol,
                obs.client,
                obs.server,
                obs.message,
                obs.operation,
                function,
                count,
                obs.packet,
                obs.time,
                last_packet,
                last_time,
                obs.identity_of,
                _kept(obs.details),
            )
            return ev
        if (obs.time, obs.packet) < (ev.first_time, ev.first_packet):
            ev.first_packet, ev.first_time = obs.packet, obs.time
        repeat(ev, count, last_packet, last_time)
        return ev

    def result(self) -> list[Event]:
        return sorted(self.events.values(), key=lambda e: (e.file, e.first_packet, e.protocol))

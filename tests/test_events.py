"""Observations aggregate into events: one per hosts, function and key details, with count, first and last."""

from __future__ import annotations

from zonewarden.traffic.dissectors.base import Observation
from zonewarden.traffic.events import EventLog


def _obs(packet: int, **details) -> Observation:
    return Observation("modbus", packet, float(packet), "10.0.0.1", "10.0.0.2", operation="read", details=details)


def test_repeats_aggregate_and_key_details_split_events() -> None:
    log = EventLog()
    for packet in (3, 1, 7):
        log.add("f.pcap", _obs(packet, unit_id=1, transaction_id=packet))  # the transaction id is not a key
    log.add("f.pcap", _obs(5, unit_id=2))
    log.add("f.pcap", Observation("modbus", 9, 9.0, "10.0.0.1", "10.0.0.2", message="malformed"))
    assert [(e.details.get("unit_id"), e.count, e.first_packet, e.last_packet) for e in log.result()] == [
        (1, 3, 1, 7),
        (2, 1, 5, 5),
    ]


def test_a_detail_that_is_a_list_still_keys_an_event() -> None:
    log = EventLog()
    log.add("f.pcap", _obs(1, unit_id=[1, 2]))
    log.add("f.pcap", _obs(2, unit_id=[1, 2]))
    log.add("f.pcap", _obs(3, unit_id=[3]))
    assert [(e.count, e.first_packet) for e in log.result()] == [(2, 1), (1, 3)]

"""Hosts get the MAC addresses their IPv4 packets come from (and a router's MAC is not given to the hosts behind it)."""

from __future__ import annotations

import struct

import pytest
from conftest import SHARED

from zonewarden.traffic.discover import ROUTER_MAC_IPS, discover

BACNET = SHARED / "pcaps" / "bacnet" / "bacnet_services.pcap"


@pytest.mark.skipif(not BACNET.is_file(), reason="../shared/data/pcaps is not here")
def test_hosts_carry_their_source_macs() -> None:
    hosts = {h["ip"]: h for h in discover([BACNET]).hosts if h["ip"]}
    # tshark -r bacnet_services.pcap -T fields -e eth.src -e ip.src | sort -u
    assert hosts["192.168.0.24"]["macs"] == ["00:e0:c9:00:10:a5"]
    assert hosts["192.168.0.50"]["macs"] == ["00:e0:4b:04:bd:fa"]
    assert hosts["192.168.0.16"]["macs"] == ["00:c0:4f:a0:6b:b6"]


def _frame(src_mac: bytes, src_ip: bytes, dst_ip: bytes) -> bytes:
    udp = struct.pack(">HHHH", 40000, 161, 8, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, src_ip, dst_ip)
    return bytes.fromhex("020000000001") + src_mac + b"\x08\x00" + ip + udp


def test_high_addresses_and_routers(tmp_path) -> None:
    """Addresses above 0.0.255.255 keep their MAC (a packed 64-bit key once lost them); a MAC that is the
    source of more than ROUTER_MAC_IPS addresses is a router's and is given to none of them."""
    host_mac, router_mac = bytes.fromhex("00a0451a2b3c"), bytes.fromhex("00005e005301")
    frames = [_frame(host_mac, bytes([203, 0, 113, 7]), bytes([10, 0, 0, 1]))]
    frames += [_frame(router_mac, bytes([198, 51, 100, i]), bytes([10, 0, 0, 1])) for i in range(ROUTER_MAC_IPS + 1)]
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    out += [struct.pack("<IIII", 1_700_000_000, k, len(f), len(f)) + f for k, f in enumerate(frames)]
    cap = tmp_path / "macs.pcap"
    cap.write_bytes(b"".join(out))
    hosts = {h["ip"]: h for h in discover([cap]).hosts if h["ip"]}
    assert hosts["203.0.113.7"]["macs"] == ["00:a0:45:1a:2b:3c"]
    assert all(hosts[f"198.51.100.{i}"]["macs"] == [] for i in range(ROUTER_MAC_IPS + 1))


@pytest.mark.skipif(not BACNET.is_file(), reason="../shared/data/pcaps is not here")
def test_routed_devices_seen_over_ethernet_and_ip_are_one_host() -> None:
    """bacnet_services.pcap: the BACnet router 192.168.0.24 (MAC 00:e0:c9:00:10:a5) speaks for network 3
    over BACnet/IP and BACnet/Ethernet; each device behind it is one host, named after the router's IP."""
    keys = [h["key"] for h in discover([BACNET]).hosts]
    assert not [k for k in keys if k.endswith("@00:e0:c9:00:10:a5")]
    assert "3:1d@192.168.0.24" in keys and len(keys) == len(set(keys))
    assert "ff:ff:ff:ff:ff:ff" not in keys  # the broadcast Who-Is destination is not a host

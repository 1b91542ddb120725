"""Answering "where is this?" over a plant: addresses to zones, assets to zones,
flow endpoints to zones. Built once per plant and indexed for large plants."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass

from zonewarden.model.diagnostics import did_you_mean
from zonewarden.model.plant import Asset, Plant, Zone

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressIndex:
    """Longest-prefix lookup of zone subnets: O(number of distinct prefix lengths) per address."""

    def __init__(self, plant: Plant) -> None:
        self.networks: list[tuple[IPNetwork, str, int]] = [
            (net, z.id, i) for z in plant.zones for i, net in enumerate(z.subnets)
        ]
        # (version, prefixlen) -> {network number >> host bits: zone id}
        self._by_prefix: dict[tuple[int, int], dict[int, str]] = defaultdict(dict)
        for net, zone_id, _ in self.networks:
            shift = net.max_prefixlen - net.prefixlen
            self._by_prefix[(net.version, net.prefixlen)].setdefault(int(net.network_address) >> shift, zone_id)
        self._order = sorted(self._by_prefix, key=lambda k: -k[1])

    def zone_for(self, address: IPAddress) -> str | None:
        """The zone whose most specific subnet holds ``address``, or None."""
        value = int(address)
        for version, prefixlen in self._order:
            if version != address.version:
                continue
            hit = self._by_prefix[(version, prefixlen)].get(value >> (address.max_prefixlen - prefixlen))
            if hit is not None:
                return hit
        return None

    def zones_touching(self, net: IPNetwork) -> set[str]:
        """Zones with a subnet inside ``net`` or containing it."""
        return {
            zid
            for n, zid, _ in self.networks
            if n.version == net.version and (net.subnet_of(n) or n.subnet_of(net))  # type: ignore[arg-type]
        }


@dataclass(frozen=True)
class Endpoint:
    """A resolved flow endpoint. ``zones`` is None for 'any'."""

    kind: str  # any, zone, asset, subnet, unknown
    zones: frozenset[str] | None
    error: str | None = None


class Resolver:
    """Zone membership of assets and resolution of flow endpoints for one plant."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self.zones: dict[str, tuple[int, Zone]] = {}
        self.assets: dict[str, tuple[int, Asset]] = {}
        for i, z in enumerate(plant.zones):
            self.zones.setdefault(z.id, (i, z))
        for i, a in enumerate(plant.assets):
            self.assets.setdefault(a.id, (i, a))
        self.addresses = AddressIndex(plant)
        self.zone_of: dict[str, str] = {}
        self.how: dict[str, str] = {}  # asset id -> declared | listed | subnet
        listed: dict[str, str] = {}
        for zone in plant.zones:
            for asset_id in zone.assets:
                listed.setdefault(asset_id, zone.id)
        for asset in plant.assets:
            if asset.zone:
                self.zone_of[asset.id], self.how[asset.id] = asset.zone, "declared"
            elif asset.id in listed:
                self.zone_of[asset.id], self.how[asset.id] = listed[asset.id], "listed"
            else:
                for address in asset.ip:
                    found = self.addresses.zone_for(address)
                    if found:
                        self.zone_of[asset.id], self.how[asset.id] = found, "subnet"
                        break

    def members(self) -> dict[str, list[str]]:
        """Zone id -> asset ids in it."""
        out: dict[str, list[str]] = defaultdict(list)
        for asset_id, zone_id in self.zone_of.items():
            out[zone_id].append(asset_id)
        return out

    def endpoint(self, ref: str) -> Endpoint:
        """Resolve 'any', an asset id, a zone id (or ``zone:``/``asset:`` prefixed), a subnet or an address."""
        if ref.lower() == "any":
            return Endpoint("any", None)
        text = ref
        lowered = ref.lower()
        if lowered.startswith("zone:"):
            text = ref[5:]
            if text in self.zones:
                return Endpoint("zone", frozenset({text}))
            return Endpoint("zone", frozenset(), f"zone '{text}' is not defined" + did_you_mean(text, self.zones))
        if lowered.startswith("asset:"):
            text = ref[6:]
        if text in self.assets:
            zone = self.zone_of.get(text)
            return Endpoint("asset", frozenset({zone}) if zone else frozenset())
        if ref == text and text in self.zones:
            return Endpoint("zone", frozenset({text}))
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            choices = list(self.assets) + list(self.zones)
            message = f"'{ref}' is neither an asset, a zone, a subnet nor 'any'" + did_you_mean(text, choices)
            return Endpoint("unknown", frozenset(), message)
        return Endpoint("subnet", frozenset(self.addresses.zones_touching(net)))

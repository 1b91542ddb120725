"""MAC address vendors from the IEEE registry shipped offline with ``netaddr``."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=65536)
def mac_vendor(mac: str | None) -> str | None:
    """The organisation registered for the MAC's OUI, or None (unknown, locally administered, bad)."""
    if not mac:
        return None
    try:
        first = int(mac.replace("-", ":").split(":")[0], 16)
    except ValueError:
        return None
    if first & 0x02:  # locally administered: no registry entry means anything
        return None
    try:
        import netaddr

        org = netaddr.EUI(mac).oui.registration().org
    except Exception:  # netaddr raises NotRegisteredError, AddrFormatError, ...
        return None
    return str(org).strip().rstrip(",").strip() or None
